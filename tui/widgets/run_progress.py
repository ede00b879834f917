"""A running job's progress: one line of words (with a glyph) and a progress bar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

__all__ = ["RunProgress"]

#: state -> glyph shown before the words (never colour alone).
MARKS = {
    "idle": "·",
    "running": "…",
    "cancelling": "…",
    "done": "✓",
    "cancelled": "-",
    "failed": "✗",
}


class RunProgress(Horizontal):
    """Status words on the left, a bar on the right. ``updates`` counts the progress
    snapshots drawn (tests use it to see that progress reached the screen)."""

    DEFAULT_CSS = """
    RunProgress {
        height: 1;
    }
    RunProgress > .run-progress--text {
        width: 1fr;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    RunProgress > ProgressBar {
        width: auto;
        height: 1;
    }
    RunProgress > ProgressBar > Bar {
        width: 24;
    }
    """

    def __init__(self, idle_text: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.idle_text = idle_text
        self.state = "idle"
        self.updates = 0

    def compose(self) -> ComposeResult:
        yield Static(
            f"{MARKS['idle']} {self.idle_text}" if self.idle_text else "",
            classes="run-progress--text",
            markup=False,
        )
        bar = ProgressBar(total=None, show_eta=False, show_percentage=True)
        bar.display = False
        yield bar

    @property
    def bar(self) -> ProgressBar:
        """The progress bar."""
        return self.query_one(ProgressBar)

    @property
    def text(self) -> str:
        """The words shown, glyph included."""
        return str(self.query_one(".run-progress--text", Static).render())

    def _say(self, state: str, words: str) -> None:
        self.state = state
        self.set_class(state == "failed", "-failed")
        self.set_class(state in ("running", "cancelling"), "-running")
        self.query_one(".run-progress--text", Static).update(f"{MARKS.get(state, '?')} {words}")

    def start(self, words: str) -> None:
        """A job started: the bar waits (indeterminate) for its first snapshot."""
        self.updates = 0
        self.bar.update(total=None, progress=0)
        self.bar.display = True
        self._say("running", words)

    def step(self, done: int, total: int, words: str) -> None:
        """A progress snapshot (ignored once the job is cancelling or finished)."""
        if self.state != "running":
            return
        self.updates += 1
        self.bar.update(total=max(1, total), progress=min(done, max(1, total)))
        self._say("running", words)

    def cancelling(self, words: str = "cancelling…") -> None:
        """Cancel was asked; the job ends at its next check."""
        self._say("cancelling", words)

    def finish(self, words: str) -> None:
        """The job ended well: the bar is full, then makes room for the words (the
        glyph says it is done; at 80 columns the whole sentence fits)."""
        total = self.bar.total or 1
        self.bar.update(total=total, progress=total)
        self.bar.display = False
        self._say("done", words)

    def stopped(self, words: str) -> None:
        """The job was cancelled."""
        self.bar.display = False
        self._say("cancelled", words)

    def failed(self, words: str) -> None:
        """The job failed (the error itself is notified by the app)."""
        self.bar.display = False
        self._say("failed", words)

    def reset(self, words: str | None = None) -> None:
        """Back to idle with ``words`` (default: the idle text)."""
        self.bar.update(total=None, progress=0)
        self.bar.display = False
        self._say("idle", self.idle_text if words is None else words)
