"""The checklist's order: sections, every check's spec, and the run over them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.checks.accounts import (
    check_direction,
    configured_check,
    folder_access_check,
    reachable_check,
)
from core.checks.base import (
    CheckContext,
    CheckResult,
    CheckRun,
    CheckSpec,
    known_secrets,
    printable_result,
    run_one,
    scrub,
)
from core.checks.data import check_unreconciled, check_workflow
from core.checks.datasources import (
    check_channel,
    check_datasource_configured,
    check_encryption,
    check_priority,
    check_reconciliation_key,
    check_website_sample,
)
from core.checks.manual import MANUAL_CHECKS, manual_check
from core.checks.request import check_request
from core.checks.web import check_tracking_cname, check_visitor_id
from core.model import Role

# ------------------------------------------------------------------------ registry

#: The checklist's sections, in the order of Adobe's setup page (docs/adobe.md).
SECTIONS: tuple[str, ...] = (
    "Provisioning request",
    "External accounts",
    "Shared data sources",
    "Import workflow",
    "Data",
    "Tracking server",
    "Website",
)


def _manual(check_id: str) -> CheckSpec:
    m = next(m for m in MANUAL_CHECKS if m.id == check_id)
    return CheckSpec(m.id, m.title, m.section, m.screen, manual_check(m), manual=True)


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "request.complete",
        "Provisioning request filled and sent",
        SECTIONS[0],
        "request",
        check_request,
    ),
    CheckSpec(
        "account.import.configured",
        "Import account configured",
        SECTIONS[1],
        "accounts",
        configured_check(Role.IMPORT),
    ),
    CheckSpec(
        "account.import.reachable",
        "Import account reachable",
        SECTIONS[1],
        "accounts",
        reachable_check(Role.IMPORT),
    ),
    CheckSpec(
        "account.import.readable",
        "Import folder readable",
        SECTIONS[1],
        "accounts",
        folder_access_check(Role.IMPORT),
    ),
    CheckSpec(
        "account.export.configured",
        "Export account configured",
        SECTIONS[1],
        "accounts",
        configured_check(Role.EXPORT),
    ),
    CheckSpec(
        "account.export.reachable",
        "Export account reachable",
        SECTIONS[1],
        "accounts",
        reachable_check(Role.EXPORT),
    ),
    CheckSpec(
        "account.export.writable",
        "Export folder writable",
        SECTIONS[1],
        "accounts",
        folder_access_check(Role.EXPORT),
    ),
    CheckSpec(
        "account.direction",
        "Accounts pointed the right way",
        SECTIONS[1],
        "accounts",
        check_direction,
    ),
    CheckSpec(
        "datasource.configured",
        "Data sources: alias, DPID, destination",
        SECTIONS[2],
        "datasources",
        check_datasource_configured,
    ),
    CheckSpec(
        "datasource.priority",
        "One ID type per alias, distinct priorities",
        SECTIONS[2],
        "datasources",
        check_priority,
    ),
    CheckSpec(
        "datasource.reconciliation_key",
        "Reconciliation key filled in profiles",
        SECTIONS[2],
        "datasources",
        check_reconciliation_key,
    ),
    CheckSpec(
        "datasource.encryption",
        "AES key and IV valid",
        SECTIONS[2],
        "datasources",
        check_encryption,
    ),
    CheckSpec(
        "datasource.channel",
        "Channel fits the reconciliation key",
        SECTIONS[2],
        "datasources",
        check_channel,
    ),
    CheckSpec(
        "datasource.website_sample",
        "Website sample matches",
        SECTIONS[2],
        "datasources",
        check_website_sample,
    ),
    _manual("campaign.permissions"),
    _manual("campaign.default_datasource"),
    _manual("aam.declared_id_datasource"),
    _manual("aam.merge_rule"),
    _manual("campaign.workflow_started"),
    CheckSpec(
        "workflow.import",
        "audiencectl's import workflow running",
        SECTIONS[3],
        "audiences",
        check_workflow,
    ),
    CheckSpec(
        "data.unreconciled", "Last import reconciled", SECTIONS[4], "audiences", check_unreconciled
    ),
    CheckSpec(
        "tracking.cname",
        "Tracking server delegated (CNAME/NS)",
        SECTIONS[5],
        "checklist",
        check_tracking_cname,
    ),
    CheckSpec(
        "website.visitor_id",
        "Visitor ID service on the website",
        SECTIONS[6],
        "checklist",
        check_visitor_id,
    ),
)

CHECK_IDS: tuple[str, ...] = tuple(spec.id for spec in CHECKS)
#: The manual checks' IDs (a person confirms them), in the checklist's order.
MANUAL_CHECK_IDS: tuple[str, ...] = tuple(spec.id for spec in CHECKS if spec.manual)
_BY_ID = {spec.id: spec for spec in CHECKS}


def spec_for(check_id: str) -> CheckSpec:
    """The check's spec (title, section, screen); ``KeyError`` for an unknown ID."""
    return _BY_ID[check_id]


def run_checks(
    ctx: CheckContext,
    only: Iterable[str] | None = None,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[CheckResult]:
    """Runs the checks (all, or those in ``only``) in the checklist's order.

    ``on_result`` is called after each check; ``cancelled`` is asked before each
    one (and inside probes): once it says True the run stops and returns what
    it has. Every result is scrubbed of the environment's secret values.
    """
    wanted = set(only) if only is not None else None
    if wanted is not None:
        unknown = wanted - set(CHECK_IDS)
        if unknown:
            raise ValueError(f"unknown check IDs: {', '.join(sorted(unknown))}")
    run = CheckRun(ctx, cancelled)
    secrets = known_secrets(ctx)
    results: list[CheckResult] = []
    for spec in CHECKS:
        if wanted is not None and spec.id not in wanted:
            continue
        if cancelled is not None and cancelled():
            break
        result = printable_result(scrub(run_one(spec, run), secrets))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
