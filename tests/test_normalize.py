"""core.normalize: one function per channel, applied to both sides of a match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.model import Channel
from core.normalize import (
    normalize,
    normalize_batch,
    normalize_email,
    normalize_emails,
    normalize_phone,
    normalize_phones,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  Alice@Example.COM \t", "alice@example.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("ÉLODIE@exemple.fr", "élodie@exemple.fr"),
        ("\u00a0bob@example.org\u2003", "bob@example.org"),  # Unicode spaces trimmed too
    ],
)
def test_email_normalized(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "alice@@example.com",
        "alice@bob@example.com",
        "ali ce@example.com",
        "alice@exa mple.com",
        "alice@example..com",
        "alice@.example.com",
        "alice@example.com.",
        "alice\x00@example.com",
        "alice@example.com\x07x",
        "alice\u0085@example.com",  # C1 control
    ],
)
def test_email_rejected(raw: str) -> None:
    assert normalize_email(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44 (0)20 7946 0958", "+442079460958"),  # trunk zero dropped internationally
        ("06.12.34.56.78", "0612345678"),  # national: no country known, digits kept
        ("(020) 7946-0958", "02079460958"),
        ("  +49-30-123456  ", "+4930123456"),
        ("123456", "123456"),  # 6 digits: the minimum
        ("+123456789012345", "+123456789012345"),  # 15 digits: the E.164 maximum
    ],
)
def test_phone_normalized(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12345",  # too short
        "+1234567890123456",  # 16 digits
        "00 1234567890123456",  # 16 digits after 00
        "+33 6 12 34 56 7a",  # letters
        "call me",
        "06 12 34 56 78 ext 12",
        "+33+612345678",  # a second plus
        "33+612345678",
        "06/12/34/56/78",  # other punctuation
        "٠٦١٢٣٤٥٦٧٨",  # non-ASCII digits
        "(((...)))",
    ],
)
def test_phone_rejected(raw: str) -> None:
    assert normalize_phone(raw) is None


def test_normalize_dispatches_per_channel() -> None:
    assert normalize(" A@B.io ", Channel.EMAIL) == "a@b.io"
    assert normalize("+33 6 12 34 56 78", Channel.SMS) == "+33612345678"
    assert normalize(" CRM-42 ", Channel.OTHER) == " CRM-42 "  # other: as is
    assert normalize("", Channel.OTHER) is None
    assert normalize("not mail", Channel.EMAIL) is None
    assert normalize("not a phone", Channel.SMS) is None


def test_batch_versions_keep_order_and_length() -> None:
    values = [" A@B.io", "nope", "", "c@d.org "]
    assert normalize_emails(values) == ["a@b.io", None, None, "c@d.org"]
    phones = ["+33 6 12 34 56 78", "x", "0033612345678"]
    assert normalize_phones(phones) == ["+33612345678", None, "+33612345678"]
    assert normalize_batch(["a", "", " b"], Channel.OTHER) == ["a", None, " b"]


_texts = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")), max_size=40
)
_emailish = st.builds(
    lambda local, domain, tld, pre, post: f"{pre}{local}@{domain}.{tld}{post}",
    st.text(alphabet="abcXYZ.+_-0189", min_size=1, max_size=12),
    st.text(alphabet="abcdEFG-09", min_size=1, max_size=12),
    st.sampled_from(["com", "FR", "co.uk"]),
    st.sampled_from(["", " ", "\t", "  "]),
    st.sampled_from(["", " ", "\n"]),
)
_phoneish = st.text(alphabet="0123456789 .-()+", max_size=25)


@given(st.lists(st.one_of(_texts, _emailish, _phoneish), max_size=30))
def test_batch_equals_single(values: list[str]) -> None:
    for channel in Channel:
        assert normalize_batch(values, channel) == [normalize(v, channel) for v in values]


@given(st.one_of(_texts, _emailish, _phoneish))
def test_idempotent_and_clean(value: str) -> None:
    """Normalizing twice changes nothing: both sides of a match meet whichever side ran first."""
    for channel in Channel:
        once = normalize(value, channel)
        if once is not None:
            assert normalize(once, channel) == once
    email = normalize_email(value)
    if email is not None:
        assert email == email.strip().lower() and email.count("@") == 1
    phone = normalize_phone(value)
    if phone is not None:
        digits = phone.removeprefix("+")
        assert digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15
