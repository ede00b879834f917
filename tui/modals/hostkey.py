"""Trust a server's host key seen for the first time? Default: no.

The modal shows host, key type and SHA256 fingerprint, as ``ssh-keygen -lf``
prints them, so the admin can compare with what Adobe sent. It returns True
only when *Trust this key* is pressed; Escape, ``n`` and Enter on the focused
*No* button all return False. A *changed* key never comes here: it is refused
on the accounts screen, with the command that removes the old pin.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from core.hostkeys import HostKey, host_label


class HostKeyModal(ModalScreen[bool]):
    """Asks whether to pin ``key`` for host:port; dismisses with True only on an explicit yes."""

    BINDINGS = [
        Binding("escape", "no", "Do not trust", id="hostkey.no"),
        Binding("n", "no", "No", show=False, id="hostkey.n"),
    ]

    def __init__(self, host: str, port: int, key: HostKey, account: str = "") -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.key = key
        self.account = account

    def compose(self) -> ComposeResult:
        where = host_label(self.host, self.port)
        with Vertical(id="dialog", classes="hostkey-dialog"):
            yield Label(f"! Unknown host key for {where}", id="dialog-title", markup=False)
            yield Static(
                (f"Account: {self.account}\n" if self.account else "") + f"Host:        {where}\n"
                f"Key type:    {self.key.key_type}\n"
                f"Fingerprint: {self.key.fingerprint}",
                id="hostkey-facts",
                markup=False,
            )
            yield Static(
                "No key is pinned for this server yet. Compare the fingerprint with the one "
                "Adobe (or the server's admin) gave you, out of band. If they match, trust it: "
                "it is pinned and any later change is refused. If you are not sure, answer No.",
                id="dialog-body",
                markup=False,
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Trust this key", variant="warning", id="yes")
                yield Button("No", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def trust(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)
