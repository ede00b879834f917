"""`python -m tui`: the same as the `audiencectl` command (`serve` runs the console so)."""

from tui.cli import entry

entry()
