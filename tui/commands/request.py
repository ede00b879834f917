"""`audiencectl request render|status`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from core.clock import iso
from core.errors import ExitCode
from core.files import write_atomic
from core.model import RequestStatus
from core.request import render_eml, render_json, render_text
from tui.commands._common import CliState, pass_state


@click.group("request")
def request_group() -> None:
    """The provisioning request Adobe asks for."""


@request_group.command("render")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "eml", "json"]), default="text", show_default=True
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to a file.")
@click.option("--to", default="", help="Recipient address for the .eml (e.g. your Adobe contact).")
@pass_state
def request_render(state: CliState, fmt: str, out: Path | None, to: str) -> int:
    """Render the provisioning request email."""
    env = state.services.env()
    if fmt == "eml":
        data = render_eml(env, to=to, when=datetime.now(UTC))
    elif fmt == "json":
        payload = render_json(env)
        payload["status"] = state.services.repo.request_status(env.name).value
        data = (json.dumps(payload, indent=2) + "\n").encode()
    else:
        data = render_text(env).encode()
    if out is None:
        click.echo(data.decode(), nl=False)
    else:
        write_atomic(out, data, what="request")
        click.echo(f"wrote {out}", err=True)
    return ExitCode.OK


@request_group.command("status")
@click.argument("status", type=click.Choice([s.value for s in RequestStatus]), required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def request_status(state: CliState, status: str | None, as_json: bool) -> int:
    """Show the request's status, or move it (draft, sent, provisioned, configured, verified)."""
    env = state.services.env()
    repo = state.services.repo
    history = (
        repo.set_request_status(env, RequestStatus(status))
        if status
        else repo.request_history(env.name)
    )
    current = history[-1].status if history else RequestStatus.DRAFT
    if as_json:
        state.emit_json(
            {"status": current.value, "history": {st.status.value: iso(st.at) for st in history}}
        )
        return ExitCode.OK
    reached = {st.status: st for st in history}
    for step in RequestStatus:
        stamp = reached.get(step)
        mark = "✓" if stamp else "·"
        when = iso(stamp.at) if stamp else ""
        click.echo(f"{mark} {step.value:<12} {when}")
    return ExitCode.OK
