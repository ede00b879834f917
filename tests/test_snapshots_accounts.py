"""SVG snapshots of the accounts screen with finished probes, at 80x24 and 120x36.

The probes are real (local folders) and then made deterministic: the temporary
folder is written as a fixed path and every stage takes 0 ms; the clock is frozen.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.hostkeys import HostKeyCheck, MemoryHostKeyStore
from core.model import Account, AccountType, Environment, Role
from core.probe import Credentials, ProbeReport, probe
from storage import probes
from tests.sshd import SAMPLE_NAME
from tests.tui_helpers import settled_press
from tui.app import AudienceApp
from usecases.services import Services

SIZES = [(80, 24), (120, 36)]
IMPORT_DIR = "/data/aam/outbound"
EXPORT_DIR = "/data/aam/inbound"  # does not exist: the export probe fails at list


def _fixed(report: ProbeReport, real: str, shown: str) -> ProbeReport:
    stages = tuple(
        replace(s, ms=0, detail=s.detail.replace(real, shown), hint=s.hint.replace(real, shown))
        for s in report.stages
    )
    return replace(report, stages=stages, endpoint=report.endpoint.replace(real, shown))


def prepared(db_path: Path, tmp_path: Path) -> Services:
    folder = tmp_path / "outbound"
    folder.mkdir()
    (folder / SAMPLE_NAME).write_bytes(b"59767559181262060060278870901087098252 24,26,27\n")
    services = Services(db_path=db_path)
    env = Environment(
        "production",
        import_account=Account(Role.IMPORT, type=AccountType.LOCAL, path=IMPORT_DIR),
        export_account=Account(Role.EXPORT, type=AccountType.LOCAL, path=EXPORT_DIR),
    )
    services.repo.save(env)
    check = HostKeyCheck(MemoryHostKeyStore(), trust_new=False)
    real_import = replace(env.import_account, path=str(folder))
    imp = probe(real_import, Credentials(), check)
    exp = probe(env.export_account, Credentials(), check)
    assert imp.ok and not exp.ok
    probes.save(services.store.conn, env.name, _fixed(imp, str(folder), IMPORT_DIR))
    probes.save(services.store.conn, env.name, _fixed(exp, EXPORT_DIR, EXPORT_DIR))
    return services


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_accounts(  # type: ignore[no-untyped-def]
    snap_compare, db_path: Path, tmp_path: Path, frozen_clock, size: tuple[int, int]
) -> None:
    app = AudienceApp(prepared(db_path, tmp_path))
    assert snap_compare(app, run_before=settled_press("f4"), terminal_size=size)


def test_accounts_scrolled_to_the_probe(  # type: ignore[no-untyped-def]
    snap_compare, db_path: Path, tmp_path: Path, frozen_clock
) -> None:
    """At 80x24 the panels stack; scrolling reaches the export probe's failure and hint."""
    app = AudienceApp(prepared(db_path, tmp_path))

    async def scroll(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("f4")
        await pilot.pause()
        pilot.app.screen.query_one("#export-probe-view").scroll_visible(animate=False, top=True)
        await pilot.pause()

    assert snap_compare(app, run_before=scroll, terminal_size=(80, 24))
