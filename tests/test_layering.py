"""core/ and storage/ never import Textual, Rich or tui/ (docs/architecture.md)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(ROOT / package)])]


@pytest.mark.parametrize("package", ["core", "storage"])
def test_package_imports_no_ui(package: str) -> None:
    modules = _modules(package)
    assert modules, f"no modules found in {package}"
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('textual', 'rich', 'tui'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_headless_commands_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "main(['--help'])\n"
        "print('TEXTUAL' if 'textual' in sys.modules else 'CLEAN', file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stderr.strip().endswith("CLEAN")
