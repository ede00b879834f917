"""`audiencectl dry-run`: offline, store untouched, JSON per docs/reference.md §4, a report."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from core.demo import DEMO_IV_HEX, DEMO_KEY_HEX, workspace_at
from core.outcomes import Outcome
from storage.db import Store
from storage.repo import EnvironmentRepo
from tests.test_reconcile import IV_HEX, KEY_HEX, build_dataset, late_duplicate_and_unrouted

CONTRACT_KEYS = {
    "records",
    "reconciled",
    "duplicates",
    "match_rate",
    "outcomes",
    "segments",
    "unreconciled_samples",
    "causes",
}
EXTRA_KEYS = {"batches", "skipped", "datasources"}


def store_digest(db: Path) -> dict[str, str]:
    """The bytes of every file of the store (main, WAL, shared memory, key)."""
    out = {}
    for candidate in sorted(db.parent.iterdir()):
        if candidate.name.startswith(db.name):
            out[candidate.name] = hashlib.sha256(candidate.read_bytes()).hexdigest()
    return out


@pytest.fixture
def demo(tmp_path: Path, run_cli):  # type: ignore[no-untyped-def]
    root = tmp_path / "demo"
    result = run_cli("demo", "--dir", str(root), "--no-tui")
    assert result.code == 0, result.err
    return workspace_at(root)  # the folder as the demo left it (a newer batch waits)


def dry_run(run_cli, db: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("--db", str(db), "dry-run", *args)


def test_demo_dry_run_covers_every_outcome_and_changes_nothing(run_cli, demo) -> None:  # type: ignore[no-untyped-def]
    before = store_digest(demo.db_path)
    assert before, "the demo store exists"
    result = dry_run(
        run_cli,
        demo.db_path,
        "--profiles",
        str(demo.profiles_csv),
        "--visitors",
        str(demo.visitors_csv),
        "--json",
        str(demo.inbox),
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert store_digest(demo.db_path) == before
    assert set(doc) == CONTRACT_KEYS | EXTRA_KEYS
    assert doc["reconciled"] > 0 and doc["duplicates"] > 0
    failures = {o.value for o in Outcome} - {"reconciled", "duplicate"}
    assert {k for k, v in doc["outcomes"].items() if v > 0} == failures
    assert doc["records"] == doc["reconciled"] + doc["duplicates"] + sum(doc["outcomes"].values())
    assert doc["match_rate"] == doc["reconciled"] / (doc["records"] - doc["duplicates"])
    assert doc["segments"]
    assert all(set(v) == {"members", "removed"} for v in doc["segments"].values())
    for sample in doc["unreconciled_samples"]:
        assert set(sample) == {"file", "line", "id", "outcome", "hint"}
        assert len(sample["id"]) <= 64 and sample["outcome"] in failures
    assert {s["outcome"] for s in doc["unreconciled_samples"]} == failures
    assert doc["skipped"] == []
    assert len(doc["batches"]) == 5  # the first delivery and the batch that waits


def test_report_has_the_outcome_table_and_no_secret(run_cli, demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "out" / "report.md"
    report.parent.mkdir()
    result = dry_run(
        run_cli,
        demo.db_path,
        "--profiles",
        str(demo.profiles_csv),
        "--visitors",
        str(demo.visitors_csv),
        "--report",
        str(report),
        str(demo.inbox),
    )
    assert result.code == 0, result.err
    text = report.read_text(encoding="utf-8")
    assert "| outcome | lines | meaning | fix |" in text
    for outcome in Outcome:
        if outcome not in (Outcome.RECONCILED, Outcome.DUPLICATE):
            assert f"| `{outcome.value}` |" in text
    assert "wrong AES key, IV or mode" in text  # the fix column
    # issue 19.6: the report's own `code` spans are code, not escaped backticks
    assert "\\`" not in text and "run `crypto diagnose`" in text
    assert "| 201 |" in text  # segments
    lowered = text.lower()
    for secret in (DEMO_KEY_HEX, DEMO_IV_HEX):
        assert secret.lower() not in lowered
        assert base64.b64encode(bytes.fromhex(secret)).decode() not in text
    # the human summary
    assert "match rate" in result.out and "not_found" in result.out
    assert "report written" in result.out


def test_human_output_and_exit_0_despite_findings(run_cli, demo) -> None:  # type: ignore[no-untyped-def]
    result = dry_run(run_cli, demo.db_path, "--profiles", str(demo.profiles_csv), str(demo.inbox))
    assert result.code == 0, result.err
    assert "records" in result.out and "reconciled" in result.out
    assert "bad_padding" in result.out and "fix:" in result.out
    assert "segments" in result.out
    # without the visitor map every visitor line is a miss, still exit 0
    assert "invalid_visitor_id" in result.out


def saved_dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    data = build_dataset(tmp_path / "data")
    db = tmp_path / "store" / "audiencectl.db"
    with Store(db) as store:
        EnvironmentRepo(store).save(data.env)
    return data, db


def test_dataset_json_matches_construction(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    before = store_digest(db)
    args = ["--profiles", str(data.profiles_csv), "--visitors", str(data.visitors_csv), "--json"]
    result = dry_run(run_cli, db, *args, str(data.inbox))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert store_digest(db) == before
    assert doc["records"] == sum(e.records for e in data.expected.values())
    assert doc["reconciled"] == sum(e.reconciled for e in data.expected.values())
    assert {b["key"] for b in doc["batches"]} == set(data.expected)
    skipped = {s["file"] for s in doc["skipped"]}
    assert "notes.txt" in skipped and any("999" in name for name in skipped)
    # the stored (sealed) key never reaches the output
    assert KEY_HEX not in result.out and IV_HEX not in result.out


def test_datasource_option_accepts_unnamed_files(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    phones = tmp_path / "phones.txt"
    phones.write_text("+33.6.12.34.56.78 77\n0033600000002 77\n", encoding="utf-8")
    result = dry_run(
        run_cli,
        db,
        "--profiles",
        str(data.profiles_csv),
        "--datasource",
        "Mobile",
        "--json",
        str(phones),
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["reconciled"] == 2 and doc["segments"] == {"77": {"members": 2, "removed": 0}}
    assert doc["datasources"] == ["Mobile"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--datasource", "nope"], "no data source labelled 'nope'"),
        (["--visitors", "{bad_visitors}"], "38-digit"),
        (["--max-samples", "-1"], "--max-samples"),
    ],
)
def test_bad_input_exits_2(run_cli, tmp_path: Path, args: list[str], fragment: str) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    bad_visitors = tmp_path / "v.csv"
    bad_visitors.write_text("profile_id,visitor_id\nP1,123\n", encoding="utf-8")
    args = [a.format(bad_visitors=bad_visitors) for a in args]
    result = dry_run(run_cli, db, "--profiles", str(data.profiles_csv), *args, str(data.inbox))
    assert result.code == 2
    assert fragment in result.err and "Traceback" not in result.err


def test_bad_profiles_and_missing_paths_exit_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("email\na@x.example\n", encoding="utf-8")
    result = dry_run(run_cli, db, "--profiles", str(bad), str(data.inbox))
    assert result.code == 2 and "no `id` column" in result.err
    result = dry_run(run_cli, db, "--profiles", str(data.profiles_csv), str(tmp_path / "nothing"))
    assert result.code == 2 and "nothing" in result.err
    # A duplicate id deep in the file, and no batch that needs the profiles: the
    # profiles are still checked whole.
    dup, unrouted = late_duplicate_and_unrouted(data.profiles_csv, tmp_path)
    for inbox in (data.inbox, unrouted):
        result = dry_run(run_cli, db, "--profiles", str(dup), str(inbox))
        assert result.code == 2 and "appears twice" in result.err, inbox


def test_no_store_is_an_error_and_creates_nothing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = build_dataset(tmp_path / "data")
    db = tmp_path / "absent" / "audiencectl.db"
    result = dry_run(run_cli, db, "--profiles", str(data.profiles_csv), str(data.inbox))
    assert result.code == 2 and "no store" in result.err
    assert not db.parent.exists()


MANIFESTED = "ftp_500_14016_full_1793541600000"  # two parts (a gzip one) and a manifest
SINGLE = "ftp_900_14018_full_1793541603000"  # one file, no manifest


def _damage_gzip(folder: Path) -> Path:
    """``SINGLE``'s file replaced by a gzip of it cut short in its middle (no manifest:
    the damage is found while the batch is read)."""
    plain = folder / f"{SINGLE}.sync"
    packed = gzip.compress(plain.read_bytes() * 50, mtime=0)
    plain.unlink()
    damaged = folder / f"{SINGLE}.sync.gz"
    damaged.write_bytes(packed[: len(packed) // 2])
    return damaged


def _without_bad_batch(data, tmp_path: Path, key: str) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the dataset's folder without the files of batch ``key``."""
    folder = tmp_path / "without"
    folder.mkdir()
    for path in data.inbox.iterdir():
        if not path.name.startswith(key):
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


def _assert_bad_batch_left_out(
    run_cli, tmp_path: Path, data, db: Path, key: str, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    """The dry run of the folder: exit 0, every file of batch ``key`` skipped with the
    reason (headline, JSON, report, console), and every count that of the folder
    without that batch (no line of it counted, not even of a part read before)."""
    args = ["--profiles", str(data.profiles_csv)]
    bad = sorted(p.name for p in data.inbox.iterdir() if p.name.startswith(key))
    report = tmp_path / "bad.md"
    human = dry_run(run_cli, db, *args, "--report", str(report), str(data.inbox))
    assert human.code == 0, human.err
    headline = human.out.splitlines()[0]
    assert "file(s) skipped" in headline.lower() and key not in headline
    markdown = report.read_text()
    parts = [name for name in bad if not name.endswith(".info")]
    for name in parts:
        assert f"skipped {name}: " in human.out and name in markdown
    assert fragment in human.out and fragment in markdown
    doc = json.loads(dry_run(run_cli, db, *args, "--json", str(data.inbox)).out)
    reasons = {s["file"]: s["reason"] for s in doc["skipped"]}
    assert all(fragment in reasons[name] for name in parts)
    assert key not in [b["key"] for b in doc["batches"]]
    clean = _without_bad_batch(data, tmp_path, key)
    expected = json.loads(dry_run(run_cli, db, *args, "--json", str(clean)).out)
    for key in ("records", "reconciled", "duplicates", "outcomes", "segments", "batches"):
        assert doc[key] == expected[key], key
    assert doc["records"] > 0


def test_a_damaged_gzip_skips_its_batch_only(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A gzip cut short costs its batch, whole, never the run (issues 15.3, 17)."""
    data, db = saved_dataset(tmp_path)
    _damage_gzip(data.inbox)
    _assert_bad_batch_left_out(run_cli, tmp_path, data, db, SINGLE, "truncated")


def test_a_part_differing_from_its_manifest_skips_its_batch_only(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    part = data.inbox / f"{MANIFESTED}002.sync"
    part.write_bytes(part.read_bytes() + b"extra 1\n")
    _assert_bad_batch_left_out(run_cli, tmp_path, data, db, MANIFESTED, "the manifest says")


def test_a_gzip_bomb_skips_its_batch_only(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 17.10 with 15.3: a bomb-like gzip is refused, its batch skipped with the
    reason, and the good batch beside it reconciled."""
    from tests.test_hostile_input import _gz_of

    data, db = saved_dataset(tmp_path)
    folder = tmp_path / "bombed"
    folder.mkdir()
    good = next(data.inbox.glob("ftp_800_*.sync"))
    (folder / good.name).write_bytes(good.read_bytes())
    bomb = folder / f"{SINGLE}.sync.gz"
    bomb.write_bytes(_gz_of([b"\n" * (1 << 20)] * 32))  # 32 MiB of blank lines
    args = ["--profiles", str(data.profiles_csv), "--json"]
    doc = json.loads(dry_run(run_cli, db, *args, str(folder)).out)
    assert [b["files"] for b in doc["batches"]] == [[good.name]]
    [skipped] = doc["skipped"]
    assert skipped["file"] == bomb.name and "inflates more than 200 times" in skipped["reason"]
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / good.name).write_bytes(good.read_bytes())
    expected = json.loads(dry_run(run_cli, db, *args, str(alone)).out)
    assert (doc["records"], doc["outcomes"]) == (expected["records"], expected["outcomes"])


def test_every_batch_damaged_still_exits_0_loudly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    folder = tmp_path / "only"
    folder.mkdir()
    (folder / f"{SINGLE}.sync").write_bytes((data.inbox / f"{SINGLE}.sync").read_bytes())
    part = _damage_gzip(folder)
    human = dry_run(run_cli, db, "--profiles", str(data.profiles_csv), str(folder))
    assert human.code == 0, human.err
    headline = human.out.splitlines()[0]
    assert headline.startswith("WARNING: dry run") and "0 of 1 batch(es) reconciled" in headline
    assert f"skipped {part.name}: " in human.out and "truncated" in human.out


def test_without_profiles_the_store_profiles_and_visitor_map_are_used(run_cli, demo) -> None:  # type: ignore[no-untyped-def]
    """The demo loaded its profiles and visitor map into the store: a dry run without
    --profiles reads those, and gives the answer of the same CSVs."""
    before = store_digest(demo.db_path)
    from_csv = dry_run(
        run_cli,
        demo.db_path,
        "--profiles",
        str(demo.profiles_csv),
        "--visitors",
        str(demo.visitors_csv),
        "--json",
        str(demo.inbox),
    )
    from_store = dry_run(run_cli, demo.db_path, "--json", str(demo.inbox))
    assert from_store.code == 0, from_store.err
    assert json.loads(from_store.out) == json.loads(from_csv.out)
    no_map = dry_run(
        run_cli, demo.db_path, "--profiles", str(demo.profiles_csv), "--json", str(demo.inbox)
    )
    # the visitor map of the store reconciles visitor lines a profiles CSV alone cannot
    assert json.loads(from_store.out)["reconciled"] > json.loads(no_map.out)["reconciled"]
    human = dry_run(run_cli, demo.db_path, str(demo.inbox))
    assert human.code == 0, human.err
    assert "profiles: the store (" in human.out
    assert store_digest(demo.db_path) == before


def test_without_profiles_an_empty_store_says_how_to_load_them(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, db = saved_dataset(tmp_path)
    result = dry_run(run_cli, db, str(data.inbox))
    assert result.code == 2
    assert "no profiles in the store" in result.err and "profiles load" in result.err
    result = dry_run(run_cli, db, "--visitors", str(data.visitors_csv), str(data.inbox))
    assert result.code == 2 and "--visitors goes with --profiles" in result.err
    assert "Traceback" not in result.err


def test_a_folder_of_mostly_skipped_files_says_so_loudly(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Nothing is dropped silently: every skipped file is named with its reason in the
    headline's count, the JSON, the report; a symlink is skipped (the import's rule)."""
    data, db = saved_dataset(tmp_path)
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = next(data.inbox.glob("ftp_800_*.sync"))
    (folder / good.name).write_bytes(good.read_bytes())
    ts = "1793541700000"
    junk = {
        "notes.txt": "not an AAM outbound file",
        "ftp_800_14017_full_123.sync": "not 10 digits (seconds) or 13 digits",
        f"ftp_800_14017_full_{ts}002.sync": "waiting for part 1",
        f"ftp_800_14017_iter_{ts}.sync": "held back: manifest",
        f"ftp_800_14017_iter_{ts}.info": "cannot be used: manifest: not valid JSON",
    }
    for name in junk:
        (folder / name).write_text("06-11-22-33-44 32\n")
    (folder / "link.sync").symlink_to(folder / good.name)
    junk["link.sync"] = "a symbolic link: never read"
    report = tmp_path / "report.md"
    args = ["--profiles", str(data.profiles_csv), "--report", str(report)]
    human = dry_run(run_cli, db, *args, str(folder))
    assert human.code == 0, human.err
    headline = human.out.splitlines()[0]
    assert headline.startswith("WARNING: dry run")
    assert "6 OF 7 FILE(S) SKIPPED" in headline
    for name, reason in junk.items():
        assert f"skipped {name}: " in human.out and reason in human.out
    markdown = report.read_text()
    assert "**Warning: most files were skipped.** 6 of 7 file(s) skipped" in markdown
    assert all(name in markdown for name in junk)
    doc = json.loads(
        dry_run(run_cli, db, "--profiles", str(data.profiles_csv), "--json", str(folder)).out
    )
    reasons = {s["file"]: s["reason"] for s in doc["skipped"]}
    assert set(reasons) == set(junk)
    assert all(reason in reasons[name] for name, reason in junk.items())
    assert [b["files"] for b in doc["batches"]] == [[good.name]]


def test_a_manifest_md5_that_is_not_hex_is_a_note_not_a_failure(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """AAM's transfer-control example has md5 values like "983g634b...": the batch is
    reconciled (checked by size and line count) and the warning is shown everywhere."""
    data, db = saved_dataset(tmp_path)
    folder = tmp_path / "noted"
    folder.mkdir()
    key = "ftp_800_14017_full_1500727351632"
    part = folder / f"{key}-1.sync"
    part.write_bytes(next(data.inbox.glob("ftp_800_*.sync")).read_bytes())
    raw = part.read_bytes()
    lines = raw.count(b"\n")
    (folder / "ftp_800_14017_iter_1500727351632.info").write_text(
        f"{{Files: [{{FileByteSize: {len(raw)}, FileLineCount: {lines}, "
        f'FileName: "{part.name}", FileSequenceNumber: 1, '
        'md5: "983g634be2ad5263c6a6c4958bf61d9f"}], '
        f'Totals: {{FileName: "{key}.sync", TotalByteSize: {len(raw)}, TotalNumberFiles: 1, '
        f"TotalNumberLines: {lines}}}}}"
    )
    report = tmp_path / "r.md"
    args = ["--profiles", str(data.profiles_csv)]
    human = dry_run(run_cli, db, *args, "--report", str(report), str(folder))
    assert human.code == 0, human.err
    assert "1 of 1 batch(es) reconciled" in human.out and "skipped" not in human.out
    assert f"note: batch {key}: {part.name}: the manifest's md5 '983g634b" in human.out
    assert "is not 32 hexadecimal digits" in report.read_text()
    doc = json.loads(dry_run(run_cli, db, *args, "--json", str(folder)).out)
    [batch] = doc["batches"]
    assert batch["key"] == key and "983g634b" in batch["notes"][0]
