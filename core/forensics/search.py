"""The public entry: ``find_causes`` runs the hypotheses that fit the data source and
turns what they claimed into causes, most lines first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from core.cipher import BLOCK, KEY_SIZES
from core.forensics.aes import AesHypotheses
from core.forensics.engine import Engine, _Claims, _even
from core.forensics.hashes import HashHypotheses
from core.forensics.profiles import ProfileValues
from core.forensics.texts import _detail, _fix
from core.forensics.types import DEFAULT_LIMIT, Cause, Miss
from core.model import DataSource, IdType, Transform


class _Engine(AesHypotheses, HashHypotheses):
    """Every hypothesis, on the misses of one data source."""


def find_causes(
    ds: DataSource,
    key: bytes | None,
    iv: bytes | None,
    misses: Sequence[Miss],
    profiles: ProfileValues,
    *,
    limit_per_outcome: int = DEFAULT_LIMIT,
    totals: Mapping[str, int] | None = None,
    other_keys: Sequence[tuple[str, bytes, bytes]] = (),
    check: Callable[[], None] | None = None,
) -> list[Cause]:
    """The website mistakes that explain ``misses`` of ``ds``, most lines first.

    ``key``/``iv``: the data source's resolved bytes (AES data sources).
    ``misses``: its unreconciled lines (any outcome; visitor data sources give
    nothing). At most ``limit_per_outcome`` per outcome are tested, evenly
    spread; ``totals`` gives the number of misses per outcome when ``misses``
    is already a sample (``MissSample.totals``). ``other_keys``: ``(label, key,
    iv)`` of the environment's AES data sources, tried on IDs that look
    encrypted for a hashed or clear data source. ``check`` is called between
    the steps (each well under a second for 20,000 misses and a million
    profiles) and may raise to cancel. A miss explained by nothing is not
    reported: no cause is a guess.
    """
    if ds.id_type is IdType.VISITOR or not misses:
        return []
    tested, counted = _even(misses, max(1, limit_per_outcome))
    if totals:
        counted = Counter({o: max(n, counted.get(o, 0)) for o, n in totals.items()})
    claims = _Claims(tested)
    engine = _Engine(ds, key, iv, claims, profiles, other_keys, check or (lambda: None))
    if ds.transform is Transform.AES:
        if key is None or iv is None or len(key) not in KEY_SIZES or len(iv) != BLOCK:
            return []
        engine.aes()
    elif ds.transform.is_hash:
        engine.hashed()
    else:
        engine.clear()
    return _causes(ds, claims, engine, counted)


def _causes(ds: DataSource, claims: _Claims, engine: Engine, counted: Counter[str]) -> list[Cause]:
    by_code: dict[str, list[int]] = {}
    for index, (code, _) in claims.found.items():
        by_code.setdefault(code, []).append(index)
    tested = Counter(m.outcome for m in claims.misses)
    out: list[Cause] = []
    for code, indexes in by_code.items():
        indexes.sort(key=lambda i: (claims.misses[i].file, claims.misses[i].line))
        outcomes = Counter(claims.misses[i].outcome for i in indexes)
        tags = Counter(claims.found[i][1] for i in indexes)
        main = outcomes.most_common(1)[0][0]
        detail = _detail(code, ds, tags, len(indexes), engine)
        spread = [f"{n:,} {o}" for o, n in sorted(outcomes.items(), key=lambda x: -x[1])]
        if len(outcomes) > 1:
            detail += " Outcomes: " + ", ".join(spread) + "."
        sampled = [o for o in outcomes if counted.get(o, 0) > tested[o]]
        for o in sampled:
            share = outcomes[o] / tested[o]
            detail += (
                f" {o}: tested {tested[o]:,} of {counted[o]:,} lines spread over the files; "
                f"at this rate about {round(share * counted[o]):,} in all."
            )
        out.append(
            Cause(
                code=code,
                outcome=main,
                count=len(indexes),
                detail=detail,
                fix=_fix(code, ds, tags),
                examples=tuple(claims.misses[i].where for i in indexes[:2]),
                outcomes=tuple(sorted(outcomes.items(), key=lambda x: (-x[1], x[0]))),
            )
        )
    out.sort(key=lambda c: (-c.count, c.code))
    return out
