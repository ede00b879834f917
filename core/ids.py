"""Checks for the identifiers of the integration (docs/adobe.md, "IDs").

Each ``check_*`` returns the cleaned value or raises ``ValidationError``
naming the field, what is wrong and how to fix it.
"""

from __future__ import annotations

import re

from core.errors import ValidationError
from core.text import quoted

_IMS_ORG = re.compile(r"[A-Za-z0-9]{24}@AdobeOrg")
_DIGITS = re.compile(r"[0-9]+")
_INT63_MAX = 2**63 - 1
#: The most digits a numeric field (DPID, destination ID, priority, port) may have:
#: a signed 64-bit integer, as TOML and SQLite keep them, has at most 19.
MAX_NUMBER_DIGITS = 19

IMS_ORG_HINT = (
    "24 letters or digits followed by @AdobeOrg, e.g. 5DC5123F5245B1D20A490D46@AdobeOrg; "
    "find it in Experience Cloud > Administration, or in the welcome email"
)


def is_ims_org_id(value: str) -> bool:
    """True when ``value`` is 24 alphanumerics followed by ``@AdobeOrg``."""
    return bool(_IMS_ORG.fullmatch(value))


def check_ims_org_id(value: str, field: str = "ims_org_id") -> str:
    value = value.strip()
    if not value:
        raise ValidationError(field, "is required", IMS_ORG_HINT)
    if not is_ims_org_id(value):
        raise ValidationError(field, f"{value!r} is not an IMS Org ID", IMS_ORG_HINT)
    return value


def is_ecid(value: str) -> bool:
    """True for a 38-digit Experience Cloud ID whose two 19-digit halves fit in int64."""
    if len(value) != 38 or not value.isascii() or not value.isdigit():
        return False
    return int(value[:19]) <= _INT63_MAX and int(value[19:]) <= _INT63_MAX


#: What each numeric ID is, for the hint of a value that is not one.
SEGMENT_ID_HINT = "a segment (or trait) ID as Audience Manager shows it, digits only, e.g. 201"
_NOT_A_NUMBER_HINTS = {
    "segment_id": SEGMENT_ID_HINT,
    "destination_id": "only digits: the destination ID Adobe sent, e.g. 46390",
}
_DEFAULT_HINT = "only digits, e.g. 14016 (not the alias text)"


def check_numeric_id(value: object, field: str, *, required: bool = True) -> int | None:
    """A positive integer ID (DPID, destination ID, segment ID); str or int accepted."""
    if value is None or value == "":
        if required:
            raise ValidationError(
                field,
                "is required",
                SEGMENT_ID_HINT
                if field == "segment_id"
                else "Adobe sends this number after provisioning",
            )
        return None
    if isinstance(value, bool):
        raise ValidationError(field, "must be a number", "write it without quotes, e.g. 14016")
    if isinstance(value, int):
        check_number_size(value, field)
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        check_digits(value.strip(), field)
        number = int(value.strip())
    else:
        raise ValidationError(
            field,
            f"{quoted(excerpt_text(str(value)))} is not a number",
            _NOT_A_NUMBER_HINTS.get(field, _DEFAULT_HINT),
        )
    if number <= 0:
        raise ValidationError(
            field, "must be a positive number", _NOT_A_NUMBER_HINTS.get(field, "e.g. 14016")
        )
    if number > _INT63_MAX:
        raise ValidationError(field, "is too large", f"at most {_INT63_MAX}")
    return number


def check_digits(digits: str, field: str) -> None:
    """Refuses a run of digits longer than :data:`MAX_NUMBER_DIGITS` (before ``int()``)."""
    count = len(digits.lstrip("+-"))
    if count > MAX_NUMBER_DIGITS:
        raise ValidationError(
            field, f"has {count} digits", f"a number of at most {MAX_NUMBER_DIGITS} digits"
        )


def check_number_size(number: int, field: str) -> None:
    """Refuses an integer outside the signed 64-bit range (before it is printed or stored)."""
    if not -_INT63_MAX - 1 <= number <= _INT63_MAX:
        raise ValidationError(
            field, "is too large", f"a number of at most {MAX_NUMBER_DIGITS} digits"
        )


def excerpt_text(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_segment_list(text: str) -> bool:
    """True for a comma-separated list of numeric segment IDs (at least one)."""
    return bool(text) and all(part.isascii() and part.isdigit() for part in text.split(","))
