"""The TOML loader answers every input with an Environment or a one-line ConfigError."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.config import parse_environment
from core.errors import ConfigError
from tests.conftest import SAMPLE_TOML

ASSIGNMENT = re.compile(r"^(\s*[a-z_]+\s*=\s*)(.*?)(\s*(#.*)?)$", re.MULTILINE)
SLOTS = [m.span(2) for m in ASSIGNMENT.finditer(SAMPLE_TOML)]

toml_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=40).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.lists(st.integers(0, 9), max_size=3).map(str),
    st.just("{ a = 1 }"),
    st.just("2026-01-01T00:00:00Z"),
    st.text(max_size=10),  # raw garbage, often invalid TOML
)


def _accepts(text: str) -> None:
    try:
        parse_environment(text)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(SLOTS) - 1), toml_values), min_size=1, max_size=4))
def test_any_value_in_any_slot(edits: list[tuple[int, str]]) -> None:
    text = SAMPLE_TOML
    for slot, value in sorted(edits, key=lambda e: -SLOTS[e[0]][0]):
        start, end = SLOTS[slot]
        text = text[:start] + value + text[end:]
    _accepts(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
@example("name = 'x'\n[[accounts]]\n")
@example('name = "x"\ndatasources = 3\n')
@example('name = "x"\n[[datasources]]\nlabel = "a"\n[[datasources]]\nlabel = "a"\n')
@example('name = "x"\n[accounts]\nimport = 1\n')
@example('name = "x"\nrequest = []\n')
def test_arbitrary_text(text: str) -> None:
    _accepts(text)


@pytest.mark.parametrize(
    "snippet",
    [
        'name = "x"\n[[accounts]]\n',  # accounts as an array
        'name = "x"\ndatasources = 3\n',
        'name = "x"\n[accounts]\nimport = 1\n',
        'name = "x"\nrequest = []\n',
        'name = "x"\n[workflow]\ninterval_minutes = 1\n',
        'name = "x"\n[[datasources]]\nlabel = "a"\n[[datasources]]\nlabel = "a"\n',
        'name = "x"\n[[datasources]]\nlabel = "a"\ndpid = "Adobe Campaign (14016)"\n',
    ],
)
def test_regressions(snippet: str) -> None:
    with pytest.raises(ConfigError):
        parse_environment(snippet)
