"""The headless commands, one module per area; ``ALL`` is what `audiencectl` registers."""

from __future__ import annotations

import click

from tui.commands.checklist import checklist_group
from tui.commands.config import config_group
from tui.commands.crypto import crypto_group
from tui.commands.demo import demo_command
from tui.commands.doctor import doctor_command
from tui.commands.dryrun import dry_run_command
from tui.commands.export import export_command
from tui.commands.importwf import import_group
from tui.commands.probe import hostkey_group, probe_command
from tui.commands.profiles import profiles_group
from tui.commands.request import request_group
from tui.commands.serve import serve_command

ALL: list[click.Command] = [
    config_group,
    request_group,
    demo_command,
    profiles_group,
    dry_run_command,
    import_group,
    export_command,
    crypto_group,
    probe_command,
    hostkey_group,
    doctor_command,
    checklist_group,
    serve_command,
]
