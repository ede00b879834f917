"""SVG snapshots of the checklist with mixed results, at 80x24 and 120x36."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.checks import CheckResult, spec_for
from storage.checks import save_results
from tests.conftest import FROZEN
from tests.tui_helpers import app_for, services_with_sample, settled_press

SIZES = [(80, 24), (120, 36)]

MIXED: list[tuple[str, str, str, str]] = [
    (
        "request.complete",
        "warn",
        "Example Corp, 5DC5123F5245B1D20A490D46@AdobeOrg; status sent: waiting for Adobe",
        "when Adobe answers, `audiencectl request status provisioned`",
    ),
    (
        "account.import.configured",
        "pass",
        "importSharedAudience: sftp://campaign@sftp.example.net",
        "",
    ),
    (
        "account.import.reachable",
        "fail",
        "hostkey failed: unknown host key for sftp.example.net: SHA256:abc (ssh-ed25519)",
        "confirm the fingerprint with Adobe, then pin it: `audiencectl probe --trust-new-host-key`",
    ),
    ("account.import.readable", "skip", "not checked: hostkey failed", "fix the connection first"),
    ("account.export.configured", "pass", "exportSharedAudience: sftp://campaign-out@...", ""),
    ("account.export.reachable", "pass", "dns, tcp, banner, hostkey, auth passed", ""),
    ("account.export.writable", "pass", "created, renamed and deleted a probe file", ""),
    ("account.direction", "pass", "distinct, pointed the right way", ""),
    ("datasource.configured", "pass", "Recipient - Email: alias Adobe Campaign, DPID 14016", ""),
    ("datasource.priority", "pass", "matched in this order: Recipient - Email (10)", ""),
    (
        "datasource.reconciliation_key",
        "warn",
        "Recipient - Email: 'email' is empty for 1,204 of 9,000 profiles",
        "1,204 profiles without 'email' will never reconcile",
    ),
    ("datasource.encryption", "pass", "AES-256-CBC key ••••••, IV 16 bytes ••••••", ""),
    ("datasource.channel", "pass", "channel email, 200 of 200 sampled values are emails", ""),
    (
        "datasource.website_sample",
        "fail",
        "the sample of 2026-11-01T10:00:00Z differs: wrong_iv",
        "only the first block differs: the website uses another IV",
    ),
    (
        "workflow.import",
        "fail",
        "Import shared audience workflow paused since 2026-11-01",
        "fix the cause, then `audiencectl import resume`",
    ),
    (
        "data.unreconciled",
        "warn",
        "last run: 7,000 of 9,000 IDs reconciled (77.8%)",
        "not_found: load current profiles",
    ),
    ("tracking.cname", "skip", "offline: DNS was not asked", "run without --offline"),
    ("website.visitor_id", "pass", "saved page: VisitorAPI.js Visitor.getInstance(...)", ""),
]


def _prepare(db_path: Path):  # type: ignore[no-untyped-def]
    services, env = services_with_sample(db_path)
    results = [
        CheckResult(i, s, spec_for(i).title, d, f, spec_for(i).screen, FROZEN)  # type: ignore[arg-type]
        for i, s, d, f in MIXED
    ]
    save_results(services.store, env.name, results)
    return services


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_checklist_mixed(snap_compare, db_path: Path, frozen_clock, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    app = app_for(_prepare(db_path))
    # F7, then down to the failing import reachability check and expand it
    keys = settled_press("f7", "down", "down", "space")
    assert snap_compare(app, run_before=keys, terminal_size=size)
