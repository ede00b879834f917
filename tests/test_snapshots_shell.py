"""SVG snapshots of the home and request screens at 80x24 and 120x36."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model import RequestStatus
from tests.tui_helpers import app_for, services_with_sample, settled_press

SIZES = [(80, 24), (120, 36)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_home(snap_compare, db_path: Path, frozen_clock, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    services, env = services_with_sample(db_path)
    services.repo.set_request_status(env, RequestStatus.SENT)
    assert snap_compare(app_for(services), run_before=settled_press(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_request(snap_compare, db_path: Path, frozen_clock, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    services, _ = services_with_sample(db_path)
    assert snap_compare(app_for(services), run_before=settled_press("f3"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x36"])
def test_home_of_the_demo_with_first_run_tips(  # type: ignore[no-untyped-def]
    snap_compare,
    tmp_path: Path,
    frozen_clock,
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    from core.demo import build_demo
    from tui.app import AudienceApp
    from tui.commands.demo import install_demo
    from usecases.services import Services

    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    workspace = build_demo(tmp_path / "demo")
    services = Services(db_path=workspace.db_path, env_name="demo")
    install_demo(services, workspace)
    try:
        assert snap_compare(AudienceApp(services), run_before=settled_press(), terminal_size=size)
    finally:
        services.close()
