"""The headless commands, one module per area; ``ALL`` is what `audiencectl` registers."""

from __future__ import annotations

import click

from tui.commands.config import config_group
from tui.commands.request import request_group

ALL: list[click.Command] = [config_group, request_group]
