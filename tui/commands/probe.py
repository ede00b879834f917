"""`audiencectl probe [import|export|all]` and `audiencectl hostkey list|forget`.

Exit codes of ``probe`` (docs/reference.md §1 and §5): 0 when no stage failed,
1 when a stage failed, 2 when an account is not configured (the missing fields
are named), 3 when a host key is unknown (without ``--trust-new-host-key``) or
changed. Every report is saved in the store, so the console and the checklist
show the last probe. The work is done by ``usecases.probe``.
"""

from __future__ import annotations

import click

from core import clock
from core.errors import ExitCode, InputError
from core.hostkeys import HostKeyChanged, HostKeyUnknown, host_label
from core.model import Role
from core.probe import ProbeReport, StageResult
from core.text import printable_name
from storage.hostkeys import SqliteHostKeyStore
from tui.commands._common import CliState, pass_state
from usecases.probe import DEFAULT_TIMEOUT, probe_accounts

GLYPHS = {"pass": "✓", "fail": "✗", "warn": "!", "skip": "-"}


def stage_line(stage: StageResult) -> str:
    """``✓ dns        3 ms  detail  → hint``: one line per stage."""
    detail = printable_name(stage.detail)
    line = f"  {GLYPHS.get(stage.status, '?')} {stage.name:<8}{stage.ms:>6} ms  {detail}"
    if stage.hint:
        line += f"  → {printable_name(stage.hint)}"
    return line


def summary_line(report: ProbeReport) -> str:
    """``import: ok`` or ``import: FAILED at auth``."""
    failure = report.first_failure
    if failure is not None:
        return f"{report.role.value}: FAILED at {failure.name}"
    warned = [s.name for s in report.stages if s.status == "warn"]
    if warned:
        return f"{report.role.value}: ok, with warnings ({', '.join(warned)})"
    return f"{report.role.value}: ok"


def _print_human(report: ProbeReport) -> None:
    role = report.role
    click.echo(
        f"{role.value} · {role.campaign_name} ({role.direction}) · "
        f"{printable_name(report.endpoint)} · "
        f"{clock.iso(report.started_at)}"
    )
    if report.host_key is not None:
        click.echo(f"  host key {report.host_key.key_type} {report.host_key.fingerprint}")
    for stage in report.stages:
        click.echo(stage_line(stage))
    click.echo(summary_line(report))


def _host_key_message(role: Role, error: HostKeyUnknown | HostKeyChanged) -> str:
    if isinstance(error, HostKeyUnknown):
        label = host_label(error.host, error.port)
        return (
            f"audiencectl: unknown host key for {label}: {error.key.key_type} "
            f"{error.key.fingerprint}\n"
            "  Confirm this fingerprint with Adobe (out of band), then trust it with:\n"
            f"    audiencectl probe {role.value} --trust-new-host-key\n"
            f'  or put host_key = "{error.key.fingerprint}" in the account\'s configuration.'
        )
    return (
        f"audiencectl: {error.message}\n"
        f"  pinned:    {error.pinned.fingerprint} ({error.pinned.key_type})\n"
        f"  presented: {error.presented.fingerprint} ({error.presented.key_type})\n"
        f"  {error.hint}"
    )


@click.command("probe")
@click.argument(
    "which", type=click.Choice(["import", "export", "all"]), default="all", required=False
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.5, 600),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds each stage may take.",
)
@click.option(
    "--trust-new-host-key",
    is_flag=True,
    help="Pin a server's host key seen for the first time (confirm its fingerprint first).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of reports on stdout.")
@pass_state
def probe_command(
    state: CliState, which: str, timeout: float, trust_new_host_key: bool, as_json: bool
) -> int:
    """Probe the accounts stage by stage: dns, tcp, banner, hostkey, auth, sftp, list (SFTP)
    or dns, tcp, tls, auth, bucket, list (Amazon S3), then read (import) or write (export).

    Exit 0: every stage passed; 1: a stage failed; 2: an account is not configured;
    3: a host key is unknown (without --trust-new-host-key) or changed.
    """
    roles = list(Role) if which == "all" else [Role(which)]
    outcome = probe_accounts(
        state.services,
        roles,
        timeout=timeout,
        trust_new_host_key=trust_new_host_key,
        on_report=None if as_json else _print_human,
    )
    if as_json:
        state.emit_json([r.to_json() for r in outcome.reports])
    key_errors = outcome.host_key_errors
    for role, error in key_errors:
        click.echo(_host_key_message(role, error), err=True)
    if key_errors:
        return ExitCode.CONNECTION
    if outcome.failed:
        return ExitCode.FINDINGS
    return ExitCode.OK


# ----------------------------------------------------------------------- hostkey


def parse_host_port(text: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[host]:port`` (as known_hosts writes it) → (host, port)."""
    raw = text.strip()
    host, port_text = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InputError(f"{text!r} is not HOST[:PORT]", "e.g. sftp.example.net:2222")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"{text!r} is not HOST[:PORT]", "e.g. [sftp.example.net]:2222")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    if not host:
        raise InputError(f"{text!r} has no host", "e.g. sftp.example.net or sftp.example.net:2222")
    port = 22
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InputError(f"{port_text!r} is not a port", "1 to 65535, e.g. 22")
        port = int(port_text)
    return host, port


@click.group("hostkey")
def hostkey_group() -> None:
    """The pinned SSH host keys of the SFTP servers."""


@hostkey_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list on stdout.")
@pass_state
def hostkey_list(state: CliState, as_json: bool) -> int:
    """List the pinned host keys."""
    pins = SqliteHostKeyStore(state.services.store.conn).all()
    if as_json:
        state.emit_json(
            [
                {
                    "host": pin.host,
                    "port": pin.port,
                    "type": pin.key.key_type,
                    "fingerprint": pin.key.fingerprint,
                    "pinned_at": clock.iso(pin.pinned_at),
                }
                for pin in pins
            ]
        )
        return ExitCode.OK
    if not pins:
        click.echo("no host key is pinned yet: probe an account to pin its server's key")
        return ExitCode.OK
    width = max(len(host_label(p.host, p.port)) for p in pins)
    for pin in pins:
        click.echo(
            f"{host_label(pin.host, pin.port):<{width}}  {pin.key.key_type:<20} "
            f"{pin.key.fingerprint}  pinned {clock.iso(pin.pinned_at)}"
        )
    return ExitCode.OK


@hostkey_group.command("forget")
@click.argument("target", metavar="HOST[:PORT]")
@pass_state
def hostkey_forget(state: CliState, target: str) -> int:
    """Remove the pinned key of HOST[:PORT] (port 22 by default), after a server was rebuilt.

    Confirm the new fingerprint with Adobe first; the next probe asks to trust it.
    """
    host, port = parse_host_port(target)
    store = SqliteHostKeyStore(state.services.store.conn)
    if not store.forget(host, port):
        raise InputError(
            f"no host key is pinned for {host_label(host, port)}",
            "see `audiencectl hostkey list` for the pinned hosts",
        )
    click.echo(
        f"forgot the host key of {host_label(host, port)}; the next probe shows the "
        "server's fingerprint and asks before trusting it"
    )
    return ExitCode.OK
