"""The tracking server (DNS) and website (Visitor ID service) checks."""

from __future__ import annotations

from core.checks.base import (
    CheckRun,
    Verdict,
)
from core.dnscheck import check_tracking, reserved_name, website_host
from core.model import (
    IdType,
)
from core.website import judge_page, read_page_file


def check_tracking_cname(run: CheckRun) -> Verdict:
    tracking = run.env.tracking
    if not tracking.server:
        return Verdict(
            "fail",
            "no tracking server is configured",
            "set [tracking] server to the Campaign tracking subdomain (e.g. t.news.example.com)",
        )
    reserved = reserved_name(tracking.server)
    if reserved:
        return Verdict(
            "skip",
            f"{tracking.server} is under {reserved}, a name reserved for examples and tests "
            "(RFC 2606, RFC 6761): it cannot be delegated, so DNS was not asked",
            "enter the real tracking subdomain to check its delegation",
        )
    if run.ctx.offline:
        return Verdict(
            "skip",
            f"offline: DNS was not asked about {tracking.server}",
            "run without --offline to check the delegation",
        )
    verdict = check_tracking(tracking.server, tracking.website, run.ctx.dns)
    return Verdict(verdict.status, verdict.detail, verdict.fix)


def check_visitor_id(run: CheckRun) -> Verdict:
    tracking = run.env.tracking
    if not tracking.website and not tracking.website_file:
        return Verdict(
            "fail",
            "no website is configured",
            "set [tracking] website (or website_file, a saved page, for offline checks)",
        )
    reserved = reserved_name(website_host(tracking.website)) if tracking.website else ""
    if tracking.website and not run.ctx.offline and not reserved:
        page = run.ctx.fetch(tracking.website, run.ctx.fetch_timeout)
        source = tracking.website
    elif tracking.website_file:
        page = read_page_file(tracking.website_file)
        source = f"saved page {tracking.website_file}"
        if reserved:
            source += f" ({tracking.website} is under {reserved}, reserved: not fetched)"
    elif reserved:
        return Verdict(
            "skip",
            f"{tracking.website} is under {reserved}, a name reserved for examples and tests "
            "(RFC 2606, RFC 6761): it cannot be fetched",
            "enter the real website, or save its page and set tracking.website_file",
        )
    else:
        return Verdict(
            "skip",
            f"offline: {tracking.website} was not fetched",
            "run without --offline, or save the page and set tracking.website_file",
        )
    needs_declared = any(ds.id_type is IdType.DECLARED for ds in run.env.datasources)
    verdict = judge_page(page, run.env.request.ims_org_id, needs_declared, source)
    return Verdict(verdict.status, verdict.detail, verdict.fix)
