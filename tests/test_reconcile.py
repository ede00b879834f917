"""core.reconcile over a generated dataset whose outcomes are known by construction."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from core.cipher import decrypt_batch, encrypt_batch, hash_batch, parse_iv, parse_key
from core.errors import InputError
from core.model import DataSource, Environment, Transform
from core.outcomes import Outcome
from core.profiles import CsvProfiles
from core.reconcile import (
    AudienceFile,
    BatchInput,
    BatchResult,
    Cancelled,
    Progress,
    SourceCause,
    batches_from_paths,
    build_codecs,
    reconcile_batches,
    summarize,
)
from core.secrets import Secret

KEY_HEX = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
IV_HEX = "000102030405060708090a0b0c0d0e0f"
WRONG_KEY_HEX = "2b7e151628aed2a6abf7158809cf4f3c"
KEY, IV = parse_key(KEY_HEX), parse_iv(IV_HEX)
TS = 1793541600000

E1, E2, E3 = "alice@example.com", "bruno@example.com", "chloe@example.com"
ECID = [f"{1000000000000000000 + n:019d}{2000000000000000000 + n:019d}" for n in range(6)]
UNKNOWN_ECID = f"{3000000000000000000:019d}{4000000000000000000:019d}"


def datasources() -> tuple[DataSource, ...]:
    return (
        DataSource(
            label="Email AES",
            alias="A",
            dpid=14016,
            destination_id=500,
            priority=10,
            id_type="declared",
            reconciliation_key="email",
            transform=Transform.AES,
            aes_key=Secret("literal", KEY_HEX),
            aes_iv=Secret("literal", IV_HEX),
            channel="email",
        ),
        DataSource(label="Visitors", alias="V", dpid=14016, destination_id=700),
        DataSource(
            label="Mobile",
            alias="M",
            dpid=14017,
            destination_id=800,
            priority=5,
            id_type="declared",
            reconciliation_key="mobile_phone",
            channel="sms",
        ),
        DataSource(
            label="CRM SHA-256",
            alias="C",
            dpid=14018,
            destination_id=900,
            priority=1,
            id_type="declared",
            reconciliation_key="customer_id",
            transform=Transform.SHA256,
            channel="other",
        ),
        # Two data sources on one destination: priority decides.
        DataSource(
            label="Loyalty low",
            alias="L",
            dpid=14019,
            destination_id=600,
            priority=1,
            id_type="declared",
            reconciliation_key="alias_b",
        ),
        DataSource(
            label="Loyalty high",
            alias="H",
            dpid=14019,
            destination_id=600,
            priority=7,
            id_type="declared",
            reconciliation_key="alias_a",
        ),
    )


def environment() -> Environment:
    return Environment(name="test", datasources=datasources())


def resolve(ds: DataSource, field_name: str) -> str:
    secret = getattr(ds, field_name)
    return secret.ref if secret is not None else ""


PROFILES = [
    # id, email (mixed case, padded), mobile (spaces), customer_id, alias_a, alias_b
    ("P1", "  Alice@Example.COM ", "+33 6 12 34 56 78", "CRM-1", "X1", "Y9"),
    ("P2", "bruno@example.com", "+33 6 00 00 00 02", "CRM-2", "", "X1"),
    ("P3", "CHLOE@example.com", "06 11 22 33 44", "CRM-3", "", "Y3"),
    ("P4", "", "+44 (0)20 7946 0958", "CRM-4", "", ""),
    ("P5", "dora@example.com", "", "CRM-5", "", ""),
    ("P6", "eve@example.com", "+1 (555) 010-0199", "CRM-6", "", ""),
]
VISITORS = [("P1", ECID[0]), ("P2", ECID[1]), ("P2", ECID[2]), ("P3", ECID[3]), ("P5", ECID[4])]


def _aes(texts: list[bytes], key: bytes = KEY) -> list[str]:
    return [c.hex() for c in encrypt_batch(key, IV, texts)]


def _bad_padding_ciphertext() -> str:
    """A ciphertext under another key whose decryption under KEY has invalid padding."""
    wrong = parse_key(WRONG_KEY_HEX)
    for n in range(50):
        ct = encrypt_batch(wrong, IV, [f"carol{n}@example.com".encode()])[0]
        if decrypt_batch(KEY, IV, [ct])[0] is Outcome.BAD_PADDING:
            return ct.hex()
    raise AssertionError("no bad-padding sample found")


@dataclass
class Expect:
    """One batch's expected result, counted line by line as the file is written."""

    records: int = 0
    reconciled: int = 0
    duplicates: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.records += 1
        if outcome is Outcome.RECONCILED:
            self.reconciled += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.outcomes[outcome.value] += 1


@dataclass
class Dataset:
    root: Path
    inbox: Path
    profiles_csv: Path
    visitors_csv: Path
    env: Environment
    expected: dict[str, Expect]


def late_duplicate_and_unrouted(profiles_csv: Path, folder: Path) -> tuple[Path, Path]:
    """A copy of ``profiles_csv`` whose last row repeats the first id, and an inbox
    holding one batch routed to no data source (so a run never reads the profiles)."""
    lines = profiles_csv.read_text(encoding="utf-8").splitlines()
    dup = folder / "dup.csv"
    dup.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    unrouted = folder / "unrouted"
    unrouted.mkdir()
    (unrouted / "ftp_999_14016_full_1793541600000.sync").write_text("a1\t24\n")
    return dup, unrouted


def _write_lines(path: Path, lines: list[str], gz: bool = False) -> dict[str, object]:
    data = ("\n".join(lines) + "\n").encode()
    raw = gzip.compress(data, mtime=0) if gz else data
    path.write_bytes(raw)
    return {
        "FileName": path.name,
        "FileLineCount": len(lines),
        "FileByteSize": len(raw),
        "md5": hashlib.md5(raw, usedforsecurity=False).hexdigest(),
    }


def build_dataset(root: Path) -> Dataset:
    """Profiles, visitors and AAM files covering every outcome; expectations per batch."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    profiles_csv = root / "profiles.csv"
    header = "id,email,mobile_phone,customer_id,alias_a,alias_b"
    body = "\n".join(",".join(f'"{v}"' if "," in v else v for v in row) for row in PROFILES)
    profiles_csv.write_text(header + "\n" + body + "\n", encoding="utf-8")
    visitors_csv = root / "visitors.csv"
    visitors_csv.write_text(
        "visitor_id,profile_id\n" + "\n".join(f"{v},{p}" for p, v in VISITORS) + "\n",
        encoding="utf-8",
    )
    expected: dict[str, Expect] = {}

    # -- destination 500: AES emails, a full batch in two parts (one gzipped) + .info
    key500 = f"ftp_500_14016_full_{TS}"
    exp = expected[key500] = Expect()
    good = _aes([b"alice@example.com", b"  BRUNO@Example.com", b"Chloe@Example.Com"])
    part1: list[str] = []
    part1.append(f"{good[0]} 11,12")
    exp.add(Outcome.RECONCILED)
    part1.append(f"{good[1]}\t11\t13")  # removed from 13 in a full batch
    exp.add(Outcome.RECONCILED)
    part1.append(f"{_aes([b'nobody@elsewhere.example'])[0]} 11")
    exp.add(Outcome.NOT_FOUND)
    part1.append("zz-not-hex-at-all 11")
    exp.add(Outcome.BAD_ENCODING)
    part1.append(f"{good[2][:-6]} 12")  # truncated: not a multiple of 16 bytes
    exp.add(Outcome.BAD_ENCODING)
    part1.append(f"{_bad_padding_ciphertext()} 11")
    exp.add(Outcome.BAD_PADDING)
    not_text = _aes([b"\xff\xfe\x80 not text"])[0]
    part1.append(f"{not_text} 12")
    exp.add(Outcome.NOT_UTF8)
    part1.append(f"{_aes([b'customer 4711'])[0]} 12")
    exp.add(Outcome.INVALID_EMAIL)
    part1.append(f"{good[0]} 13")  # the same ID again in the same part
    exp.add(Outcome.DUPLICATE)
    part1.append("")  # blank lines are not records
    part2: list[str] = [f"{good[2]} 12"]
    exp.add(Outcome.RECONCILED)
    part2.append(f"{good[1]} 11")  # repeated across split parts
    exp.add(Outcome.DUPLICATE)
    part2.append(f"{good[0][:32]}")  # no segment field
    exp.add(Outcome.MALFORMED_LINE)
    part2.append(f"{good[0]} 11,x")  # a malformed line stays malformed, never duplicate
    exp.add(Outcome.MALFORMED_LINE)
    part2.append("zz-not-hex-at-all 12")  # a duplicate of a failure is still a duplicate
    exp.add(Outcome.DUPLICATE)
    files = [
        _write_lines(inbox / f"{key500}001.sync.gz", part1, gz=True),
        _write_lines(inbox / f"{key500}002.sync", part2),
    ]
    (inbox / f"{key500}.info").write_text(
        json.dumps({"Files": files}).replace('"Files":', "Files:"), encoding="utf-8"
    )

    # -- destination 700: visitor IDs, iter with removals
    key700 = f"ftp_700_14016_iter_{TS + 1000}"
    exp = expected[key700] = Expect()
    lines = [f"{ECID[0]}\t21,22"]
    exp.add(Outcome.RECONCILED)
    lines.append(f"{ECID[1]}\t22\t21")  # P2 removed from 21
    exp.add(Outcome.RECONCILED)
    lines.append(f"{ECID[2]}\t22")  # P2's second visitor ID
    exp.add(Outcome.RECONCILED)
    lines.append(f"{ECID[4]}\t23\t21,22")
    exp.add(Outcome.RECONCILED)
    lines.append(f"{UNKNOWN_ECID}\t21")
    exp.add(Outcome.NOT_FOUND)
    lines.append("12345678901234567890\t21")
    exp.add(Outcome.INVALID_VISITOR_ID)
    lines.append("9" * 38 + "\t21")  # 38 digits, but a half exceeds 2^63-1
    exp.add(Outcome.INVALID_VISITOR_ID)
    lines.append(f"{ECID[0]}\t23")
    exp.add(Outcome.DUPLICATE)
    lines.append("garbage-line-without-segments")
    exp.add(Outcome.MALFORMED_LINE)
    _write_lines(inbox / f"{key700}.sync", lines)

    # -- destination 800: clear mobile numbers written with punctuation
    key800 = f"ftp_800_14017_full_{TS + 2000}"
    exp = expected[key800] = Expect()
    lines = ["+33.6.12.34.56.78 31"]  # P1
    exp.add(Outcome.RECONCILED)
    lines.append("0033600000002 31,32")  # P2, 00 prefix
    exp.add(Outcome.RECONCILED)
    lines.append("06-11-22-33-44 32")  # P3, national
    exp.add(Outcome.RECONCILED)
    lines.append("+44(0)2079460958 32")  # P4, trunk zero
    exp.add(Outcome.RECONCILED)
    lines.append("+1(555)010-0199 31 32")  # P6, removed from 32
    exp.add(Outcome.RECONCILED)
    lines.append("+33699999999 31")
    exp.add(Outcome.NOT_FOUND)
    lines.append("call-center 31")
    exp.add(Outcome.INVALID_PHONE)
    lines.append("12 31")  # too few digits
    exp.add(Outcome.INVALID_PHONE)
    _write_lines(inbox / f"{key800}.sync", lines)

    # -- destination 900: SHA-256 of the CRM ID
    key900 = f"ftp_900_14018_full_{TS + 3000}"
    exp = expected[key900] = Expect()
    digests = hash_batch(Transform.SHA256, ["CRM-1", "CRM-5", "CRM-404"])
    lines = [f"{digests[0]} 41", f"{digests[1].upper()} 41"]  # hex case is tolerated
    exp.add(Outcome.RECONCILED)
    exp.add(Outcome.RECONCILED)
    lines.append(f"{digests[2]} 41")
    exp.add(Outcome.NOT_FOUND)
    lines.append(f"{digests[0][:40]} 41")
    exp.add(Outcome.WRONG_HASH_LENGTH)
    lines.append(f"{'z' * 64} 41")
    exp.add(Outcome.BAD_ENCODING)
    _write_lines(inbox / f"{key900}.sync", lines)

    # -- destination 600: two data sources, priority order
    key600 = f"ftp_600_14019_iter_{TS + 4000}"
    exp = expected[key600] = Expect()
    lines = ["X1 51"]  # alias_a of P1 (high) and alias_b of P2 (low): high wins
    exp.add(Outcome.RECONCILED)
    lines.append("Y3 52")  # only alias_b of P3: falls through to the low one
    exp.add(Outcome.RECONCILED)
    lines.append("nobody 51")
    exp.add(Outcome.NOT_FOUND)
    _write_lines(inbox / f"{key600}.sync", lines)

    # -- skipped: no data source for destination 999; an incomplete split batch; junk
    _write_lines(inbox / f"ftp_999_14016_full_{TS + 5000}.sync", [f"{ECID[0]} 1"])
    _write_lines(inbox / f"ftp_700_14016_full_{TS + 6000}001.sync", [f"{ECID[0]} 1"])
    _write_lines(inbox / f"ftp_700_14016_full_{TS + 6000}003.sync", [f"{ECID[1]} 1"])
    (inbox / "notes.txt").write_text("not an AAM file\n", encoding="utf-8")
    return Dataset(root, inbox, profiles_csv, visitors_csv, environment(), expected)


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return build_dataset(tmp_path)


def run(
    data: Dataset, *, chunk_lines: int = 16384, datasource: str | None = None, **kwargs: object
) -> tuple[dict[str, BatchResult], list[tuple[str, str]]]:
    batches, skipped = batches_from_paths([data.inbox])
    codecs = build_codecs(data.env, resolve)
    profiles = CsvProfiles(data.profiles_csv, data.visitors_csv)
    results = reconcile_batches(
        batches,
        data.env,
        codecs,
        profiles,
        datasource=datasource,
        skipped=skipped,
        chunk_lines=chunk_lines,
        **kwargs,  # type: ignore[arg-type]
    )
    return {r.key: r for r in results}, skipped


def members(result: BatchResult, seg: str) -> set[str]:
    return result.segments[seg].members


def removed(result: BatchResult, seg: str) -> set[str]:
    return result.segments[seg].removed


# --------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize("chunk_lines", [1, 3, 16384])
def test_every_batch_matches_its_construction(dataset: Dataset, chunk_lines: int) -> None:
    results, _ = run(dataset, chunk_lines=chunk_lines)
    assert set(results) == set(dataset.expected)
    for key, exp in dataset.expected.items():
        got = results[key]
        assert (got.records, got.reconciled, got.duplicates) == (
            exp.records,
            exp.reconciled,
            exp.duplicates,
        ), key
        assert +got.outcomes == exp.outcomes, key
        assert got.records == got.reconciled + got.duplicates + sum(got.outcomes.values())


def test_every_outcome_code_is_covered(dataset: Dataset) -> None:
    results, _ = run(dataset)
    summary = summarize(results.values())
    seen = set(summary.outcomes)
    assert summary.reconciled > 0 and summary.duplicates > 0
    assert seen | {"reconciled", "duplicate"} == {o.value for o in Outcome}


def test_segments_aes_split_batch(dataset: Dataset) -> None:
    results, _ = run(dataset)
    full = results[f"ftp_500_14016_full_{TS}"]
    assert full.mode == "full"
    assert full.files == [f"ftp_500_14016_full_{TS}001.sync.gz", f"ftp_500_14016_full_{TS}002.sync"]
    assert members(full, "11") == {"P1", "P2"}  # mixed-case, padded emails on both sides
    assert members(full, "12") == {"P1", "P3"}
    assert members(full, "13") == set()  # only the duplicate line named 13
    assert removed(full, "13") == {"P2"}  # removed lists are kept in full batches too


def test_segments_visitor_iter_batch(dataset: Dataset) -> None:
    results, _ = run(dataset)
    it = results[f"ftp_700_14016_iter_{TS + 1000}"]
    assert it.mode == "iter"
    assert members(it, "21") == {"P1"}
    assert members(it, "22") == {"P1", "P2"}  # P2 through two visitor IDs: counted once
    assert members(it, "23") == {"P5"}
    assert removed(it, "21") == {"P2", "P5"}
    assert removed(it, "22") == {"P5"}


def test_sms_numbers_with_punctuation(dataset: Dataset) -> None:
    results, _ = run(dataset)
    sms = results[f"ftp_800_14017_full_{TS + 2000}"]
    assert members(sms, "31") == {"P1", "P2", "P6"}
    assert members(sms, "32") == {"P2", "P3", "P4"}
    assert removed(sms, "32") == {"P6"}


def test_priority_higher_wins_and_lower_catches_the_rest(dataset: Dataset) -> None:
    results, _ = run(dataset)
    pair = results[f"ftp_600_14019_iter_{TS + 4000}"]
    assert pair.datasources == ["Loyalty high", "Loyalty low"]
    assert members(pair, "51") == {"P1"}  # not P2, which the low-priority source maps X1 to
    assert members(pair, "52") == {"P3"}


def test_priority_follows_the_numbers_not_the_file_order(dataset: Dataset) -> None:
    swapped = tuple(
        replace(ds, priority=20) if ds.label == "Loyalty low" else ds
        for ds in dataset.env.datasources
    )
    dataset.env = replace(dataset.env, datasources=swapped)
    results, _ = run(dataset)
    pair = results[f"ftp_600_14019_iter_{TS + 4000}"]
    assert pair.datasources == ["Loyalty low", "Loyalty high"]
    assert members(pair, "51") == {"P2"}


def test_failure_is_the_highest_priority_outcome_unless_another_decodes(tmp_path: Path) -> None:
    """A hash-length failure of the high source loses to not_found of a lower one."""
    hashed = DataSource(
        label="hashed",
        destination_id=5,
        priority=9,
        id_type="declared",
        reconciliation_key="customer_id",
        transform=Transform.MD5,
    )
    clear = DataSource(
        label="clear",
        destination_id=5,
        priority=1,
        id_type="declared",
        reconciliation_key="customer_id",
        channel="email",
    )
    env = Environment(name="t", datasources=(hashed, clear))
    data = build_dataset(tmp_path)
    path = tmp_path / f"ftp_5_1_full_{TS}.sync"
    path.write_text("someone@nowhere.example 1\nnot-an-email 1\n", encoding="utf-8")
    batches, _ = batches_from_paths([path])
    (result,) = reconcile_batches(
        batches, env, build_codecs(env, resolve), CsvProfiles(data.profiles_csv)
    )
    # line 1: md5 says wrong length, the email source decodes it -> not_found
    # line 2: neither decodes -> the highest-priority source's own outcome
    assert +result.outcomes == Counter({"not_found": 1, "wrong_hash_length": 1})


def test_skipped_batches_and_files(dataset: Dataset) -> None:
    results, skipped = run(dataset)
    reasons = dict(skipped)
    no_route = reasons[f"ftp_999_14016_full_{TS + 5000}.sync"]
    assert "no data source has destination ID 999" in no_route
    assert "waiting for part 2" in reasons[f"ftp_700_14016_full_{TS + 6000}001.sync"]
    assert "notes.txt" in reasons
    assert all("999" not in key for key in results)


def test_datasource_override_routes_everything_and_unnamed_files(dataset: Dataset) -> None:
    custom = dataset.root / "phones.txt"
    custom.write_text("+33.6.12.34.56.78 77\nnobody 77\n", encoding="utf-8")
    batches, skipped = batches_from_paths(
        [custom, dataset.inbox / f"ftp_900_14018_full_{TS + 3000}.sync"],
        force_destination=800,
        accept_unnamed=True,
    )
    assert skipped == []
    results = list(
        reconcile_batches(
            batches,
            dataset.env,
            build_codecs(dataset.env, resolve),
            CsvProfiles(dataset.profiles_csv),
            datasource="Mobile",
        )
    )
    by_key = {r.key: r for r in results}
    phones = by_key["phones.txt"]
    assert phones.datasources == ["Mobile"]
    assert phones.mode == "iter" and phones.destination_id == 800
    assert members(phones, "77") == {"P1"}
    assert phones.outcomes == Counter({"invalid_phone": 1})
    hashes = by_key[f"ftp_900_14018_full_{TS + 3000}"]
    assert hashes.datasources == ["Mobile"] and hashes.reconciled == 0


def test_unknown_datasource_label_is_an_input_error(dataset: Dataset) -> None:
    with pytest.raises(InputError, match="no data source labelled"):
        run(dataset, datasource="nope")


# --------------------------------------------------------------------------- manifests


def test_part_failing_its_manifest_skips_its_batch(dataset: Dataset) -> None:
    part = dataset.inbox / f"ftp_500_14016_full_{TS}002.sync"
    part.write_bytes(part.read_bytes() + b"extra 1\n")
    batches, skipped = batches_from_paths([dataset.inbox])
    assert all(b.key != f"ftp_500_14016_full_{TS}" for b in batches)
    assert len(batches) >= 4  # the other batches are still there
    reasons = dict(skipped)
    for name in (f"ftp_500_14016_full_{TS}001.sync.gz", part.name, f"ftp_500_14016_full_{TS}.info"):
        assert part.name in reasons[name] and "the manifest says" in reasons[name]


def test_batch_waits_for_parts_its_manifest_lists(dataset: Dataset) -> None:
    (dataset.inbox / f"ftp_500_14016_full_{TS}001.sync.gz").unlink()
    batches, skipped = batches_from_paths([dataset.inbox])
    assert all(b.destination_id != 500 for b in batches)
    assert any("waiting for 1 of 2" in reason for _, reason in skipped)


# --------------------------------------------------------------------------- samples, run


def test_samples_are_spread_across_outcomes_and_short(tmp_path: Path) -> None:
    data = build_dataset(tmp_path)
    path = tmp_path / f"ftp_900_14018_full_{TS}.sync"
    lines = [f"{n:064x} 1" for n in range(300)]  # 300 not_found
    lines += ["a" * 200 + " 1", "b" * 40 + " 1"]  # wrong_hash_length, shown shortened
    lines += ["malformed"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batches, _ = batches_from_paths([path])
    (result,) = reconcile_batches(
        batches,
        data.env,
        build_codecs(data.env, resolve),
        CsvProfiles(data.profiles_csv),
        max_samples=10,
    )
    assert result.outcomes["not_found"] == 300
    assert len(result.samples) == 10
    kinds = Counter(s.outcome for s in result.samples)
    assert set(kinds) == {"not_found", "wrong_hash_length", "malformed_line"}
    assert all(len(s.id) <= 64 for s in result.samples)
    assert all(s.hint for s in result.samples)
    long = next(s for s in result.samples if s.id.startswith("aaa"))
    assert long.line == 301 and long.file == path.name


class CountingSource:
    """A ProfileSource that counts how often each column is streamed."""

    def __init__(self, inner: CsvProfiles) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def columns(self) -> list[str]:
        return self.inner.columns()

    def count(self) -> int:
        return self.inner.count()

    def column_chunks(self, column: str):  # type: ignore[no-untyped-def]
        self.calls[column] += 1
        return self.inner.column_chunks(column)

    def visitor_chunks(self):  # type: ignore[no-untyped-def]
        self.calls["<visitors>"] += 1
        return self.inner.visitor_chunks()


def test_each_index_is_built_once_per_run_and_lazily(dataset: Dataset) -> None:
    batches, _ = batches_from_paths([dataset.inbox])
    again, _ = batches_from_paths([dataset.inbox])
    only_aes = [b for b in batches + again if b.destination_id == 500]
    assert len(only_aes) == 2
    source = CountingSource(CsvProfiles(dataset.profiles_csv, dataset.visitors_csv))
    results = list(
        reconcile_batches(only_aes, dataset.env, build_codecs(dataset.env, resolve), source)
    )
    assert len(results) == 2
    assert source.calls == Counter({"email": 1})  # no visitor map read, no other column


def test_progress_and_cancel(dataset: Dataset) -> None:
    events: list[Progress] = []
    run(dataset, chunk_lines=2, progress=events.append)
    assert events and all(e.bytes_read > 0 for e in events)
    per_file: dict[str, list[int]] = {}
    for e in events:
        per_file.setdefault(e.file, []).append(e.lines)
    assert all(lines == sorted(lines) for lines in per_file.values())
    assert any(e.bytes_total for e in events)

    calls = iter([False, False, True])
    with pytest.raises(Cancelled):
        run(dataset, cancelled=lambda: next(calls, True))


def test_audience_file_from_any_opener(dataset: Dataset) -> None:
    import io

    data = b"X1 51\nY3 52\nnope 53\n"
    batch = BatchInput("memory", "iter", 600, (AudienceFile("mem.sync", lambda: io.BytesIO(data)),))
    (result,) = reconcile_batches(
        [batch], dataset.env, build_codecs(dataset.env, resolve), CsvProfiles(dataset.profiles_csv)
    )
    assert (result.records, result.reconciled) == (3, 2)


def test_missing_reconciliation_column_is_an_input_error(dataset: Dataset) -> None:
    dataset.profiles_csv.write_text("id,email\nP1,a@b.example\n", encoding="utf-8")
    with pytest.raises(InputError, match="reconciliation key 'mobile_phone'"):
        run(dataset)


def test_summary_json_keys_and_rate(dataset: Dataset) -> None:
    results, skipped = run(dataset)
    summary = summarize(results.values(), skipped)
    doc = summary.to_json()
    assert set(doc) == {
        "records",
        "reconciled",
        "duplicates",
        "match_rate",
        "outcomes",
        "segments",
        "unreconciled_samples",
        "batches",
        "skipped",
        "datasources",
        "causes",
    }
    assert doc["causes"] == []  # no forensics asked for (``reconcile_batches(causes=...)``)
    assert doc["records"] == doc["reconciled"] + doc["duplicates"] + sum(doc["outcomes"].values())
    assert doc["match_rate"] == pytest.approx(
        doc["reconciled"] / (doc["records"] - doc["duplicates"])
    )
    sample_keys = {"file", "line", "id", "outcome", "hint"}
    assert all(set(s) == sample_keys for s in doc["unreconciled_samples"])
    assert all(set(v) == {"members", "removed"} for v in doc["segments"].values())
    assert 0 not in doc["outcomes"].values()
    json.dumps(doc)  # serializable as is


def test_empty_summary_has_zero_rate() -> None:
    summary = summarize([])
    assert summary.match_rate == 0.0 and summary.to_json()["records"] == 0


def test_bad_aes_key_names_the_datasource(dataset: Dataset) -> None:
    def short_key(ds: DataSource, field_name: str) -> str:
        return "abcd" if field_name == "aes_key" else IV_HEX

    with pytest.raises(InputError) as info:
        build_codecs(dataset.env, short_key)
    assert "Email AES" in info.value.message and "aes_key" in info.value.message
    assert "abcd" not in str(info.value)


def test_index_progress_is_reported_per_chunk_of_profiles(dataset: Dataset) -> None:
    """A large profile dimension takes seconds to index: the run says how far it got."""
    from core.reconcile import IndexProgress

    steps: list[IndexProgress] = []
    profiles = CsvProfiles(dataset.profiles_csv, dataset.visitors_csv, chunk_rows=2)
    batches, _ = batches_from_paths([dataset.inbox])
    list(
        reconcile_batches(
            batches,
            dataset.env,
            build_codecs(dataset.env, resolve),
            profiles,
            indexing=steps.append,
        )
    )
    by_source: dict[str, list[IndexProgress]] = {}
    for step in steps:
        by_source.setdefault(step.datasource, []).append(step)
    assert by_source and max(len(v) for v in by_source.values()) > 2
    for label, seen in by_source.items():
        rows = [s.rows for s in seen]
        assert rows == sorted(rows) and seen[-1].done, label
        assert [s.done for s in seen].count(True) == 1
    declared = [s for s in steps if s.done and s.rows == profiles.count()]
    assert declared, "a declared-ID index reads every profile"


def test_a_manifest_over_the_bound_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """The dry run reads a .info through the import's bounded reader: at most 1 MiB. A
    manifest over it holds its batch back; every file of the batch is skipped, named
    with the reason."""
    from core.formats import MAX_MANIFEST_BYTES

    key = "ftp_500_14016_full_1700000000000"
    (tmp_path / f"{key}.sync").write_text("a 24\n")
    (tmp_path / f"{key}.info").write_bytes(b"{Files: []}" + b" " * MAX_MANIFEST_BYTES)
    batches, skipped = batches_from_paths([tmp_path])
    assert batches == []
    assert skipped == [
        (
            f"{key}.sync",
            f"held back: manifest {key}.info cannot be used: "
            "larger than 1 MiB, too large for a .info manifest",
        ),
        (
            f"{key}.info",
            f"held back: manifest {key}.info cannot be used: "
            "larger than 1 MiB, too large for a .info manifest",
        ),
    ]


def test_a_gzip_broken_part_way_counts_for_nothing_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issues 15.3/17: a batch whose gzip breaks after some chunks were counted is left
    out whole (no line of it in any count, sample or cause), with the reason in
    ``skipped``; every other batch is reconciled as in a folder without it."""
    import core.reconcile.run

    monkeypatch.setattr(core.reconcile.run, "JOIN_LINES", 1)  # each chunk counted at once
    name = f"ftp_900_14018_full_{TS + 3000}.sync"
    clean = build_dataset(tmp_path / "clean")
    (clean.inbox / name).unlink()
    expected_causes: list[SourceCause] = []
    expected, expected_skipped = run(clean, chunk_lines=4096, causes=expected_causes)
    data = build_dataset(tmp_path / "bad")
    plain = data.inbox / name
    # Over a few read blocks of unique lines (misses: they would be samples and causes).
    lines = "".join(f"{n:064x} 1\n" for n in range(20_000)).encode()
    packed = gzip.compress(plain.read_bytes() + lines, mtime=0)
    plain.unlink()
    damaged = data.inbox / f"{name}.gz"
    damaged.write_bytes(packed[: len(packed) * 3 // 5])
    read: list[str] = []
    causes: list[SourceCause] = []
    results, skipped = run(
        data, chunk_lines=4096, causes=causes, progress=lambda step: read.append(step.file)
    )
    assert damaged.name in read  # chunks of it were counted before it broke
    assert sorted(results) == sorted(expected)
    for key, result in results.items():
        want = expected[key]
        assert (result.records, result.reconciled, result.duplicates) == (
            want.records,
            want.reconciled,
            want.duplicates,
        ), key
        assert (result.outcomes, result.segments, result.samples) == (
            want.outcomes,
            want.segments,
            want.samples,
        ), key
    assert [c.to_json() for c in causes] == [c.to_json() for c in expected_causes]
    reasons = dict(skipped)
    assert "truncated" in reasons[damaged.name] and damaged.name in reasons[damaged.name]
    assert sorted(skipped) == sorted([*expected_skipped, (damaged.name, reasons[damaged.name])])
