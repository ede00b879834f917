"""Manual checks: steps in Campaign or AAM that no API here can see (docs/reference.md §6).

Each one says where to look and what to confirm. It is ``skip`` until a person
confirms it (``audiencectl checklist confirm ID``, or ``c`` on the checklist), then
``pass`` with who, when and the note. A confirmation keeps a fingerprint of the
configuration it concerns (e.g. the declared-ID data sources' DPIDs for the merge
rule); once that configuration changes, the confirmation lapses and the check is
``skip`` again, saying so. The Adobe pages behind each step are in docs/adobe.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import clock
from core.checks.base import CheckFn, CheckRun, Confirmation, FixScreen, Verdict
from core.model import DataSource, Environment, IdType

__all__ = [
    "MANUAL_CHECKS",
    "MANUAL_IDS",
    "Confirmation",
    "ManualCheck",
    "fingerprint",
    "manual_check",
    "manual_spec",
]


@dataclass(frozen=True)
class ManualCheck:
    """A manual step: ``where`` to look, ``what`` to confirm, and ``concerns`` (the part of
    the configuration a confirmation depends on; no secret may be in it)."""

    id: str
    title: str
    section: str
    screen: FixScreen
    where: Callable[[Environment], str]
    what: str
    concerns: Callable[[Environment], Any]
    applies: Callable[[Environment], str] = lambda env: ""  # a reason to skip, or ""


def _declared(env: Environment) -> list[DataSource]:
    return [ds for ds in env.datasources if ds.id_type is IdType.DECLARED]


def _visitor(env: Environment) -> list[DataSource]:
    return [ds for ds in env.datasources if ds.id_type is IdType.VISITOR]


def _ids(values: list[int | None]) -> str:
    shown = [str(v) for v in values if v is not None]
    return ", ".join(dict.fromkeys(shown)) or "(not set)"


def _sources(sources: list[DataSource]) -> list[dict[str, Any]]:
    return [
        {"label": ds.label, "alias": ds.alias, "dpid": ds.dpid, "destination": ds.destination_id}
        for ds in sources
    ]


def _no_declared(env: Environment) -> str:
    return "" if _declared(env) else "no declared-ID data source: nothing to confirm"


def fingerprint(concerned: Any) -> str:
    """A short stable digest of the configuration a confirmation concerns."""
    text = json.dumps(concerned, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


MANUAL_CHECKS: tuple[ManualCheck, ...] = (
    ManualCheck(
        "campaign.permissions",
        "Users and rights for shared audiences (manual)",
        "Shared data sources",
        "request",
        lambda env: (
            "Campaign: operators sign in with their Adobe ID (IMS) in the organization "
            f"{env.request.ims_org_id or '(IMS Org ID not set)'}; in Campaign Classic the "
            "operator needs the right to the Audience library. AAM: the user who creates the "
            "data sources and the Campaign destination needs AAM's administrator role"
        ),
        "the people who share audiences have the IMS login and the rights",
        lambda env: {"org": env.request.ims_org_id, "service": env.request.service},
    ),
    ManualCheck(
        "campaign.default_datasource",
        "defaultDataSource left unchanged (manual)",
        "Shared data sources",
        "datasources",
        lambda env: (
            "Campaign: the Shared Data Sources list (Campaign Standard: Administration > "
            "Application settings > Shared Data Sources; Campaign Classic: the AMC Data "
            "sources list). The default one, ID defaultDataSource (Recipient - Visitor ID), "
            "is Campaign's visitor-ID data source: its settings stay as Adobe left them"
        ),
        "defaultDataSource is still there and unchanged; new data sources were added beside it",
        lambda env: _sources(_visitor(env)),
    ),
    ManualCheck(
        "aam.declared_id_datasource",
        "Declared-ID data source mapped in AAM (manual)",
        "Shared data sources",
        "datasources",
        lambda env: (
            "AAM: Audience Data > Data Sources: the data source with DPID "
            f"{_ids([ds.dpid for ds in _declared(env)])} is the one Adobe provisioned for "
            "Campaign's declared IDs (a cross-device data source), and Campaign's declared-ID "
            "data source names its alias"
        ),
        "Campaign's declared-ID data source maps to AAM's declared-ID data source (same alias "
        "and DPID)",
        lambda env: _sources(_declared(env)),
        _no_declared,
    ),
    ManualCheck(
        "aam.merge_rule",
        "Merge rule includes the Campaign data source (manual)",
        "Shared data sources",
        "datasources",
        lambda env: (
            "AAM: Audience Data > Profile Merge Rules, and each segment mapped to the Campaign "
            f"destination (ID {_ids([ds.destination_id for ds in _declared(env)])}): the "
            "segment's merge rule must include the Campaign declared-ID data source (DPID "
            f"{_ids([ds.dpid for ds in _declared(env)])}), e.g. Last Authenticated Profile "
            "with that data source. Without it the segment's population for Campaign is zero"
        ),
        "the segments sent to Campaign use a merge rule that includes the Campaign declared-ID "
        "data source",
        lambda env: [{"dpid": ds.dpid, "destination": ds.destination_id} for ds in _declared(env)],
        _no_declared,
    ),
    ManualCheck(
        "campaign.workflow_started",
        "Campaign's importSharedAudience workflow started (manual)",
        "Import workflow",
        "checklist",
        lambda env: (
            "Campaign: the data source's Show ImportShared Audience workflow link, or the "
            "technical workflow importSharedAudience (Campaign Classic: Administration > "
            "Production > Technical workflows; Campaign Standard: Administration > Application "
            "settings > Workflows). It must be started, with no error in its log. audiencectl "
            "cannot see it: workflow.import is audiencectl's own import workflow"
        ),
        "Campaign's importSharedAudience technical workflow is started and its log has no error",
        lambda env: {
            "import": env.import_account.endpoint,
            "aliases": sorted({ds.alias for ds in env.datasources}),
        },
    ),
)

MANUAL_IDS: tuple[str, ...] = tuple(m.id for m in MANUAL_CHECKS)
_BY_ID = {m.id: m for m in MANUAL_CHECKS}


def manual_spec(check_id: str) -> ManualCheck:
    """The manual check ``check_id``; ``KeyError`` when it is not one."""
    return _BY_ID[check_id]


def _confirm_hint(check_id: str) -> str:
    return (
        f"once you have seen it, `audiencectl checklist confirm {check_id} [--note TEXT]` "
        "(or c on the checklist)"
    )


def manual_check(manual: ManualCheck) -> CheckFn:
    """The check function of ``manual``: skip until confirmed, pass while the confirmation
    holds, skip again (saying why) once the configuration it concerned changed."""

    def check(run: CheckRun) -> Verdict:
        env = run.env
        reason = manual.applies(env)
        if reason:
            return Verdict("skip", f"manual: {reason}")
        where = manual.where(env)
        confirmed = run.ctx.facts.confirmation(manual.id)
        if confirmed is None:
            return Verdict(
                "skip",
                f"manual, not confirmed yet: {manual.what}. Where: {where}",
                _confirm_hint(manual.id),
            )
        when = clock.iso(confirmed.at)
        if confirmed.fingerprint != fingerprint(manual.concerns(env)):
            return Verdict(
                "skip",
                f"manual: confirmed by {confirmed.who} at {when}, but the configuration it "
                f"concerns has changed since, so it lapsed. Where: {where}",
                "look again, then " + _confirm_hint(manual.id),
            )
        note = f": {confirmed.note}" if confirmed.note else ""
        return Verdict("pass", f"confirmed by {confirmed.who} at {when}{note} ({manual.what})")

    return check
