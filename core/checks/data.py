"""The import workflow and last-import checks."""

from __future__ import annotations

from core import clock
from core.checks.base import (
    CheckRun,
    Verdict,
)
from core.outcomes import EXPLANATIONS, FAILURES, Outcome
from core.workflow import State, expected_latency, is_overdue


def _latency_text(run: CheckRun) -> str:
    latency = expected_latency(run.env.workflow.interval_minutes, clock.now())
    return "; ".join(latency.lines())


def check_workflow(run: CheckRun) -> Verdict:
    facts = run.ctx.facts
    status = facts.workflow_status()
    last = facts.last_run()
    interval = run.env.workflow.interval_minutes
    since = clock.iso(status.changed_at)
    last_text = f"last run {clock.iso(last.started_at)} ({last.status})" if last else "never run"
    base = (
        f"audiencectl's own import workflow (not Campaign's importSharedAudience) "
        f"{status.state.value} since {since}, {last_text}"
    )
    latency = _latency_text(run)
    if status.state in (State.PAUSED, State.STOPPED, State.FAILED):
        error = f"; last error: {status.last_error}" if status.last_error else ""
        return Verdict(
            "fail",
            f"{base}{error}. Audiences are not shared while it is {status.state.value}",
            "fix the cause, then resume it: `r` on the Workflow tab of Audiences (F6), "
            "or `audiencectl import resume`",
        )
    if status.state is State.IDLE:
        return Verdict(
            "warn",
            f"{base}: it was never started. {latency}",
            "start it: `audiencectl import resume` then `audiencectl import run` (F6)",
        )
    if is_overdue(status, last, interval, clock.now()):
        return Verdict(
            "warn",
            f"{base}: no run within twice its {interval} min interval. {latency}",
            "check that the scheduler runs `audiencectl import run` (cron, systemd timer)",
        )
    return Verdict("pass", f"{base}, every {interval} min. {latency}")


def check_unreconciled(run: CheckRun) -> Verdict:
    last = run.ctx.facts.last_run()
    if last is None:
        return Verdict(
            "skip",
            "no import run yet",
            "run the import (`audiencectl import run --once`) or a dry run on an audience file",
        )
    counted = last.records - last.duplicates
    if counted <= 0:
        return Verdict(
            "skip",
            f"the last run ({clock.iso(last.started_at)}, {last.status}) counted no record",
            "wait for AAM's next delivery (daily, about 14:00 UTC)",
        )
    rate = last.match_rate
    failures = sorted(
        (
            (Outcome(k), v)
            for k, v in last.outcomes.items()
            if k in {o.value for o in FAILURES} and v > 0
        ),
        key=lambda kv: -kv[1],
    )[:3]
    head = (
        f"last run {clock.iso(last.started_at)}: {last.reconciled:,} of {counted:,} IDs "
        f"reconciled ({rate:.1%})"
    )
    if failures:
        head += "; top: " + "; ".join(
            f"{outcome.value} {count:,} ({EXPLANATIONS[outcome][0]})" for outcome, count in failures
        )
    fix = " | ".join(f"{o.value}: {EXPLANATIONS[o][1]}" for o, _ in failures)
    if rate < 0.5:
        return Verdict("fail", head, fix or "check the data source settings")
    if rate < 0.9:
        return Verdict("warn", head, fix)
    return Verdict("pass", head, fix)
