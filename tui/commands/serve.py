"""`audiencectl serve`: the console in a browser, through textual-serve.

The console has no user accounts of its own, so the server listens on
127.0.0.1 only and admits only the holder of the token it prints; from a
laptop, reach it through SSH: ``ssh -L 8000:127.0.0.1:8000 HOST``, then open
the printed URL. Every browser tab runs its own console process on the same
store.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import os
import secrets
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import click

from core.errors import ExitCode, InputError
from tui.commands._common import CliState, check_theme, pass_state

#: The only address `serve` listens on.
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8000
#: How long stopping waits for the open sessions' consoles to quit.
SHUTDOWN_SECONDS = 10.0
#: The session token: random per run unless this variable sets it.
TOKEN_ENV = "AUDIENCECTL_SERVE_TOKEN"
#: The cookie that carries the token from the page to its websocket.
COOKIE = "audiencectl_serve"
FORBIDDEN = "forbidden: open the URL `audiencectl serve` printed (it carries the token)"


def tunnel_hint(port: int, token: str | None = None) -> str:
    """The SSH line that brings the console to a laptop, and the URL to open there
    (with its token: without it the server answers 403)."""
    tunnel = f"ssh -L {port}:{LOOPBACK}:{port} HOST"
    if token is None:
        return f"{tunnel}, then open the URL `audiencectl serve` prints (it carries the token)"
    return f"{tunnel}, then open http://{LOOPBACK}:{port}/?token={token}"


def check_host(host: str, port: int) -> None:
    """Refuses anything but 127.0.0.1: the token is the only lock, and plain HTTP
    would carry it across the network unencrypted."""
    if host != LOOPBACK:
        raise InputError(
            f"refusing to serve on {host!r}: the console's only lock is its token, which "
            f"plain HTTP would carry over the network in clear, so serve listens on "
            f"{LOOPBACK} only",
            f"from another machine use {tunnel_hint(port)}",
        )


def check_port_free(port: int) -> None:
    """Fails with one line when something already listens on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The server sets SO_REUSEADDR too: only a listening socket is a conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise _port_error(port, exc) from None


def _port_error(port: int, exc: OSError) -> InputError:
    if exc.errno == errno.EADDRINUSE:
        return InputError(
            f"port {port} on {LOOPBACK} is already in use", "choose another: --port N"
        )
    if exc.errno == errno.EACCES:
        return InputError(f"not allowed to listen on port {port}", "choose a port above 1023")
    return InputError(f"cannot listen on {LOOPBACK}:{port}: {exc.strerror or exc}")


def console_command(db_path: Path, env_name: str | None, theme: str) -> str:
    """The shell line textual-serve runs for every browser tab: this console, same store."""
    argv = [sys.executable, "-m", "tui", "--db", str(db_path.expanduser().resolve())]
    if env_name:
        argv += ["--env", env_name]
    argv += ["tui", "--theme", theme]
    return shlex.join(argv)


@click.command("serve")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port on 127.0.0.1.",
)
@click.option(
    "--host",
    default=LOOPBACK,
    show_default=True,
    help="Only 127.0.0.1 is accepted (the token travels in clear); use ssh -L from elsewhere.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Build the demo workspace first (as `audiencectl demo`) and serve the console on it.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --demo: where to build it (default: the user data dir's demo folder).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="With --demo: start the demo over (else it reopens as you left it).",
)
@click.option("--theme", default="textual-dark", show_default=True, help="e.g. ansi-dark.")
@pass_state
def serve_command(
    state: CliState,
    port: int,
    host: str,
    demo: bool,
    folder: Path | None,
    reset: bool,
    theme: str,
) -> int:
    """Serve the console in a web browser, on 127.0.0.1 only (textual-serve).

    Only the holder of the printed token gets in. From a laptop, tunnel with
    `ssh -L 8000:127.0.0.1:8000 HOST` and open the printed URL.
    Each browser tab starts its own console. Ctrl+C stops the server.
    """
    check_host(host, port)
    check_theme(theme)
    if folder is not None and not demo:
        raise InputError("--dir only goes with --demo", "add --demo, or use --db for a store")
    if reset and not demo:
        raise InputError("--reset only goes with --demo", "add --demo")
    check_port_free(port)
    db_path, env_name = state.services.db_path, state.services.env_name
    if demo:
        db_path, env_name = _build_demo(folder, reset)
    token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    click.echo(
        f"audiencectl: serving the console (store {db_path}) on\n"
        f"  http://{LOOPBACK}:{port}/?token={token}\n"
        f"open that URL (the token keeps other local users and other web pages out); "
        f"from elsewhere use {tunnel_hint(port, token)}",
        err=True,
    )
    server = _make_server(console_command(db_path, env_name, theme), port, token)
    try:
        server.serve()
    except OSError as exc:  # lost the race for the port after the check
        raise _port_error(port, exc) from None
    return ExitCode.OK


def _make_server(command: str, port: int, token: str) -> Any:
    """A textual-serve server that admits only the holder of ``token``, and that ends
    open sessions when it stops.

    Listening on 127.0.0.1 keeps other machines out, not other local users nor the
    web pages open in the admin's browser (a page may open a websocket to any
    address). So the page needs the token (``/?token=…``, then a same-site cookie)
    and the websocket needs the cookie or the token and, from a browser, this
    server's own origin. Without the session tracking, SIGTERM or Ctrl+C would wait
    up to a minute for every open tab to close its websocket.
    """
    from aiohttp import web
    from textual_serve.server import Server  # only this command needs the web server

    origins = {f"http://{LOOPBACK}:{port}", f"http://localhost:{port}"}

    def admitted(request: Any, *, websocket: bool) -> bool:
        origin = request.headers.get("Origin")
        if websocket and origin is not None and origin not in origins:
            return False  # another site's page, even with the cookie
        offered = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(offered.encode(), token.encode())

    class ConsoleServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=LOOPBACK, port=port, title="audiencectl")
            self.sessions: set[asyncio.Task[Any]] = set()

        async def handle_index(self, request: Any) -> Any:
            if not admitted(request, websocket=False):
                return web.Response(status=403, text=FORBIDDEN)
            response = await super().handle_index(request)
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
            return response

        async def handle_websocket(self, request: Any) -> Any:
            if not admitted(request, websocket=True):
                return web.Response(status=403, text=FORBIDDEN)
            task = asyncio.current_task()
            if task is not None:
                self.sessions.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions.discard(task)  # type: ignore[arg-type]

        async def on_shutdown(self, app: Any) -> None:
            sessions = list(self.sessions)
            for task in sessions:
                task.cancel()  # textual-serve then closes the socket and quits the console
            if sessions:
                await asyncio.wait(sessions, timeout=SHUTDOWN_SECONDS)

    return ConsoleServer()


def _build_demo(folder: Path | None, reset: bool = False) -> tuple[Path, str]:
    """The demo workspace, as `audiencectl demo --no-tui` opens it (reopened as the user
    left it, built afresh when there is none or with ``reset``): its store and
    environment."""
    from tui.commands.demo import open_demo, reopened_lines

    workspace, done = open_demo(folder, reset)
    if done is None:
        for line in reopened_lines(workspace, "audiencectl serve --demo --reset"):
            click.echo(line, err=True)
    else:
        click.echo(f"demo workspace: {workspace.root}", err=True)
    return workspace.db_path, workspace.env.name
