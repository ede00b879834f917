"""No import circle anywhere in the project (imports inside functions count), and the
front ends stay beside each other: screens and widgets never import a command module,
the use cases import neither the console nor click."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import import_cycles  # noqa: E402


def test_the_checker_finds_a_circle_and_a_self_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}, "f": set()}
    assert import_cycles.cycles(graph) == [["a", "b", "c"], ["d"]]


def test_no_import_circle_in_the_project() -> None:
    assert import_cycles.cycles(import_cycles.import_graph()) == []


def test_screens_and_widgets_import_no_command_module() -> None:
    graph = import_cycles.import_graph()
    console = [m for m in graph if m.startswith(("tui.screens", "tui.widgets", "tui.modals"))]
    assert console
    # tui.cli and the tui.commands package, by name part (tui.clipboard shares the prefix)
    bad = {
        m: sorted(i for i in graph[m] if i.split(".")[:2] in (["tui", "cli"], ["tui", "commands"]))
        for m in console
    }
    assert {m: i for m, i in bad.items() if i} == {}


def test_use_cases_import_neither_the_console_nor_click() -> None:
    import grimp

    graph = grimp.build_graph("usecases", include_external_packages=True, cache_dir=None)
    imported = {
        i
        for m in graph.modules
        if m.startswith("usecases")
        for i in graph.find_modules_directly_imported_by(m)
    }
    assert not {i for i in imported if i.split(".")[0] in ("tui", "textual", "click", "rich")}
