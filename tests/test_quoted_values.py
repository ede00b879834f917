"""A value echoed in a message is escaped once: ``'20\\x1b[31m1'``, never ``repr()``'s
doubled backslashes (``'20\\\\x1b[31m1'``) on top of :func:`core.text.printable_name`."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationError
from core.ids import check_numeric_id
from core.text import quoted
from tests.test_import_cli import demo_store


def test_quoted_escapes_once_between_plain_quotes() -> None:
    assert quoted("20\x1b[31m1") == "'20\\x1b[31m1'"
    assert quoted(b"caf\xe9") == "'caf\\xe9'"
    assert quoted("it's") == "'it's'"


def test_a_segment_id_with_an_escape_is_shown_escaped_once() -> None:
    with pytest.raises(ValidationError) as caught:
        check_numeric_id("20\x1b[31m1", "segment_id")
    assert "'20\\x1b[31m1' is not a number" in str(caught.value)
    assert "\\\\" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_checklist_confirm_echoes_an_unknown_id_escaped_once(  # type: ignore[no-untyped-def]
    run_cli, db_path: Path, tmp_path: Path
) -> None:
    demo_store(tmp_path / "demo", db_path)
    result = run_cli("checklist", "confirm", "aam.merge_rule\x1b[31m")
    assert result.code == 2
    assert "'aam.merge_rule\\x1b[31m' is not a manual check" in result.err
    assert "\\\\" not in result.err and "\x1b" not in result.err
