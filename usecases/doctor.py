"""The troubleshooting checklist, run headless (``audiencectl doctor``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.checks import CheckResult, run_checks, summarize
from core.dnscheck import DnsSettings
from core.doctor_report import render_report
from core.errors import InputError
from core.files import write_atomic
from storage.checks import context_for, save_results
from usecases.services import Services


def dns_settings(nameserver: str, timeout: float) -> DnsSettings:
    """The resolver the tracking check asks: ``nameserver`` (else the system's), each
    lookup bounded by ``timeout``, doctor's ``--timeout`` (docs/reference.md §8)."""
    chosen = parse_nameserver(nameserver) if nameserver else DnsSettings()
    return replace(chosen, timeout=timeout)


def parse_nameserver(text: str) -> DnsSettings:
    """``IP`` or ``IP:PORT`` (``[v6]:PORT`` for IPv6) into resolver settings."""
    value = text.strip()
    port = 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], text)
    elif value.count(":") == 1:
        host, _, raw = value.partition(":")
        port = _port(raw, text)
    else:
        host = value
    if not host:
        raise InputError(f"--nameserver {text!r} names no server", "e.g. 127.0.0.1 or 10.0.0.2:53")
    return DnsSettings(nameservers=(host,), port=port)


def _port(raw: str, text: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise InputError(f"--nameserver {text!r} has a bad port", "e.g. 127.0.0.1:5353")
    return int(raw)


@dataclass(frozen=True)
class DoctorResult:
    """The checks' results (saved in the store) and their counts per status."""

    environment: str
    offline: bool
    results: list[CheckResult]
    counts: dict[str, int]

    @property
    def failed(self) -> bool:
        return bool(self.counts["fail"])

    def to_json(self) -> dict[str, Any]:
        """The ``doctor --json`` object."""
        return {
            "environment": self.environment,
            "offline": self.offline,
            "checks": [r.to_json() for r in self.results],
            "summary": self.counts,
        }


def run_doctor(
    services: Services,
    *,
    offline: bool,
    timeout: float,
    nameserver: str = "",
    report: Path | None = None,
) -> DoctorResult:
    """Runs every check, saves the results, and writes the Markdown report to ``report``."""
    env = services.env()
    if timeout <= 0:
        raise InputError("--timeout must be positive", "e.g. --timeout 10")
    dns = dns_settings(nameserver, timeout)
    ctx = context_for(
        services.store, env, box=services.box, offline=offline, probe_timeout=timeout, dns=dns
    )
    results = run_checks(ctx)
    save_results(services.store, env.name, results)
    counts = summarize(results)
    if report is not None:
        text = render_report(
            env,
            results,
            request_status=services.repo.request_status(env.name).value,
            offline=offline,
        )
        write_atomic(report, text, what="report")
    return DoctorResult(env.name, offline, results, counts)
