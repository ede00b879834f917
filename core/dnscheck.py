"""Is the Campaign tracking server a subdomain delegated to Adobe, under the website's domain?

docs/adobe.md ("Tracking server and website"): the tracking server must be a
subdomain delegated to Adobe, by an NS delegation or a CNAME record, and a
subdomain of the website's registrable domain. ``check_tracking`` asks DNS for
the CNAME and the NS records *at* the tracking host and compares registrable
domains.

Limitation, on purpose: the registrable domain is computed with a small
built-in list of multi-label public suffixes (``co.uk``, ``com.au``, ``co.jp``,
...), not the full Public Suffix List (which would need a download or a
dependency). For a suffix outside that list (e.g. ``k12.ca.us``) the domain is
taken as the last two labels, which can call two unrelated sites "the same
domain"; the detail always shows both domains so an admin can judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

__all__ = [
    "MULTI_LABEL_SUFFIXES",
    "RESERVED_NAMES",
    "DnsSettings",
    "TrackingVerdict",
    "check_tracking",
    "lookup",
    "registrable_domain",
    "reserved_name",
    "website_host",
]

#: Names reserved for documentation, tests and local use (RFC 2606, RFC 6761): no
#: registry delegates them and no public resolver answers for them.
RESERVED_NAMES: tuple[str, ...] = ("example", "test", "invalid", "localhost")

#: Common public suffixes made of two labels; a deliberately small list (see the module doc).
MULTI_LABEL_SUFFIXES: frozenset[str] = frozenset(
    {
        "co.uk",
        "org.uk",
        "ac.uk",
        "gov.uk",
        "ltd.uk",
        "plc.uk",
        "me.uk",
        "net.uk",
        "com.au",
        "net.au",
        "org.au",
        "edu.au",
        "gov.au",
        "co.jp",
        "ne.jp",
        "or.jp",
        "ac.jp",
        "go.jp",
        "co.nz",
        "org.nz",
        "net.nz",
        "co.za",
        "org.za",
        "co.in",
        "net.in",
        "org.in",
        "firm.in",
        "co.kr",
        "or.kr",
        "co.il",
        "org.il",
        "co.id",
        "or.id",
        "com.br",
        "net.br",
        "org.br",
        "com.cn",
        "net.cn",
        "org.cn",
        "com.hk",
        "com.sg",
        "com.tw",
        "com.my",
        "com.mx",
        "com.ar",
        "com.tr",
        "com.co",
        "com.pe",
        "com.ph",
        "com.vn",
        "com.ua",
        "com.pl",
        "com.es",
        "co.th",
        "in.th",
    }
)

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class DnsSettings:
    """Which resolver to ask: ``nameservers`` empty means the system's (/etc/resolv.conf)."""

    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout: float = 3.0

    def describe(self) -> str:
        """The resolver for display, e.g. ``127.0.0.1:5353`` or ``system resolver``."""
        if not self.nameservers:
            return "system resolver"
        suffix = f":{self.port}" if self.port != 53 else ""
        return ", ".join(f"{ns}{suffix}" for ns in self.nameservers)


@dataclass(frozen=True)
class Lookup:
    """What DNS said about one name: its CNAME target and NS names, or that it does not exist."""

    name: str
    cname: str = ""
    ns: tuple[str, ...] = ()
    nxdomain: bool = False
    error: str = ""


@dataclass(frozen=True)
class TrackingVerdict:
    """The tracking-server check's outcome: status, evidence and fix."""

    status: Status
    detail: str
    fix: str = ""
    lookup: Lookup | None = field(default=None, compare=False)


def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` ("eTLD+1") using the built-in suffix list.

    ``t.news.example.co.uk`` -> ``example.co.uk``; ``www.example.com`` -> ``example.com``.
    """
    labels = [label for label in host.strip().lower().rstrip(".").split(".") if label]
    if len(labels) <= 2:
        return ".".join(labels)
    if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def reserved_name(host: str) -> str:
    """The reserved name ``host`` is or ends in (``.example``, ``.test``, ``.invalid``,
    ``localhost``), written as shown to people, or ``''`` for an ordinary host."""
    labels = [label for label in host.strip().lower().rstrip(".").split(".") if label]
    if labels and labels[-1] in RESERVED_NAMES:
        return "localhost" if labels[-1] == "localhost" else f".{labels[-1]}"
    return ""


def website_host(website: str) -> str:
    """The host name of a website setting, with or without a scheme ('' when none)."""
    text = website.strip()
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text
    return (urlsplit(text).hostname or "").lower()


def _resolver(settings: DnsSettings) -> dns.resolver.Resolver:
    if settings.nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(settings.nameservers)
        resolver.port = settings.port
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = settings.timeout
    resolver.lifetime = settings.timeout
    return resolver


def lookup(host: str, settings: DnsSettings) -> Lookup:
    """Asks for the CNAME, then the NS records, at ``host``; never raises for a DNS answer.

    ``error`` is set when the resolver could not answer (timeout, refused, ...).
    """
    resolver = _resolver(settings)
    name = dns.name.from_text(host)
    cname = ""
    ns: tuple[str, ...] = ()
    for rdtype in (dns.rdatatype.CNAME, dns.rdatatype.NS):
        try:
            answer = resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return Lookup(host, nxdomain=True)
        except dns.resolver.NoNameservers as exc:
            return Lookup(host, error=f"no name server answered ({_short(exc)})")
        except dns.exception.Timeout:
            return Lookup(host, error=f"no DNS answer within {settings.timeout:g} s")
        except dns.exception.DNSException as exc:
            return Lookup(host, error=_short(exc))
        rrset = answer.rrset
        if rrset is None:
            continue
        targets = [r.target.to_text().rstrip(".") for r in rrset if hasattr(r, "target")]
        if rdtype == dns.rdatatype.CNAME and targets:
            cname = targets[0]
            break  # a CNAME owns the name: no other record can sit beside it
        if rdtype == dns.rdatatype.NS:
            ns = tuple(sorted(targets))
    return Lookup(host, cname=cname, ns=ns)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def check_tracking(server: str, website: str, settings: DnsSettings) -> TrackingVerdict:
    """Checks that ``server`` is delegated (CNAME or NS) and under ``website``'s domain."""
    server = server.strip().rstrip(".").lower()
    found = lookup(server, settings)
    where = f"asked {settings.describe()}"
    if found.error:
        return TrackingVerdict(
            "fail",
            f"{server}: DNS could not answer: {found.error} ({where})",
            "check the network or the resolver (--nameserver), then run the check again",
            found,
        )
    if found.nxdomain:
        return TrackingVerdict(
            "fail",
            f"{server} does not exist in DNS (NXDOMAIN; {where})",
            "create the delegation Adobe asked for: NS records (or a CNAME) for this "
            "subdomain in your DNS zone",
            found,
        )
    if found.cname:
        delegation = f"{server} is a CNAME to {found.cname}"
    elif found.ns:
        delegation = f"{server} is delegated by NS to {', '.join(found.ns)}"
    else:
        return TrackingVerdict(
            "fail",
            f"{server} has neither a CNAME nor an NS delegation ({where})",
            "the tracking server must be a subdomain delegated to Adobe: add the NS "
            "records (or the CNAME) from Adobe's subdomain delegation instructions",
            found,
        )
    host = website_host(website)
    if not host:
        return TrackingVerdict(
            "warn",
            f"{delegation}; no website configured to compare domains with",
            "set [tracking] website (the site where the Visitor ID service runs)",
            found,
        )
    ours, theirs = registrable_domain(server), registrable_domain(host)
    if ours != theirs:
        return TrackingVerdict(
            "fail",
            f"{delegation}, but its domain {ours} is not the website's {theirs} ({host})",
            f"use a tracking subdomain of {theirs} (e.g. t.{theirs}); cookies set by another "
            "domain do not reach the website, so visitor IDs cannot be reconciled",
            found,
        )
    return TrackingVerdict(
        "pass", f"{delegation}; same domain as the website ({theirs})", "", found
    )
