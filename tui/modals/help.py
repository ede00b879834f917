"""F1: the help of the screen in front, from ``tui/help/<mode>.md`` plus its real keys.

The text for admins lives in Markdown files, one per screen. The "Keys"
section is not written by hand: it is built from the screen's and the App's
bindings when the help opens, so it always says what the keys really do.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Footer, MarkdownViewer

from core.outcomes import EXPLANATIONS

#: Names of keys as the admin reads them.
KEY_NAMES = {
    "escape": "Esc",
    "enter": "Enter",
    "space": "Space",
    "tab": "Tab",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "delete": "Del",
}


def key_label(keys: str) -> str:
    """``"r,enter"`` → ``"r / Enter"``, ``"ctrl+s"`` → ``"Ctrl+S"``, ``"f8"`` → ``"F8"``."""
    labels = []
    for key in keys.split(","):
        *mods, last = key.strip().split("+")
        name = KEY_NAMES.get(last, last.upper() if len(last) > 1 or mods else last)
        labels.append("+".join([*(m.capitalize() for m in mods), name]))
    return " / ".join(labels)


def _bindings(owner: DOMNode | type[DOMNode]) -> list[Binding]:
    """The bindings ``owner`` declares and inherits (a screen's own first), as Textual
    merges them; Textual's own base classes are left out."""
    cls = owner if isinstance(owner, type) else type(owner)
    found: list[Binding] = []
    seen: set[str] = set()
    item: BindingType
    for klass in cls.__mro__:
        if not klass.__module__.startswith("tui."):
            continue
        for item in klass.__dict__.get("BINDINGS", []):
            for binding in Binding.make_bindings([item]):
                if binding.key not in seen:
                    seen.add(binding.key)
                    found.append(binding)
    return found


def help_topic(mode: str) -> str:
    """The Markdown help of screen ``mode`` (``FileNotFoundError`` when there is none)."""
    return resources.files("tui").joinpath("help", f"{mode}.md").read_text(encoding="utf-8")


def outcomes_markdown() -> str:
    """The outcome of a line in a dry run or an import, from ``core.outcomes``."""
    lines = [
        "## Outcomes of a line",
        "",
        "| Outcome | Meaning | What to do |",
        "| --- | --- | --- |",
    ]
    for outcome, (meaning, fix) in EXPLANATIONS.items():
        lines.append(f"| `{outcome.value}` | {meaning} | {fix or '-'} |")
    return "\n".join(lines) + "\n"


#: Sections built from the code for some screens, placed before the keys.
GENERATED: dict[str, Callable[[], str]] = {"audiences": outcomes_markdown}


def keys_markdown(screen: DOMNode, app: App[object]) -> str:
    """The Keys section: the screen's own bindings, then the console's."""
    rows = [(key_label(b.key), b.description or b.action) for b in _bindings(screen)]
    rows.append(("Ctrl+P", "Command palette: every command by name"))
    for binding in _bindings(app):
        what = binding.description or binding.action
        if (binding.id or "").startswith("go."):
            what = f"Go to the {what} screen"
        rows.append((key_label(binding.key), what))
    lines = ["## Keys", "", "| Key | What it does |", "| --- | --- |"]
    lines += [f"| {key} | {what} |" for key, what in rows]
    return "\n".join(lines) + "\n"


class HelpModal(ModalScreen[None]):
    """The help of one screen; Escape, F1 or q closes it, the arrows and PgUp/PgDn scroll."""

    DEFAULT_CSS = """
    HelpModal {
        align: center middle;
    }
    HelpModal #help-box {
        width: 100%;
        max-width: 100;
        height: 100%;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
    }
    HelpModal MarkdownViewer {
        height: 1fr;
        padding: 0;
    }
    HelpModal Markdown {
        padding: 0 1;
        margin: 0;
    }
    """
    BINDINGS = [
        Binding("escape,q", "close", "Close", id="help.close"),
        Binding("f1", "close", "Close", show=False, id="help.close_f1"),
    ]

    def __init__(self, mode: str, screen: DOMNode, title: str = "") -> None:
        super().__init__()
        self.mode = mode
        self.title_text = f"Help: {title}" if title else "Help"
        try:
            text = help_topic(mode)
        except FileNotFoundError:
            text = f"# {mode}\n\nNo help is written for this screen yet.\n"
        parts = [text.rstrip()]
        if mode in GENERATED:
            parts.append(GENERATED[mode]())
        parts.append(keys_markdown(screen, screen.app))
        self.text = "\n\n".join(part.rstrip() for part in parts) + "\n"

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "Esc, F1 or q closes · ↑ ↓ PgUp PgDn scroll"
            yield MarkdownViewer(self.text, show_table_of_contents=False, id="help-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#help-text", MarkdownViewer).focus()

    def action_close(self) -> None:
        self.dismiss(None)
