"""`audiencectl serve`: the console in a browser, on 127.0.0.1 only.

The server runs as a real subprocess; the page and the websocket are fetched
over HTTP the way a browser would.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshd import free_port
from tests.tui_helpers import services_with_sample
from tui.commands.serve import console_command

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def _wait_listening(port: int, proc: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"serve ended early ({proc.returncode}): {err.decode()}")
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"serve did not listen on {port} within {seconds}s")


def _consoles_on(db: Path) -> list[int]:
    """Pids of console processes whose command line names this store."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(db).encode() in argv and b"serve" not in argv:
            pids.append(int(entry.name))
    return pids


TOKEN = "test-token-0123456789"


def _serve(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        cwd=ROOT,
        env={**os.environ, "AUDIENCECTL_SERVE_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sample_db(db_path: Path) -> Path:
    services, _ = services_with_sample(db_path)
    services.close()
    return db_path


@pytest.fixture
def served(sample_db: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    proc = _serve("--db", str(sample_db), "serve", "--port", str(port))
    try:
        _wait_listening(port, proc)
        yield proc, port
    finally:
        _stop(proc)


async def _first_frames(port: int, wanted: list[bytes], seconds: float = 20) -> bytes:
    """Opens the console's websocket as the page does; returns the terminal bytes."""
    import aiohttp

    url = f"http://{HOST}:{port}/ws?width=100&height=30&token={TOKEN}"
    received = b""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json(["resize", {"width": 100, "height": 30}])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not all(w in received for w in wanted):
            try:
                message = await ws.receive(timeout=1)
            except TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.BINARY:
                received += message.data
            elif message.type != aiohttp.WSMsgType.TEXT:
                break
    return received


def test_page_is_textual_serve_for_the_console(served: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = served
    with urllib.request.urlopen(f"http://{HOST}:{port}/?token={TOKEN}", timeout=10) as response:
        assert response.status == 200
        page = response.read().decode()
        cookie = response.headers["Set-Cookie"]
    assert f"audiencectl_serve={TOKEN}" in cookie and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "textual.js" in page  # textual-serve's front end
    assert f'data-session-websocket-url="ws://{HOST}:{port}/ws"' in page
    assert "<div>audiencectl</div>" in page  # our title, not the command line
    assert "--db" not in page


def test_websocket_shows_the_console_on_the_same_store(
    served: tuple[subprocess.Popen[bytes], int], sample_db: Path
) -> None:
    _, port = served
    frames = asyncio.run(_first_frames(port, [b"Checklist", b"production"]))
    assert b"Checklist" in frames  # the navigation bar
    assert b"production" in frames  # the environment of the store given with --db


def test_sigterm_stops_the_server_and_its_consoles(sample_db: Path) -> None:
    port = free_port()
    proc = _serve("--db", str(sample_db), "serve", "--port", str(port))
    try:
        _wait_listening(port, proc)

        async def open_then_signal() -> None:
            import aiohttp

            url = f"http://{HOST}:{port}/ws?width=80&height=24&token={TOKEN}"
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                received = b""
                while b"Checklist" not in received:
                    message = await ws.receive(timeout=20)
                    assert message.type == aiohttp.WSMsgType.BINARY
                    received += message.data
                assert _consoles_on(sample_db), "no console process was started"
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 15)

        asyncio.run(open_then_signal())
        assert proc.returncode == 0
        deadline = time.monotonic() + 10
        while _consoles_on(sample_db) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _consoles_on(sample_db) == []
    finally:
        _stop(proc)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "localhost"])
def test_other_hosts_are_refused(run_cli, host: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("serve", "--host", host, "--port", str(free_port()))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    # issue 19.6: the console does authenticate (a token); the reason is plain HTTP
    assert "no authentication" not in lines[0]
    assert "token" in lines[0] and "ssh -L" in lines[0]


def test_the_tunnel_hint_carries_the_token() -> None:
    """Issue 19.6: the URL printed for a tunnel left the token out, and answered 403."""
    from tui.commands.serve import tunnel_hint

    assert tunnel_hint(8123, "s3cr3t").endswith("open http://127.0.0.1:8123/?token=s3cr3t")
    assert "?token=" not in tunnel_hint(8123) and "carries the token" in tunnel_hint(8123)


def test_port_in_use_is_one_line_and_exit_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port))
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"audiencectl: error: port {port} on {HOST} is already in use "
        "(hint: choose another: --port N)"
    ]


def test_unknown_theme_is_refused_before_serving(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("serve", "--theme", "neon", "--port", str(free_port()))
    assert result.code == 2
    assert "unknown theme 'neon'" in result.err
    assert "ansi-dark" in result.err


def test_dir_needs_demo(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("serve", "--dir", str(tmp_path), "--port", str(free_port()))
    assert result.code == 2
    assert "--dir only goes with --demo" in result.err


def test_reset_needs_demo(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("serve", "--reset", "--port", str(free_port()))
    assert result.code == 2
    assert "--reset only goes with --demo" in result.err


def test_demo_reopens_the_workspace_as_left_and_reset_starts_over(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`serve --demo` opens what `audiencectl demo` opens: the user's edits are kept;
    `serve --demo --reset` starts over."""
    import json

    from tui.commands.serve import _build_demo

    folder = tmp_path / "demo"
    db = str(folder / "audiencectl.db")

    def state() -> str:
        return str(json.loads(run_cli("--db", db, "import", "status", "--json").out)["state"])

    assert run_cli("demo", "--dir", str(folder), "--no-tui").code == 0
    fresh = state()
    assert run_cli("--db", db, "import", "resume").code == 0  # the user's edit
    played = state()
    assert played != fresh
    capsys.readouterr()
    assert _build_demo(folder) == (folder.resolve() / "audiencectl.db", "demo")
    said = capsys.readouterr().err
    assert f"reopening the demo workspace at {folder.resolve()}" in said
    assert "serve --demo --reset" in said
    assert state() == played
    assert _build_demo(folder, reset=True)[1] == "demo"
    assert "reopening" not in capsys.readouterr().err
    assert state() == fresh


def test_served_command_is_this_console_on_the_same_store(tmp_path: Path) -> None:
    db = tmp_path / "a b" / "store.db"
    argv = shlex.split(console_command(db, "prod env", "ansi-dark"))
    assert argv == [
        sys.executable, "-m", "tui", "--db", str(db.resolve()),
        "--env", "prod env", "tui", "--theme", "ansi-dark",
    ]  # fmt: skip
    assert "--env" not in shlex.split(console_command(db, None, "textual-dark"))


def test_demo_builds_the_workspace_and_serves_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "AUDIENCECTL_DB": str(tmp_path / "unused.db"),
        "AUDIENCECTL_SERVE_TOKEN": TOKEN,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--demo", "--dir", str(tmp_path / "demo"),
         "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(port, proc, seconds=60)
        assert (tmp_path / "demo" / "audiencectl.db").exists()
        assert not (tmp_path / "unused.db").exists()
        frames = asyncio.run(_first_frames(port, [b"Checklist", b"demo"]))
        assert b"demo" in frames
    finally:
        _stop(proc)


def test_the_page_and_the_console_need_the_token(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    """127.0.0.1 keeps other machines out, not other local users: without the token
    printed at start, neither the page nor the console's websocket opens."""
    import urllib.error

    _, port = served
    for url in (f"http://{HOST}:{port}/", f"http://{HOST}:{port}/?token=wrong"):
        try:
            urllib.request.urlopen(url, timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
            assert "token" in exc.read().decode()
        else:
            raise AssertionError(f"{url} opened without the token")
    assert asyncio.run(_ws_status(port, "")) == 403


def test_another_sites_page_cannot_drive_the_console(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    """A web page may open a websocket to any address; the browser then says where it
    comes from (Origin), and only this server's own origin is let in."""
    _, port = served
    evil = {"Origin": "https://attacker.example", "Cookie": f"audiencectl_serve={TOKEN}"}
    assert asyncio.run(_ws_status(port, "", headers=evil)) == 403
    own = {"Origin": f"http://{HOST}:{port}", "Cookie": f"audiencectl_serve={TOKEN}"}
    assert asyncio.run(_ws_status(port, "", headers=own)) == 101


async def _ws_status(port: int, query: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a websocket handshake (101 when it opens)."""
    import aiohttp

    url = f"http://{HOST}:{port}/ws?width=80&height=24{query}"
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers or {}) as ws:
                await ws.close()
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
