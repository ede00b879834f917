"""The shared data source checks: settings, priority, reconciliation key, AES, channel,
website sample.
"""

from __future__ import annotations

from core import clock
from core.checks.base import (
    CHANNEL_SAMPLE,
    CheckRun,
    CheckStatus,
    Verdict,
    worst,
)
from core.cipher import parse_iv, parse_key
from core.errors import AudienceError
from core.model import (
    SERVICES,
    Channel,
    DataSource,
    IdType,
    Transform,
)
from core.normalize import normalize_email, normalize_phone
from core.profiles import list_names

#: The request's service that cannot carry AES declared IDs (docs/adobe.md).
PEOPLE_CORE_SERVICE = SERVICES[1]


def _ds_summary(ds: DataSource) -> str:
    dest = (
        "triggers only"
        if ds.triggers_only and ds.destination_id is None
        else (f"destination {ds.destination_id or '-'}")
    )
    return f"{ds.label}: alias {ds.alias or '-'}, DPID {ds.dpid or '-'}, {dest}"


def _no_datasources() -> Verdict:
    return Verdict(
        "fail",
        "no shared data source is configured",
        "add the data source with the alias and AAM destination ID Adobe sent (F5)",
    )


def check_datasource_configured(run: CheckRun) -> Verdict:
    sources = run.env.datasources
    if not sources:
        return _no_datasources()
    gaps = [(ds, ds.missing()) for ds in sources]
    bad = [(ds, missing) for ds, missing in gaps if missing]
    if bad:
        text = "; ".join(f"{ds.label} is missing {', '.join(m)}" for ds, m in bad)
        return Verdict(
            "fail",
            text,
            "enter the Data Source / Alias, the DPID and the AAM destination ID Adobe sent "
            "(F5); the destination ID may stay empty only for a Triggers-only data source",
        )
    return Verdict("pass", "; ".join(_ds_summary(ds) for ds in sources))


def _alias_key(ds: DataSource) -> str:
    return ds.alias.strip().lower()


def _ds_quote(ds: DataSource) -> str:
    """A data source as the priority findings quote it: label, ID type, key, priority."""
    if ds.id_type is IdType.VISITOR:
        what = "Visitor ID"
    else:
        what = f"Declared ID {ds.reconciliation_key or '-'} {ds.transform.value}"
    return f"{ds.label!r} ({what}, priority {ds.priority})"


def check_priority(run: CheckRun) -> Verdict:
    """One ID type per alias (a fail when mixed), and distinct priorities (a warning).

    docs/adobe.md ("Shared data sources"): an AAM data source carries one kind of ID,
    so Visitor IDs and Declared IDs under one alias cannot both be read; priority
    orders the data sources that share an alias (and the current page says it is
    only needed for Triggers), so a shared priority is a warning, quoting both.
    """
    sources = run.env.datasources
    if not sources:
        return Verdict("skip", "no data source", "add one first (F5)")
    by_alias: dict[str, list[DataSource]] = {}
    for ds in sources:
        by_alias.setdefault(_alias_key(ds), []).append(ds)
    mixed = [members for members in by_alias.values() if len({ds.id_type for ds in members}) > 1]
    clashes: list[str] = []
    for members in by_alias.values():
        by_priority: dict[int, list[DataSource]] = {}
        for ds in members:
            by_priority.setdefault(ds.priority, []).append(ds)
        for priority, same in by_priority.items():
            if len(same) > 1:
                clashes.append(
                    f"{' and '.join(_ds_quote(ds) for ds in same)} share alias "
                    f"{same[0].alias or '(no alias)'!r} and priority {priority}"
                )
    order = ", ".join(f"{ds.label} ({ds.priority})" for ds in run.env.by_priority())
    if mixed:
        text = "; ".join(
            f"alias {members[0].alias or '(no alias)'!r} mixes ID types: "
            + ", ".join(_ds_quote(ds) for ds in members)
            for members in mixed
        )
        return Verdict(
            "fail",
            text + (f"; also {'; '.join(clashes)}" if clashes else ""),
            "do not mix ID types under one alias: an AAM data source holds one kind of ID, "
            "so give the Visitor ID and the Declared ID data sources each the alias (and "
            "DPID) of their own AAM data source, as Adobe provisioned them (F5)",
        )
    if clashes:
        return Verdict(
            "warn",
            "; ".join(clashes) + ": which one matches the alias first is undefined",
            "give the preferred data source a higher priority (F5): priority decides which "
            "data source matches an alias first (Campaign's current page: it matters for "
            "Triggers)",
        )
    return Verdict("pass", f"one ID type per alias; matched in this order: {order}")


def _declared(run: CheckRun) -> list[DataSource]:
    return [ds for ds in run.env.datasources if ds.id_type is IdType.DECLARED]


def check_reconciliation_key(run: CheckRun) -> Verdict:
    sources = run.env.datasources
    if not sources:
        return Verdict("skip", "no data source", "add one first (F5)")
    stats = run.ctx.facts.profiles()
    if stats.count == 0:
        return Verdict(
            "warn",
            "no profiles are loaded, so the reconciliation keys cannot be checked",
            "load the profile dimension: `audiencectl profiles load FILE.csv "
            "[--visitors FILE.csv]` (F6)",
        )
    parts: list[str] = []
    statuses: list[CheckStatus] = []
    fixes: list[str] = []
    for ds in sources:
        if ds.id_type is IdType.VISITOR:
            if stats.visitors == 0:
                statuses.append("fail")
                parts.append(f"{ds.label}: visitor IDs, but the visitor map is not loaded")
                fixes.append(
                    "load the visitor-ID map (profile_id,visitor_id from the tracking logs): "
                    "`audiencectl profiles load FILE.csv --visitors VISITORS.csv`"
                )
            else:
                statuses.append("pass")
                parts.append(f"{ds.label}: visitor map has {stats.visitors:,} links")
            continue
        column = ds.reconciliation_key
        if column not in stats.columns:
            statuses.append("fail")
            parts.append(
                f"{ds.label}: column {column!r} is not in the profiles "
                f"(columns: {list_names(stats.columns)})"
            )
            fixes.append(
                f"set {ds.label}'s reconciliation key to a loaded column (F5), or load profiles "
                f"that have {column!r}"
            )
            continue
        empty = run.ctx.facts.empty_count(column)
        share = empty / stats.count
        parts.append(f"{ds.label}: {column!r} is empty for {empty:,} of {stats.count:,} profiles")
        if share > 0.5:
            statuses.append("fail")
            fixes.append(
                f"most profiles have no {column!r}: they can never reconcile; choose a filled "
                "column or fill it"
            )
        elif share > 0.1:
            statuses.append("warn")
            fixes.append(f"{empty:,} profiles without {column!r} will never reconcile")
        else:
            statuses.append("pass")
    return Verdict(worst(statuses), "; ".join(parts), " | ".join(fixes))


def _key_text(ds: DataSource, field_name: str) -> str:
    secret = getattr(ds, field_name)
    return secret.display() if secret is not None else "-"


def check_encryption(run: CheckRun) -> Verdict:
    declared = _declared(run)
    aes = [ds for ds in declared if ds.transform is Transform.AES]
    others = [f"{ds.label}: {ds.transform.value}" for ds in declared if ds not in aes]
    if not aes:
        what = "; ".join(others) if others else "no declared-ID data source"
        return Verdict("skip", f"no data source uses AES ({what})")
    parts: list[str] = []
    fixes: list[str] = []
    failed = False
    for ds in aes:
        try:
            key = parse_key(run.ctx.secret(ds, "aes_key"))
            iv = parse_iv(run.ctx.secret(ds, "aes_iv"))
        except AudienceError as exc:
            failed = True
            parts.append(f"{ds.label}: {exc.message}")
            fixes.append(exc.hint or "check the key and IV (F5)")
            continue
        parts.append(
            f"{ds.label}: AES-{len(key) * 8}-CBC key {_key_text(ds, 'aes_key')}, "
            f"IV {len(iv)} bytes {_key_text(ds, 'aes_iv')}, ciphertext "
            f"{ds.ciphertext_encoding.value}"
        )
    parts.extend(others)
    service = run.env.request.service
    if service == PEOPLE_CORE_SERVICE:
        failed = True
        parts.append(
            f"the request asks for the {service}, but "
            f"{', '.join(repr(ds.label) for ds in aes)} encrypt{'s' if len(aes) == 1 else ''} "
            "declared IDs with AES"
        )
        fixes.append(
            "Adobe Audience Manager is required for encrypted declared IDs: request "
            "Adobe Audience Manager (F3), or hash the declared IDs instead of encrypting them"
        )
    return Verdict("fail" if failed else "pass", "; ".join(parts), " | ".join(fixes))


def check_channel(run: CheckRun) -> Verdict:
    declared = _declared(run)
    if not declared:
        return Verdict("skip", "no declared-ID data source: the channel does not apply")
    stats = run.ctx.facts.profiles()
    parts: list[str] = []
    statuses: list[CheckStatus] = []
    fixes: list[str] = []
    for ds in declared:
        if ds.channel is Channel.OTHER:
            statuses.append("pass")
            parts.append(f"{ds.label}: channel Other, {ds.reconciliation_key!r} compared as is")
            continue
        if stats.count == 0 or ds.reconciliation_key not in stats.columns:
            statuses.append("skip")
            parts.append(
                f"{ds.label}: no loaded profile column {ds.reconciliation_key!r} to sample"
            )
            continue
        values = run.ctx.facts.column_sample(ds.reconciliation_key, CHANNEL_SAMPLE)
        if not values:
            statuses.append("skip")
            parts.append(f"{ds.label}: {ds.reconciliation_key!r} has no value to sample")
            continue
        fits = normalize_email if ds.channel is Channel.EMAIL else normalize_phone
        what = "email addresses" if ds.channel is Channel.EMAIL else "phone numbers"
        good = sum(1 for v in values if fits(v) is not None)
        share = good / len(values)
        parts.append(
            f"{ds.label}: channel {ds.channel.value}, {good} of {len(values)} sampled values of "
            f"{ds.reconciliation_key!r} are {what} ({share:.0%})"
        )
        if share < 0.5:
            statuses.append("fail")
            fixes.append(
                f"{ds.label}: the channel must match the reconciliation key: pick the column "
                f"holding {what}, or set the channel to Other (F5)"
            )
        elif share < 0.9:
            statuses.append("warn")
            fixes.append(f"{ds.label}: clean the values that are not {what}; they cannot match")
        else:
            statuses.append("pass")
    status = worst(statuses)
    if status == "skip" and not fixes:
        fixes.append("load profiles: `audiencectl profiles load FILE.csv`")
    return Verdict(status, "; ".join(parts), " | ".join(fixes))


def check_website_sample(run: CheckRun) -> Verdict:
    declared = [ds for ds in _declared(run) if ds.transform is not Transform.NONE]
    if not declared:
        return Verdict("skip", "no data source hashes or encrypts declared IDs")
    parts: list[str] = []
    statuses: list[CheckStatus] = []
    fixes: list[str] = []
    for ds in declared:
        sample = run.ctx.facts.last_sample(ds.label)
        if sample is None:
            statuses.append("skip")
            parts.append(f"{ds.label}: no website sample checked yet")
            fixes.append(
                "capture a value the website sends (its clear text and the encrypted or "
                f"hashed ID) and run `audiencectl crypto diagnose --datasource {ds.label!r} "
                "--clear VALUE --sample VALUE --from-website` (or F5 > Website check, with "
                "'From the website: keep it' ticked)"
            )
            continue
        when = clock.iso(sample.at)
        if sample.diagnosis == "ok":
            statuses.append("pass")
            parts.append(f"{ds.label}: the sample of {when} matches ({sample.detail})")
        else:
            statuses.append("fail")
            parts.append(f"{ds.label}: the sample of {when} differs: {sample.diagnosis}")
            fixes.append(sample.detail or "see `audiencectl crypto diagnose`")
    return Verdict(worst(statuses), "; ".join(parts), " | ".join(fixes))
