"""The setup at a glance: each step of Adobe's setup page, with its real state from the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.clock import parse_iso
from core.model import Environment, RequestStatus, Role
from core.outcomes import match_rate
from storage.db import Store
from storage.repo import EnvironmentRepo

StepState = Literal["done", "warn", "fail", "todo", "skip"]


@dataclass(frozen=True)
class SetupStep:
    key: str  # the screen that handles it
    title: str
    state: StepState
    summary: str
    #: What to do about this finding (empty: the screen's general next step).
    hint: str = ""


def _last_check(store: Store, env: str, check_id: str) -> tuple[str, str] | None:
    row = store.conn.execute(
        "SELECT status, title FROM check_results WHERE env = ? AND check_id = ?", (env, check_id)
    ).fetchone()
    return (row[0], row[1]) if row else None


def _check_state(status: str) -> StepState:
    states: dict[str, StepState] = {"pass": "done", "warn": "warn", "fail": "fail", "skip": "skip"}
    return states.get(status, "todo")


def request_step(repo: EnvironmentRepo, env: Environment) -> SetupStep:
    status = repo.request_status(env.name)
    if not env.request.complete:
        missing = ", ".join(env.request.missing())
        return SetupStep("request", "Provisioning request", "todo", f"draft, missing {missing}")
    history = {st.status: st.at for st in repo.request_history(env.name)}
    when = history[status].strftime("%Y-%m-%d")
    state: StepState = "done" if status.rank >= RequestStatus.PROVISIONED.rank else "warn"
    detail = {
        RequestStatus.DRAFT: "ready to send",
        RequestStatus.SENT: "waiting for Adobe",
    }.get(status, "")
    text = f"{status.value} since {when}" + (f", {detail}" if detail else "")
    return SetupStep("request", "Provisioning request", state, text)


def accounts_step(store: Store, env: Environment) -> SetupStep:
    parts: list[str] = []
    states: list[StepState] = []
    hints: list[str] = []
    for role in Role:
        account = env.account(role)
        if not account.configured:
            parts.append(f"{role.value}: not configured")
            states.append("todo")
            continue
        row = store.conn.execute(
            "SELECT ok, at FROM probe_runs WHERE env = ? AND role = ? ORDER BY id DESC LIMIT 1",
            (env.name, role.value),
        ).fetchone()
        if row is None:
            parts.append(f"{role.value}: never probed")
            states.append("warn")
            hints.append(f"Probe the {role.value} account (F4, then F8 or F9).")
        else:
            ok, at = row
            parts.append(f"{role.value}: {'probe ok' if ok else 'probe FAILED'} {at[:16]}Z")
            states.append("done" if ok else "fail")
            if not ok:
                hints.insert(0, f"Read the {role.value} probe's failed stage and its hint (F4).")
    hint = hints[0] if hints else ""
    return SetupStep("accounts", "External accounts", _worst(states), "; ".join(parts), hint)


def datasources_step(env: Environment) -> SetupStep:
    if not env.datasources:
        return SetupStep("datasources", "Shared data sources", "todo", "none configured")
    incomplete = [ds.label for ds in env.datasources if ds.missing()]
    if incomplete:
        return SetupStep(
            "datasources",
            "Shared data sources",
            "warn",
            f"incomplete: {', '.join(incomplete)}",
            f"Complete {incomplete[0]!r}: its missing fields are marked on the form (F5).",
        )
    clashes = env.priority_clashes()
    if clashes:
        alias, priority, labels = clashes[0]
        return SetupStep(
            "datasources",
            "Shared data sources",
            "warn",
            f"{' and '.join(labels)} share alias {alias!r} and priority {priority}",
            f"Give {labels[-1]!r} a priority of its own, or its own alias (F5).",
        )
    listed = ", ".join(ds.label for ds in env.by_priority())
    count = len(env.datasources)
    return SetupStep("datasources", "Shared data sources", "done", f"{count}: {listed}")


def _check_step(
    store: Store, env: Environment, check_id: str, title: str, configured: str
) -> SetupStep:
    if not configured:
        return SetupStep("checklist", title, "todo", "not configured")
    last = _last_check(store, env.name, check_id)
    if last is None:
        return SetupStep("checklist", title, "warn", f"{configured}, not checked yet")
    status, check_title = last
    return SetupStep("checklist", title, _check_state(status), f"{configured}: {check_title}")


def audiences_step(store: Store, env: Environment) -> SetupStep:
    profiles = store.conn.execute(
        "SELECT count(*) FROM profiles WHERE env = ?", (env.name,)
    ).fetchone()[0]
    row = store.conn.execute("SELECT state FROM workflow WHERE env = ?", (env.name,)).fetchone()
    state = row[0] if row else "idle"
    run = store.conn.execute(
        "SELECT started_at, records, reconciled, duplicates, status FROM import_runs"
        " WHERE env = ? ORDER BY id DESC LIMIT 1",
        (env.name,),
    ).fetchone()
    text = f"{profiles:,} profiles; import workflow {state}"
    hint = ""
    run_state: StepState = "done"
    if run:
        started, records, reconciled, duplicates, status = run
        if status in ("ok", "nothing_new"):
            rate = match_rate(reconciled, records, duplicates)
            text += f"; last run {started[:16]}Z, {rate:.0%} matched"
        elif status == "running":
            text += f"; a run in progress since {started[:16]}Z"
        else:  # cancelled or failed: its counts are not a result
            text += f"; last run {started[:16]}Z {status}"
            run_state = "fail" if status == "failed" else "warn"
            hint = "Run a pass again: F6, the Workflow tab (Ctrl+T), then F8."
    step_state: StepState = "done" if profiles and state in ("running", "idle") else "warn"
    if state in ("failed", "stopped", "paused"):
        step_state = "fail" if state == "failed" else "warn"
    step_state = _worst([step_state, run_state])
    if not profiles:
        step_state = "todo"
    return SetupStep("audiences", "Audiences", step_state, text, hint)


def checklist_step(store: Store, env: Environment) -> SetupStep:
    rows = store.conn.execute(
        "SELECT status, count(*), max(at) FROM check_results WHERE env = ? GROUP BY status",
        (env.name,),
    ).fetchall()
    if not rows:
        return SetupStep("checklist", "Troubleshooting checklist", "todo", "never run")
    counts = {status: count for status, count, _ in rows}
    last = max(parse_iso(at) for _, _, at in rows)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("fail", "warn", "pass", "skip") if s in counts)
    state: StepState = "fail" if counts.get("fail") else ("warn" if counts.get("warn") else "done")
    return SetupStep(
        "checklist",
        "Troubleshooting checklist",
        state,
        f"{summary} ({last:%Y-%m-%d %H:%M}Z)",
    )


def _worst(states: list[StepState]) -> StepState:
    for candidate in ("fail", "todo", "warn"):
        if candidate in states:
            return candidate
    return "done"


def overview(store: Store, repo: EnvironmentRepo, env: Environment) -> list[SetupStep]:
    """The setup steps of Adobe's page in order, then audiences and the checklist's last verdict."""
    return [
        request_step(repo, env),
        accounts_step(store, env),
        datasources_step(env),
        _check_step(store, env, "tracking.cname", "Tracking server (CNAME)", env.tracking.server),
        _check_step(
            store,
            env,
            "website.visitor_id",
            "Visitor ID service",
            env.tracking.website or env.tracking.website_file,
        ),
        audiences_step(store, env),
        checklist_step(store, env),
    ]
