"""`audiencectl`: the console (bare command) and its headless twin.

Headless commands never import Textual. Errors are one line on stderr with a
hint and an exit code from ``core.errors.ExitCode``; never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from core.errors import AudienceError, ExitCode
from tui.commands._common import CliState, check_theme, pass_state
from usecases.services import Services

DEBUG_VAR = "AUDIENCECTL_DEBUG"


class _OutputClosed(Exception):
    """Standard output was closed by its reader (``| head``): see :func:`_output_closed`."""


class _Group(click.Group):
    """Lets a closed stdout reach :func:`main` (click would turn it into exit 1, which
    here means findings)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _OutputClosed from exc


def _output_closed() -> int:
    """The reader went away: nothing more is written (stdout now goes to /dev/null, so
    the exit's final flush cannot fail) and the exit code says the output was cut,
    141 as for a tool ended by SIGPIPE: neither success (0) nor findings (1).
    SIGPIPE itself stays ignored, so a closed SFTP socket still raises an error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
    return int(ExitCode.OUTPUT_CLOSED)


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="AUDIENCECTL_DB",
    help="The store (default: the user data dir; env AUDIENCECTL_DB).",
)
@click.option("--env", "env_name", envvar="AUDIENCECTL_ENV", help="The environment to act on.")
@click.option("--no-mouse", is_flag=True, help="Console: leave the mouse to the terminal.")
@click.option("--theme", default="textual-dark", help="Console theme, e.g. ansi-dark.")
@click.version_option(package_name="audiencectl")
@click.pass_context
def cli(
    ctx: click.Context, db: Path | None, env_name: str | None, no_mouse: bool, theme: str
) -> None:
    """Provision, configure and troubleshoot Campaign <-> Audience Manager audience sharing.

    Without a command, opens the console (`audiencectl --no-mouse --theme ansi-dark`
    works as well as `audiencectl tui --no-mouse --theme ansi-dark`).
    """
    # Only the console creates a missing store (and `config import`, which says so
    # itself); the other commands refuse, so a mistyped --db never makes an empty one.
    creates = ctx.invoked_subcommand in (None, "tui")
    services = Services.from_options(db, env_name, create=creates)
    ctx.obj = CliState(services)
    ctx.call_on_close(services.close)
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui_command, no_mouse=no_mouse, theme=theme)


@cli.command("tui")
@click.option("--no-mouse", is_flag=True, help="Do not capture the mouse (select text over SSH).")
@click.option(
    "--theme", default="textual-dark", show_default=True, help="e.g. ansi-dark, textual-light."
)
@pass_state
def tui_command(state: CliState, no_mouse: bool, theme: str) -> None:
    """Open the console."""
    check_theme(theme)
    from tui.app import run_console  # Textual is imported only here

    run_console(state.services, mouse=not no_mouse, theme=theme)


def _register() -> None:
    from tui.commands import ALL

    for command in ALL:
        cli.add_command(command)


def _fail(message: str, hint: str = "") -> None:
    line = f"audiencectl: error: {message}"
    if hint:
        line += f" (hint: {hint})"
    click.echo(line.replace("\n", " "), err=True)


def _quiet_libraries() -> None:
    """Library loggers (paramiko above all) must never print tracebacks at users."""
    for name in ("paramiko", "asyncio"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    _register()
    _quiet_libraries()
    try:
        result = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except AudienceError as exc:
        _fail(exc.message, exc.hint)
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("audiencectl: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), "see --help")
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        click.echo("audiencectl: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except (_OutputClosed, BrokenPipeError):
        return _output_closed()
    except Exception as exc:  # the last net: one line, never a traceback
        if os.environ.get(DEBUG_VAR):
            raise
        _fail(
            f"unexpected {type(exc).__name__}: {exc}",
            f"this is a bug; rerun with {DEBUG_VAR}=1 and report the traceback",
        )
        return 70
    try:
        sys.stdout.flush()  # the reader may have gone after the last write
    except BrokenPipeError:
        return _output_closed()
    except (OSError, ValueError):
        pass
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


def entry() -> None:
    sys.exit(main())
