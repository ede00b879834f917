"""Forensics through the product: `dry-run` (JSON, human output, Markdown report), the
import pass's run record and the checklist's ``data.unreconciled``.

The website's IDs come from the tools that really make each mistake (openssl,
Node's crypto, CryptoJS), as in tests/test_forensics.py; the reconciliation, the
store and the CLI are the real ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import clock
from core.forensics import Cause, MissSample
from core.model import Channel, DataSource, Environment, IdType, Transform
from core.profiles import CsvProfiles
from core.reconcile import SourceCause, batches_from_paths, build_codecs, reconcile_batches
from core.secrets import Secret
from core.workflow import BatchWrite
from storage.audiences import SqliteWorkflowStore
from storage.db import Store
from storage.repo import EnvironmentRepo
from tests.test_forensics import (
    IV_HEX,
    KEY_HEX,
    LONG,
    PROFILES,
    SHORT,
    STRANGERS,
    WRONG_IV_HEX,
    _node,
    _openssl,
    _openssl_cbc,
)

DEST = 46391
AES_LABEL = "Recipient - Email (AES)"
HASH_LABEL = "Recipient - Email (SHA-256)"
FILE = f"ftp_{DEST}_14016_iter_1793541600000.sync"
#: Profiles whose stored address is not normalized (the hashed source's mistake).
TYPED = [f"Hugo.Petit{i}@Example.FR" for i in range(5)]


def _env(*, hashed: bool = False) -> Environment:
    sources = [
        DataSource(
            label=AES_LABEL,
            alias="Adobe Campaign Declared ID",
            dpid=14016,
            destination_id=DEST,
            priority=10,
            id_type=IdType.DECLARED,
            reconciliation_key="email",
            transform=Transform.AES,
            aes_key=Secret("literal", KEY_HEX),
            aes_iv=Secret("literal", IV_HEX),
            channel=Channel.EMAIL,
        )
    ]
    if hashed:
        sources.append(
            DataSource(
                label=HASH_LABEL,
                alias="Adobe Campaign Hashed ID",
                dpid=14017,
                destination_id=DEST,
                priority=5,
                id_type=IdType.DECLARED,
                reconciliation_key="email",
                transform=Transform.SHA256,
                channel=Channel.EMAIL,
            )
        )
    return Environment(name="prod", datasources=tuple(sources))


def _setup(tmp_path: Path, ids: list[str], *, hashed: bool = False) -> tuple[Path, Path, Path]:
    """A store with the environment, a profiles CSV and the audience file (one ID a line)."""
    db = tmp_path / "store" / "audiencectl.db"
    db.parent.mkdir()
    with Store(db) as store:
        EnvironmentRepo(store).save(_env(hashed=hashed))
    profiles = tmp_path / "profiles.csv"
    rows = [f"P{n:04d},{v}" for n, v in enumerate(PROFILES + TYPED)]
    profiles.write_text("id,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / FILE).write_text("".join(f"{i}\t201\n" for i in ids), encoding="utf-8")
    return db, profiles, inbox


def _dry_run(run_cli, db: Path, profiles: Path, inbox: Path, *args: str):  # type: ignore[no-untyped-def]
    result = run_cli("--db", str(db), "dry-run", "--profiles", str(profiles), *args, str(inbox))
    assert result.code == 0, result.err
    return result


def _lines_of(ids: list[str], chosen: list[str]) -> set[str]:
    at = {ident: n for n, ident in enumerate(ids, start=1)}
    return {f"{FILE}:{at[c]}" for c in chosen}


@pytest.fixture
def mixed(cryptojs: Path) -> tuple[list[str], dict[str, list[str]]]:
    """An audience file mixing five website mistakes, good IDs and true misses."""
    made = {
        "wrong_iv": _openssl_cbc(LONG[:7], WRONG_IV_HEX),
        "key_as_text": _node(
            [{"op": "cjs_text_key", "key": KEY_HEX, "iv": IV_HEX, "value": v} for v in LONG[30:35]],
            cryptojs,
        ),
        "ecb_mode": [
            _openssl(["enc", "-aes-256-ecb", "-K", KEY_HEX], v.encode()).hex() for v in LONG[40:43]
        ],
        "hashed_not_encrypted": _node(
            [{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in LONG[50:54]]
        ),
        "passphrase_mode": [
            _openssl(
                ["enc", "-aes-256-cbc", "-md", "md5", "-pass", f"pass:{KEY_HEX}", "-base64", "-A"],
                v.encode(),
            )
            .decode()
            .strip()
            for v in LONG[80:83] + SHORT[:1]
        ],
    }
    good = _node(
        [{"op": "cjs_ok", "key": KEY_HEX, "iv": IV_HEX, "value": v} for v in LONG[60:70]], cryptojs
    )
    ids = [i for group in made.values() for i in group] + good + _openssl_cbc(STRANGERS)
    random.Random(18).shuffle(ids)
    return ids, made


def test_a_mix_of_mistakes_in_one_file_is_attributed_in_dry_run_json(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    mixed: tuple[list[str], dict[str, list[str]]],
) -> None:
    ids, made = mixed
    db, profiles, inbox = _setup(tmp_path, ids)
    doc = json.loads(_dry_run(run_cli, db, profiles, inbox, "--json").out)
    assert doc["reconciled"] == 10
    causes = doc["causes"]
    assert {c["code"]: c["count"] for c in causes} == {k: len(v) for k, v in made.items()}
    assert [c["count"] for c in causes] == sorted((c["count"] for c in causes), reverse=True)
    outcomes = {c["code"]: c["outcome"] for c in causes}
    assert outcomes["passphrase_mode"] == "bad_encoding"  # base64 where hex is expected
    assert outcomes["wrong_iv"] in ("not_utf8", "bad_padding")
    for cause in causes:
        assert set(cause) == {
            "datasource",
            "code",
            "outcome",
            "count",
            "detail",
            "fix",
            "examples",
        }
        assert cause["datasource"] == AES_LABEL
        assert 1 <= len(cause["examples"]) <= 2
        # each example is one of the lines that really has that mistake
        assert set(cause["examples"]) <= _lines_of(ids, made[cause["code"]])
        assert cause["fix"] and cause["detail"]


def test_no_website_mistake_gives_no_cause(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = _openssl_cbc(LONG[100:110] + SHORT[:3])
    wrong_key = [
        _openssl(["enc", "-aes-256-cbc", "-K", "11" * 32, "-iv", IV_HEX], v.encode()).hex()
        for v in STRANGERS[:4]
    ]  # damaged or foreign IDs: bad_padding, but nothing the profiles confirm
    ids = good + _openssl_cbc(STRANGERS) + wrong_key + ["zz-not-hex"]
    db, profiles, inbox = _setup(tmp_path, ids)
    result = _dry_run(run_cli, db, profiles, inbox, "--json")
    doc = json.loads(result.out)
    assert doc["reconciled"] == 13 and doc["outcomes"]["not_found"] == len(STRANGERS)
    assert doc["outcomes"]["bad_encoding"] == 1
    assert doc["causes"] == []
    human = _dry_run(run_cli, db, profiles, inbox).out
    assert "website mistakes" not in human


def test_each_data_source_of_a_batch_gets_its_own_causes(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two data sources on one destination: the AES one's wrong IV and the hashed one's
    unnormalized digests, each attributed to its own data source and outcome."""
    wrong_iv = _openssl_cbc(LONG[:6], WRONG_IV_HEX)
    typed = _node([{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in TYPED])
    good_hash = _node(
        [{"op": "hash", "algo": "sha256", "value": v, "enc": "hex"} for v in LONG[200:204]]
    )
    ids = wrong_iv + typed + good_hash + _openssl_cbc(LONG[300:303])
    db, profiles, inbox = _setup(tmp_path, ids, hashed=True)
    doc = json.loads(_dry_run(run_cli, db, profiles, inbox, "--json").out)
    assert doc["reconciled"] == 7
    got = {(c["datasource"], c["code"]): c for c in doc["causes"]}
    assert set(got) == {(AES_LABEL, "wrong_iv"), (HASH_LABEL, "normalization")}
    assert got[(AES_LABEL, "wrong_iv")]["count"] == 6
    norm = got[(HASH_LABEL, "normalization")]
    # The hashed source reads a 64-hex digest fine: its own outcome is not_found, while
    # the AES source (first in priority) gave these lines bad_padding or not_utf8.
    assert norm["count"] == len(TYPED) and norm["outcome"] == "not_found"
    assert set(norm["examples"]) <= _lines_of(ids, typed)
    assert "lower-case" in norm["fix"]


def test_no_key_iv_or_clear_value_in_any_output(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    mixed: tuple[list[str], dict[str, list[str]]],
) -> None:
    ids, _ = mixed
    db, profiles, inbox = _setup(tmp_path, ids)
    report = tmp_path / "report.md"
    human = _dry_run(run_cli, db, profiles, inbox, "--report", str(report)).out
    as_json = _dry_run(run_cli, db, profiles, inbox, "--json").out
    text = report.read_text(encoding="utf-8")
    assert "## Website mistakes" in text and "`wrong_iv`" in text
    assert text.index("## Website mistakes") < text.index("## Unreconciled samples")
    assert "website mistakes found" in human and "wrong_iv" in human
    assert human.index("website mistakes found") < human.index("samples (")
    for output in (human, as_json, text):
        lowered = output.lower()
        for secret in (KEY_HEX, KEY_HEX[:32], KEY_HEX[32:], IV_HEX, WRONG_IV_HEX):
            assert secret not in lowered
        for secret in (KEY_HEX, IV_HEX, WRONG_IV_HEX):
            assert base64.b64encode(bytes.fromhex(secret)).decode() not in output
        for value in PROFILES + TYPED:
            assert value.lower() not in lowered


def test_the_import_run_keeps_its_causes_and_the_checklist_quotes_the_dominant_one(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """The demo's import pass finds its website's wrong IV; doctor quotes it."""
    root = tmp_path / "demo"
    assert run_cli("demo", "--dir", str(root), "--no-tui").code == 0
    db = root / "audiencectl.db"
    with Store(db) as store:
        last = SqliteWorkflowStore(store).last_run("demo")
    assert last is not None
    assert [(c["datasource"], c["code"], c["count"]) for c in last.causes] == [
        ("Recipient - Email (AES)", "wrong_iv", 3)
    ]
    result = run_cli("--db", str(db), "doctor", "--offline", "--json")
    checks = json.loads(result.out)
    items = checks if isinstance(checks, list) else checks["checks"]
    check = next(c for c in items if c["id"] == "data.unreconciled")
    assert check["status"] == "pass"  # 90 % of the IDs reconciled: still a pass
    assert "website mistake: wrong_iv on 3 line(s) of Recipient - Email (AES)" in check["detail"]
    assert check["fix"].startswith("wrong_iv: The website encrypts with another IV")
    assert KEY_HEX not in result.out and IV_HEX not in result.out


def _cause(code: str, count: int) -> dict[str, object]:
    cause = Cause(code, "not_utf8", count, f"{count} IDs.", f"fix {code}", ("f:1",))
    return SourceCause("Email", cause).to_json()


@pytest.mark.parametrize(("reconciled", "status"), [(95, "pass"), (20, "fail")])
def test_unreconciled_check_quotes_the_stored_dominant_cause(
    run_cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    reconciled: int,
    status: str,
) -> None:
    """Causes written with two batches of one run (the store keeps them with the run);
    the check names the one with the most lines, whatever the verdict."""
    db, _, _ = _setup(tmp_path, [])
    with Store(db) as store:
        workflow = SqliteWorkflowStore(store)
        run_id = workflow.start_run("prod", clock.now())
        for n, causes in enumerate(([_cause("ecb_mode", 2)], [_cause("wrong_iv", 7)])):
            workflow.write_batch(
                "prod",
                run_id,
                BatchWrite(
                    batch=f"b{n}",
                    mode="iter",
                    segments={},
                    files=[(f"f{n}", 1)],
                    records=50,
                    reconciled=reconciled // 2,
                    duplicates=0,
                    outcomes={"not_utf8": 50 - reconciled // 2},
                    samples=[],
                    causes=causes,
                ),
            )
        workflow.finish_run("prod", run_id, clock.now(), "ok")
        last = workflow.last_run("prod")
    assert last is not None and [c["code"] for c in last.causes] == ["ecb_mode", "wrong_iv"]
    result = run_cli("--db", str(db), "doctor", "--offline", "--json")
    checks = json.loads(result.out)
    items = checks if isinstance(checks, list) else checks["checks"]
    check = next(c for c in items if c["id"] == "data.unreconciled")
    assert check["status"] == status
    assert "website mistake: wrong_iv on 7 line(s) of Email (not_utf8)" in check["detail"]
    assert check["fix"].startswith("wrong_iv: fix wrong_iv | not_utf8: ")


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(1, 40),
    chunks=st.lists(st.tuples(st.sampled_from(["not_utf8", "bad_padding"]), st.integers(0, 90))),
)
def test_miss_sample_extend_keeps_what_add_keeps(cap: int, chunks: list[tuple[str, int]]) -> None:
    """A run adds a chunk's misses of one outcome at once: the same lines as one by one."""
    one, bulk = MissSample(cap), MissSample(cap)
    line = 0
    for outcome, size in chunks:
        lines = list(range(line, line + size))
        ids = [f"id{n}" for n in lines]
        line += size
        for n, ident in zip(lines, ids, strict=True):
            one.add("f", n, ident, outcome)
        bulk.extend("f", lines, ids, outcome)
    assert bulk.misses == one.misses and bulk.totals == one.totals
    assert all(len([m for m in bulk.misses if m.outcome == o]) <= cap for o in bulk.totals)


def test_the_search_reads_no_profile_again(tmp_path: Path) -> None:
    """The run keeps the column as it indexes it (or reads it back from its index):
    finding both data sources' causes reads no profile column again."""
    wrong_iv = _openssl_cbc(LONG[:6], WRONG_IV_HEX)
    typed = [hashlib.sha256(v.encode()).hexdigest() for v in TYPED]
    _, profiles_csv, inbox = _setup(tmp_path, wrong_iv + typed, hashed=True)
    env = _env(hashed=True)
    reads: list[str] = []

    class Counted(CsvProfiles):
        def column_chunks(self, column: str) -> Iterator[tuple[list[str], list[str]]]:
            reads.append(column)
            yield from super().column_chunks(column)

    codecs = build_codecs(env, lambda ds, name: getattr(ds, name).ref)
    batches, _ = batches_from_paths([inbox])
    list(reconcile_batches(batches, env, codecs, Counted(profiles_csv)))
    without = list(reads)  # what the indexes read (DuckDB may read a CSV by itself)
    reads.clear()
    causes: list[SourceCause] = []
    results = list(reconcile_batches(batches, env, codecs, Counted(profiles_csv), causes=causes))
    assert sum(r.reconciled for r in results) == 0
    assert {(c.datasource, c.cause.code, c.cause.count) for c in causes} == {
        (AES_LABEL, "wrong_iv", 6),
        (HASH_LABEL, "normalization", len(TYPED)),
    }
    assert reads == without  # the search read no column again
