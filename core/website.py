"""Is the Visitor ID service on the website, with this environment's IMS Org ID?

docs/adobe.md ("Tracking server and website"): VisitorAPI.js is configured with
``Visitor.getInstance("<ORG>@AdobeOrg", ...)``, the Web SDK with
``alloy("configure", {orgId: "<ORG>@AdobeOrg", ...})``; declared IDs reach the
integration through ``visitor.setCustomerIDs({"AdobeCampaignID": ...})``.

The check reads the page's HTML as served (a live fetch bounded by a timeout
and a size cap, or a saved file). Limitation: code injected later by a tag
manager (Adobe Launch/Tags, ``assets.adobedtm.com``) is not in the HTML; such
pages get a warning that says so instead of a failure.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Literal

from core.errors import ConnectionFailure, InputError

__all__ = [
    "MAX_PAGE_BYTES",
    "Page",
    "PageFindings",
    "WebsiteVerdict",
    "fetch_page",
    "inspect_page",
    "judge",
    "judge_page",
    "read_page_file",
]

MAX_PAGE_BYTES = 2 * 1024 * 1024
USER_AGENT = "audiencectl-doctor/1 (Visitor ID service check)"

_ORG = r"([A-Za-z0-9]{24}@AdobeOrg)"
_VISITOR = re.compile(r"Visitor\s*\.\s*getInstance\s*\(\s*[\"']" + _ORG + r"[\"']")
_ALLOY = re.compile(
    r"alloy\s*\(\s*[\"']configure[\"']\s*,\s*\{[\s\S]{0,4000}?[\"']?orgId[\"']?\s*:\s*[\"']"
    + _ORG
    + r"[\"']"
)
_CUSTOMER_IDS = re.compile(
    r"setCustomerIDs\s*\(\s*\{[\s\S]{0,2000}?[\"']?AdobeCampaignID[\"']?\s*:"
)
_IDENTITY_MAP = re.compile(r"identityMap[\s\S]{0,2000}?[\"']?AdobeCampaignID[\"']?\s*:")
_TAG_MANAGER = re.compile(r"assets\.adobedtm\.com|launch-[0-9a-f]{6,}[^\"']*\.js", re.I)

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True)
class PageFindings:
    """What the page holds: org IDs by library, the declared-ID code, a tag manager."""

    visitor_orgs: tuple[str, ...]
    alloy_orgs: tuple[str, ...]
    campaign_declared_id: bool
    tag_manager: bool

    @property
    def orgs(self) -> tuple[str, ...]:
        seen: list[str] = []
        for org in (*self.visitor_orgs, *self.alloy_orgs):
            if org not in seen:
                seen.append(org)
        return tuple(seen)


@dataclass(frozen=True)
class Page:
    """A page's text; ``cut`` when it was longer than the cap and only its first
    ``MAX_PAGE_BYTES`` (docs/reference.md §8) were read."""

    text: str
    cut: bool = False


def _mib(size: int) -> str:
    return f"{size / 1024**2:g} MiB" if size >= 1024**2 else f"{size:,} bytes"


@dataclass(frozen=True)
class WebsiteVerdict:
    status: Status
    detail: str
    fix: str = ""


def _unique(matches: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(matches))


def inspect_page(html: str) -> PageFindings:
    """Finds the Visitor ID service's configuration in a page's HTML/JS."""
    return PageFindings(
        visitor_orgs=_unique(_VISITOR.findall(html)),
        alloy_orgs=_unique(_ALLOY.findall(html)),
        campaign_declared_id=bool(_CUSTOMER_IDS.search(html) or _IDENTITY_MAP.search(html)),
        tag_manager=bool(_TAG_MANAGER.search(html)),
    )


def judge(
    findings: PageFindings, org_id: str, needs_declared_id: bool, source: str
) -> WebsiteVerdict:
    """The verdict for this environment's IMS Org ID (``needs_declared_id``: a declared-ID
    data source exists, so ``AdobeCampaignID`` must be sent)."""
    libraries = []
    if findings.visitor_orgs:
        orgs = ", ".join(findings.visitor_orgs)
        libraries.append(f"VisitorAPI.js Visitor.getInstance({orgs})")
    if findings.alloy_orgs:
        orgs = ", ".join(findings.alloy_orgs)
        libraries.append(f'Web SDK alloy("configure", orgId {orgs})')
    if not libraries:
        if findings.tag_manager:
            return WebsiteVerdict(
                "warn",
                f"{source}: no Visitor.getInstance or alloy configure in the HTML, but the page "
                "loads Adobe Tags (assets.adobedtm.com), which may set the service up later",
                "check in the browser: the AMCV_<ORG>@AdobeOrg (or kndctr_...) cookie must appear; "
                "or save the rendered page and set tracking.website_file",
            )
        return WebsiteVerdict(
            "fail",
            f"{source}: no Visitor ID service found (neither Visitor.getInstance nor "
            'alloy("configure"))',
            "deploy the Experience Cloud ID service (VisitorAPI.js or the Web SDK) on the site "
            f"with orgId {org_id or '<your IMS Org ID>'}",
        )
    found = "; ".join(libraries)
    if not org_id:
        return WebsiteVerdict(
            "warn",
            f"{source}: {found}; this environment has no IMS Org ID to compare with",
            "fill the IMS Org ID in the provisioning request (F3)",
        )
    if org_id not in findings.orgs:
        others = ", ".join(findings.orgs)
        return WebsiteVerdict(
            "fail",
            f"{source}: the page uses org {others}, not this environment's {org_id}",
            f"configure the Visitor ID service with {org_id}, or check that this is the "
            "right environment (a Stage org on a Production site is a classic)",
        )
    if needs_declared_id and not findings.campaign_declared_id:
        return WebsiteVerdict(
            "warn",
            f"{source}: {found}, but no setCustomerIDs with AdobeCampaignID",
            'send the declared ID: visitor.setCustomerIDs({"AdobeCampaignID": {id: ..., '
            "authState: Visitor.AuthState.AUTHENTICATED}}) (a tag manager may do it later)",
        )
    tail = " and AdobeCampaignID in setCustomerIDs" if findings.campaign_declared_id else ""
    return WebsiteVerdict("pass", f"{source}: {found}{tail}")


def judge_page(
    page: Page,
    org_id: str,
    needs_declared_id: bool,
    source: str,
    max_bytes: int = MAX_PAGE_BYTES,
) -> WebsiteVerdict:
    """``judge`` on a page, saying so when the page was cut at ``max_bytes``: what is
    missing from a cut page may lie beyond the cut, so "not found" is a warning then."""
    verdict = judge(inspect_page(page.text), org_id, needs_declared_id, source)
    if not page.cut:
        return verdict
    status: Status = (
        "warn" if verdict.status == "fail" and "no Visitor" in verdict.detail else verdict.status
    )
    return WebsiteVerdict(
        status,
        f"{verdict.detail} (the page is larger than {_mib(max_bytes)}: only its first "
        f"{_mib(max_bytes)} were read)",
        verdict.fix
        or "the code may be further down: move the Visitor ID service into the page's <head>",
    )


def _charset(headers: Message) -> str:
    return headers.get_content_charset() or "utf-8"


def fetch_page(url: str, timeout: float = 10.0, max_bytes: int = MAX_PAGE_BYTES) -> Page:
    """The page at ``url`` (http/https), at most ``max_bytes`` of it (``cut`` when it is
    longer), decoded leniently.

    Raises ``InputError`` for a URL that is not http(s), ``ConnectionFailure``
    when the page cannot be fetched (with the status or the network error).
    """
    target = url.strip()
    if "://" not in target:
        target = "https://" + target
    if not target.lower().startswith(("http://", "https://")):
        raise InputError(f"{url!r} is not an http(s) URL", "e.g. https://www.example.com")
    request = urllib.request.Request(target, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(max_bytes + 1)
            charset = _charset(response.headers)
    except urllib.error.HTTPError as exc:
        raise ConnectionFailure(
            f"{target} answered HTTP {exc.code} {exc.reason}", "check the website URL"
        ) from None
    except urllib.error.URLError as exc:
        raise ConnectionFailure(
            f"cannot fetch {target}: {exc.reason}", "check the URL and the network"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise ConnectionFailure(
            f"cannot fetch {target}: {exc or type(exc).__name__}", "check the URL and the network"
        ) from None
    cut = len(data) > max_bytes
    try:
        return Page(data[:max_bytes].decode(charset, "replace"), cut)
    except LookupError:
        return Page(data[:max_bytes].decode("utf-8", "replace"), cut)


def read_page_file(path: str, max_bytes: int = MAX_PAGE_BYTES) -> Page:
    """A saved page (``tracking.website_file``), at most ``max_bytes`` (``cut`` when the
    file is longer).

    Raises ``InputError`` when the file cannot be read.
    """
    file = Path(path).expanduser()
    try:
        with file.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read the saved page {file}: {exc.strerror or exc}",
            "check tracking.website_file",
        ) from None
    return Page(data[:max_bytes].decode("utf-8", "replace"), len(data) > max_bytes)
