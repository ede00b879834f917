"""Confirming the manual checks (``audiencectl checklist confirm|unconfirm``, ``c`` on the
checklist): validation and storage here, the front ends only parse and print.

A confirmation records who (the OS user), when, an optional note and the
fingerprint of the configuration the check concerns (``core.checks.manual``).
The check is re-run and its verdict saved at once, so the checklist and the
home screen show it without a full run.
"""

from __future__ import annotations

import getpass
import os

from core import clock
from core.checks import (
    MANUAL_CHECK_IDS,
    CheckResult,
    Confirmation,
    fingerprint,
    manual_spec,
    run_checks,
)
from core.errors import InputError
from core.text import printable_name, quoted
from storage.checks import context_for, save_results
from storage.confirmations import remove_confirmation, save_confirmation
from usecases.services import Services

__all__ = ["MAX_NOTE", "confirm_check", "os_user", "unconfirm_check"]

#: The longest note kept with a confirmation (docs/reference.md §8).
MAX_NOTE = 500


def os_user() -> str:
    """Who is confirming: the OS login name (``USER`` as a fallback), or ``unknown``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = os.environ.get("USER", "")
    return printable_name(name.strip()) or "unknown"


def _manual_id(check_id: str) -> str:
    wanted = check_id.strip()
    if wanted not in MANUAL_CHECK_IDS:
        raise InputError(
            f"{quoted(wanted)} is not a manual check",
            f"manual checks: {', '.join(MANUAL_CHECK_IDS)}",
        )
    return wanted


def _rerun(services: Services, check_id: str) -> CheckResult:
    env = services.env()
    ctx = context_for(services.store, env, box=services.box, offline=True)
    (result,) = run_checks(ctx, only=[check_id])
    save_results(services.store, env.name, [result], replace_all=False)
    return result


def confirm_check(
    services: Services, check_id: str, note: str = "", who: str | None = None
) -> CheckResult:
    """Records that a person saw the manual step ``check_id`` done; returns its new verdict."""
    wanted = _manual_id(check_id)
    text = " ".join(note.split())
    if len(text) > MAX_NOTE:
        raise InputError(
            f"the note is {len(text)} characters; at most {MAX_NOTE} are kept",
            "shorten --note",
        )
    env = services.env()
    confirmation = Confirmation(
        wanted,
        who if who is not None else os_user(),
        clock.now(),
        printable_name(text),
        fingerprint(manual_spec(wanted).concerns(env)),
    )
    save_confirmation(services.store, env.name, confirmation)
    return _rerun(services, wanted)


def unconfirm_check(services: Services, check_id: str) -> tuple[bool, CheckResult]:
    """Withdraws a confirmation: (whether there was one, the check's new verdict)."""
    wanted = _manual_id(check_id)
    env = services.env()
    removed = remove_confirmation(services.store, env.name, wanted)
    return removed, _rerun(services, wanted)
