"""The headless commands, one module per area; ``ALL`` is what `audiencectl` registers."""

from __future__ import annotations

import click

from tui.commands.config import config_group
from tui.commands.demo import demo_command
from tui.commands.request import request_group

ALL: list[click.Command] = [config_group, request_group, demo_command]
