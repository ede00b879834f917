"""What a copy to the clipboard can honestly say.

The console copies with OSC 52, an escape sequence the terminal may act on or
ignore, and nothing comes back to say which. tmux, by default
(``set-clipboard external``), drops it. So the message says what was sent, and,
inside tmux, how to let it through.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping

TMUX_FIX = "set -g set-clipboard on"


def tmux_clipboard_setting(env: Mapping[str, str]) -> str | None:
    """tmux's ``set-clipboard`` option of the server the console runs in (None: not known)."""
    socket = env.get("TMUX", "").split(",")[0]
    if not socket:
        return None
    try:
        done = subprocess.run(
            ["tmux", "-S", socket, "show-options", "-gv", "set-clipboard"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def copy_note(
    what: str,
    length: int,
    env: Mapping[str, str] | None = None,
    setting: Callable[[Mapping[str, str]], str | None] | None = None,
) -> tuple[str, bool]:
    """(message, warn): what was sent to the terminal's clipboard, and whether the user
    should expect it not to arrive. ``setting`` reads tmux's option (default: ask tmux)."""
    env = os.environ if env is None else env
    setting = setting or tmux_clipboard_setting
    sent = f"sent {what} ({length:,} characters) to the terminal's clipboard (OSC 52)"
    if env.get("TMUX") or env.get("TMUX_PANE"):
        if setting(env) == "on":
            return f"{sent}; tmux passes it on (set-clipboard on)", False
        return (
            f"{sent}, but tmux drops it unless its set-clipboard option is on: add "
            f"`{TMUX_FIX}` to ~/.tmux.conf (then tmux source-file ~/.tmux.conf), "
            "or save it to a file instead",
            True,
        )
    return (
        f"{sent}; the terminal decides whether to accept it: if pasting gives nothing, "
        "save it to a file instead",
        False,
    )
