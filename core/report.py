"""The Markdown match report of a reconciliation (``dry-run --report FILE.md``).

It holds counts, outcomes with their meaning and fix, segments, batches,
samples (IDs shortened as they come from ``core.reconcile``) and skipped
files. It never holds a key, an IV or any other secret: only data source
labels are named.
"""

from __future__ import annotations

from datetime import datetime

from core.clock import iso
from core.outcomes import EXPLANATIONS, Outcome
from core.reconcile import Summary
from core.text import printable_name

__all__ = ["render_markdown"]


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell (one line, pipes and backticks escaped)."""
    value = printable_name(str(text))
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")


def _prose(text: str) -> str:
    """The report's own words in a table cell: one line, pipes escaped, and its
    `code` spans kept as code (``_cell`` is for values from files and users)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    """Inline code that survives backticks inside ``text``."""
    body = printable_name(text).replace("|", "\\|")
    fence = "``" if "`" in body else "`"
    pad = " " if "`" in body else ""
    return fence + pad + body + pad + fence


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def _explain(name: str) -> tuple[str, str]:
    try:
        return EXPLANATIONS[Outcome(name)]
    except ValueError:
        return ("", "")


def render_markdown(summary: Summary, env_name: str, generated_at: datetime) -> str:
    """The report as Markdown: totals, match rate, outcomes table (meaning and fix),
    segments, batches, website mistakes found (causes), samples and skipped files.
    Deterministic for given inputs."""
    out: list[str] = []
    add = out.append
    add(f"# Audience match report: {_cell(env_name)}")
    add("")
    add(f"Generated {iso(generated_at)} by `audiencectl dry-run` (offline; nothing was stored).")
    if summary.skipped:
        warning = "**Warning: most files were skipped.** " if summary.mostly_skipped() else ""
        add("")
        add(f"{warning}{summary.skipped_words().capitalize()}: see Skipped files below.")
    if summary.datasources:
        add("Data sources: " + ", ".join(_cell(label) for label in summary.datasources) + ".")
    add("")
    add("## Totals")
    add("")
    add("| | count |")
    add("| --- | ---: |")
    add(f"| records | {summary.records} |")
    add(f"| reconciled | {summary.reconciled} |")
    add(f"| duplicates | {summary.duplicates} |")
    add(f"| unreconciled | {sum(summary.outcomes.values())} |")
    add(f"| match rate | {_percent(summary.match_rate)} |")
    add("")
    add("Match rate = reconciled / (records - duplicates).")
    add("")
    add("## Outcomes")
    add("")
    add("| outcome | lines | meaning | fix |")
    add("| --- | ---: | --- | --- |")
    for name, count in _ordered(summary):
        meaning, fix = _explain(name)
        add(f"| `{name}` | {count} | {_prose(meaning)} | {_prose(fix)} |")
    add("")
    add("## Segments")
    add("")
    if summary.segments:
        add("| segment | members | removed |")
        add("| --- | ---: | ---: |")
        for seg in sorted(summary.segments, key=lambda s: (int(s) if s.isdigit() else 0, s)):
            result = summary.segments[seg]
            add(f"| {_cell(seg)} | {len(result.members)} | {len(result.removed)} |")
        add("")
        add("Members and removed count distinct profiles.")
    else:
        add("No segment received a reconciled profile.")
    add("")
    add("## Batches")
    add("")
    if summary.batches:
        add(
            "| batch | mode | destination | files | records | reconciled | duplicates "
            "| match rate |"
        )
        add("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for b in summary.batches:
            dest = "" if b.destination_id is None else str(b.destination_id)
            add(
                f"| {_cell(b.key)} | {b.mode} | {dest} | {len(b.files)} | {b.records} "
                f"| {b.reconciled} | {b.duplicates} | {_percent(b.match_rate)} |"
            )
    else:
        add("No batch was reconciled.")
    add("")
    if summary.causes:
        add("## Website mistakes")
        add("")
        add(
            "Found in the unreconciled lines and confirmed against the profiles "
            "(a decrypted value or a digest that is a profile's)."
        )
        add("")
        add("| data source | cause | lines | outcome | examples | detail | fix |")
        add("| --- | --- | ---: | --- | --- | --- | --- |")
        for item in summary.causes:
            c = item.cause
            add(
                f"| {_cell(item.datasource)} | `{c.code}` | {c.count} | `{c.outcome}` "
                f"| {_cell(', '.join(c.examples))} | {_cell(c.detail)} | {_cell(c.fix)} |"
            )
        add("")
    add("## Unreconciled samples")
    add("")
    if summary.unreconciled_samples:
        add("| file | line | ID | outcome | hint |")
        add("| --- | ---: | --- | --- | --- |")
        for s in summary.unreconciled_samples:
            add(
                f"| {_cell(s.file)} | {s.line} | {_code(s.id)} | `{s.outcome}` | {_prose(s.hint)} |"
            )
    else:
        add("None: every line was reconciled or a duplicate.")
    add("")
    notes = [(b.key, note) for b in summary.batches for note in b.notes]
    if notes:
        add("## Notes")
        add("")
        for key, note in notes:
            add(f"- batch {_cell(key)}: {_cell(note)}")
        add("")
    if summary.skipped:
        add("## Skipped files")
        add("")
        add("| file | reason |")
        add("| --- | --- |")
        for name, reason in summary.skipped:
            add(f"| {_cell(name)} | {_cell(reason)} |")
        add("")
    return "\n".join(printable_name(line) for line in out)  # names stay on one line


def _ordered(summary: Summary) -> list[tuple[str, int]]:
    rows = [("reconciled", summary.reconciled), ("duplicate", summary.duplicates)]
    known = [o.value for o in Outcome]
    rest = sorted(
        (name for name, count in summary.outcomes.items() if count),
        key=lambda n: (known.index(n) if n in known else len(known), n),
    )
    return rows + [(name, summary.outcomes[name]) for name in rest]
