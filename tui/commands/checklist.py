"""`audiencectl checklist confirm|unconfirm ID`: record that a manual step was seen done.

Parse, call ``usecases.checklist``, print. Exit 2 for an ID that is not a manual
check or a note too long (nothing stored).
"""

from __future__ import annotations

import click

from core.checks import MANUAL_CHECK_IDS
from core.errors import ExitCode
from tui.commands._common import CliState, pass_state
from usecases.checklist import confirm_check, unconfirm_check


@click.group("checklist")
def checklist_group() -> None:
    """Manual checks: steps in Campaign or AAM that a person confirms."""


@checklist_group.command("confirm")
@click.argument("check_id", metavar="ID")
@click.option("--note", default="", help="What you saw, e.g. 'workflow started, log clean'.")
@pass_state
def confirm_command(state: CliState, check_id: str, note: str) -> int:
    """Confirm the manual check ID (who = your OS user, when = now).

    The confirmation lapses when the configuration it concerns changes.
    """
    result = confirm_check(state.services, check_id, note)
    click.echo(f"{result.id}: {result.status}: {result.detail}")
    return ExitCode.OK


@checklist_group.command("unconfirm")
@click.argument("check_id", metavar="ID")
@pass_state
def unconfirm_command(state: CliState, check_id: str) -> int:
    """Withdraw the confirmation of the manual check ID."""
    removed, result = unconfirm_check(state.services, check_id)
    if not removed:
        click.echo(f"{result.id} was not confirmed", err=True)
    click.echo(f"{result.id}: {result.status}: {result.detail}")
    return ExitCode.OK


checklist_group.help = (
    "Manual checks: steps in Campaign or AAM that a person confirms. IDs: "
    + ", ".join(MANUAL_CHECK_IDS)
)
