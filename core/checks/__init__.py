"""The troubleshooting checklist (docs/reference.md §6), in the order of Adobe's setup page.

Each check is a function of a :class:`CheckRun` returning a :class:`CheckResult`:
a status (``pass|warn|fail|skip``), a short title, the evidence looked at
(``detail``, secrets masked), the fix in plain words and the console screen
where it is fixed. The front end builds a :class:`CheckContext`: the
environment, :class:`Facts` (everything read from the store, implemented in
``storage.checks``), a secrets resolver, whether to stay offline, the probe
timeout, the DNS resolver and the website fetcher. Core never touches SQLite.

One live probe per account is shared by its ``reachable``, ``readable`` and
``writable`` checks within a run. A check that raises unexpectedly becomes a
``fail`` carrying the error's one-line message; a run never crashes.
"""

from core.checks.base import (
    STATUSES,
    CheckContext,
    CheckResult,
    CheckRun,
    CheckSpec,
    CheckStatus,
    Confirmation,
    Facts,
    FixScreen,
    ProfileFacts,
    SampleFact,
    Verdict,
    known_secrets,
    scrub,
    summarize,
)
from core.checks.manual import fingerprint, manual_spec
from core.checks.registry import (
    CHECK_IDS,
    CHECKS,
    MANUAL_CHECK_IDS,
    SECTIONS,
    run_checks,
    spec_for,
)

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "MANUAL_CHECK_IDS",
    "SECTIONS",
    "STATUSES",
    "CheckContext",
    "CheckResult",
    "CheckRun",
    "CheckSpec",
    "CheckStatus",
    "Confirmation",
    "Facts",
    "FixScreen",
    "ProfileFacts",
    "SampleFact",
    "Verdict",
    "fingerprint",
    "known_secrets",
    "manual_spec",
    "run_checks",
    "scrub",
    "spec_for",
    "summarize",
]
