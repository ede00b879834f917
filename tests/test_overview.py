"""The home screen's setup steps, as `storage.overview` computes them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.demo import SLIP_FIXED_PRIORITY, SLIP_LABEL, demo_environment
from storage.overview import datasources_step


def test_shared_alias_and_priority_is_a_warning_naming_both(tmp_path: Path) -> None:
    env = demo_environment(tmp_path)  # ships with the CRM source's copied alias/priority
    step = datasources_step(env)
    assert step.state == "warn"
    assert SLIP_LABEL in step.summary and "priority 10" in step.summary


def test_distinct_priorities_are_done(tmp_path: Path) -> None:
    env = demo_environment(tmp_path)
    fixed = tuple(
        replace(ds, priority=SLIP_FIXED_PRIORITY) if ds.label == SLIP_LABEL else ds
        for ds in env.datasources
    )
    step = datasources_step(replace(env, datasources=fixed))
    assert step.state == "done"
    assert step.summary.startswith(f"{len(fixed)}: ")


def test_same_priority_under_different_aliases_is_fine(tmp_path: Path) -> None:
    env = demo_environment(tmp_path)
    moved = tuple(
        replace(ds, alias="Another alias") if ds.label == SLIP_LABEL else ds
        for ds in env.datasources
    )
    assert replace(env, datasources=moved).priority_clashes() == []


def _demo_store(run_cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    from usecases.services import Services

    folder = tmp_path / "demo"
    assert run_cli("demo", "--dir", str(folder), "--no-tui").code == 0
    return Services(db_path=folder / "audiencectl.db")


def test_a_cancelled_last_run_is_not_done(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 19.4: an interrupted import run showed "0% matched" with a ✓."""
    from core import clock
    from storage.audiences import SqliteWorkflowStore
    from storage.overview import audiences_step

    services = _demo_store(run_cli, tmp_path)
    env = services.env()
    before = audiences_step(services.store, env)
    assert "matched" in before.summary and before.state != "fail"
    runs = SqliteWorkflowStore(services.store)
    run_id = runs.start_run(env.name, clock.now())
    runs.finish_run(env.name, run_id, clock.now(), "cancelled", "interrupted")
    step = audiences_step(services.store, env)
    assert step.state == "warn"
    assert "cancelled" in step.summary and "matched" not in step.summary
    assert "F8" in step.hint
    failed = runs.start_run(env.name, clock.now())
    runs.finish_run(env.name, failed, clock.now(), "failed", "disk full")
    assert audiences_step(services.store, env).state == "fail"
    services.close()


def test_the_hint_names_what_the_finding_asks_for(tmp_path: Path) -> None:
    """Issue 19.5: a shared alias and priority is fixed by a priority, not by entering
    the alias and destination ID."""
    env = demo_environment(tmp_path)
    step = datasources_step(env)
    assert "priority" in step.hint and SLIP_LABEL in step.hint
    assert "destination ID" not in step.hint
