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
