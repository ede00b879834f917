"""The outcome breakdown of a reconciliation as a horizontal bar chart.

One row per outcome present: a glyph and the outcome's name, a bar of block
characters (eighths for the last cell, so small counts still show), the count
and its share of the records, and what the outcome means. The glyph and the
words carry the meaning; colour (from the theme, through component classes)
only repeats it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from core.outcomes import EXPLANATIONS, Outcome

__all__ = ["OutcomeChart", "bar", "chart_rows"]

_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"
_NAME_WIDTH = max(len(o.value) for o in Outcome)
_MIN_BAR = 8
_MAX_BAR = 30


def bar(count: int, scale: int, width: int) -> str:
    """``count`` of ``scale`` as a bar of at most ``width`` cells (block characters).

    Zero is an empty bar; any other count shows at least one eighth of a cell.
    """
    if count <= 0 or scale <= 0 or width <= 0:
        return ""
    eighths = max(1, round(count / scale * width * 8))
    eighths = min(eighths, width * 8)
    full, rest = divmod(eighths, 8)
    return _FULL * full + (_EIGHTHS[rest] if rest else "")


def chart_rows(outcomes: Mapping[str, int]) -> list[tuple[str, int]]:
    """The rows to draw, in the order of docs/reference.md §4 (reconciled, duplicate,
    then failures); outcomes with a zero count are left out, unknown names come last."""
    order = [o.value for o in Outcome]
    present = [(name, count) for name, count in outcomes.items() if count > 0]
    return sorted(
        present, key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])
    )


def _glyph(name: str) -> str:
    if name == Outcome.RECONCILED.value:
        return "✓"
    if name == Outcome.DUPLICATE.value:
        return "="
    return "✗"


def _meaning(name: str) -> str:
    try:
        return EXPLANATIONS[Outcome(name)][0]
    except ValueError:
        return ""


class OutcomeChart(Widget):
    """Counts per outcome as bars; call :meth:`show` with every outcome's count."""

    DEFAULT_CSS = """
    OutcomeChart {
        height: auto;
    }
    """

    COMPONENT_CLASSES = {
        "outcome-chart--ok",
        "outcome-chart--duplicate",
        "outcome-chart--fail",
        "outcome-chart--meaning",
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.outcomes: dict[str, int] = {}
        self.records = 0

    def show(self, outcomes: Mapping[str, int], records: int | None = None) -> None:
        """Shows ``outcomes`` (name -> count, ``reconciled`` and ``duplicate``
        included); ``records`` is the base of the percentages (default: the sum)."""
        self.outcomes = dict(outcomes)
        self.records = records if records is not None else sum(self.outcomes.values())
        self.refresh(layout=True)

    def clear(self) -> None:
        """Shows nothing."""
        self.show({}, 0)

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(1, len(self._lines(width)))

    def _style(self, name: str) -> Style:
        if name == Outcome.RECONCILED.value:
            return self.get_component_rich_style("outcome-chart--ok")
        if name == Outcome.DUPLICATE.value:
            return self.get_component_rich_style("outcome-chart--duplicate")
        return self.get_component_rich_style("outcome-chart--fail")

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for number, line in enumerate(self._lines(self.size.width or 80)):
            if number:
                text.append("\n")
            text.append_text(line)
        return text

    def _lines(self, width: int) -> list[Text]:
        """The chart's lines at ``width``: a meaning too long for its row goes on below,
        under itself, instead of being cut (at 80 columns most of them are)."""
        rows = chart_rows(self.outcomes)
        if not rows:
            return [Text("no records", no_wrap=True)]
        scale = max(count for _, count in rows)
        count_width = max(len(f"{count:,}") for _, count in rows)
        # glyph, name, bar, count, percentage, meaning
        fixed = 2 + _NAME_WIDTH + 1 + 1 + count_width + 8 + 1
        bar_width = max(_MIN_BAR, min(_MAX_BAR, (width - fixed) // 3))
        indent = 2 + _NAME_WIDTH + 1 + bar_width + 1 + count_width + 9
        room = max(12, width - indent)
        meaning_style = self.get_component_rich_style("outcome-chart--meaning")
        lines: list[Text] = []
        for name, count in rows:
            style = self._style(name)
            share = count / self.records * 100 if self.records else 0.0
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{_glyph(name)} {name:<{_NAME_WIDTH}} ", style=style)
            line.append(f"{bar(count, scale, bar_width):<{bar_width}}", style=style)
            line.append(f" {count:>{count_width},} {share:5.1f} % ")
            parts = textwrap.wrap(_meaning(name), room) or [""]
            line.append(parts[0], style=meaning_style)
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
            for part in parts[1:]:
                more = Text(" " * indent, no_wrap=True, overflow="ellipsis")
                more.append(part, style=meaning_style)
                more.truncate(width, overflow="ellipsis")
                lines.append(more)
        return lines
