"""The reconciliation worker: the child process gives the in-process answer, its frames
come out whole whatever the cut, and a deferred shape check gives the same result."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cipher import IdCodec, encrypt_batch
from core.errors import InputError
from core.model import DataSource, Environment, Transform
from core.outcomes import Outcome
from core.profiles import CsvProfiles
from core.reconcile import (
    AudienceFile,
    BatchInput,
    Cancelled,
    build_codecs,
    reading,
    reconcile_batches,
    summarize,
)
from core.reconcile import worker as decoding
from core.secrets import Secret
from tests.fast_path_helpers import IV, IV_HEX, KEY, KEY_HEX, incoming_ids, plaintexts

# --------------------------------------------------------------------------- the child process


def test_worker_process_gives_the_in_process_answer(tmp_path: Path) -> None:
    from tests.test_reconcile import build_dataset, run

    dataset = build_dataset(tmp_path)
    local = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    with patch.object(decoding, "PARALLEL_MIN_BYTES", 0):
        spawned: list[object] = []
        original = decoding._Worker.__init__

        def counting(self: object, *args: object) -> None:
            spawned.append(self)
            original(self, *args)  # type: ignore[arg-type]

        with patch.object(decoding._Worker, "__init__", counting):
            remote = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    assert spawned
    assert remote == local


def test_worker_process_errors_and_cancel(tmp_path: Path) -> None:
    from tests.test_reconcile import build_dataset, resolve

    dataset = build_dataset(tmp_path)
    bad = dataset.inbox / f"ftp_500_14016_full_{1793541600000 + 9000}.sync.gz"
    good = gzip.compress(b"\n".join(b"%032x\t24" % i for i in range(5000)) + b"\n")
    bad.write_bytes(good[: len(good) // 2])
    batch = BatchInput("bad", "full", 500, (AudienceFile.from_path(bad),))
    codecs = build_codecs(dataset.env, resolve)
    profiles = CsvProfiles(dataset.profiles_csv, dataset.visitors_csv)

    def outcome() -> object:
        try:
            list(reconcile_batches([batch], dataset.env, codecs, profiles, chunk_lines=100))
        except InputError as exc:
            return type(exc), exc.message, exc.hint
        return None

    local = outcome()
    with patch.object(decoding, "PARALLEL_MIN_BYTES", 0):
        assert outcome() == local
        assert local is not None and "gzip" in str(local[1])
        workers: list[decoding._Worker] = []
        original = decoding._Worker.__init__

        def keep(self: decoding._Worker, *args: object) -> None:
            workers.append(self)
            original(self, *args)  # type: ignore[arg-type]

        plain = dataset.inbox / f"ftp_500_14016_full_{1793541600000 + 9500}.sync"
        plain.write_bytes(gzip.decompress(good))
        whole = BatchInput("plain", "full", 500, (AudienceFile.from_path(plain),))
        calls = iter([False, False, True])
        with patch.object(decoding._Worker, "__init__", keep), pytest.raises(Cancelled):
            list(
                reconcile_batches(
                    [whole],
                    dataset.env,
                    codecs,
                    profiles,
                    chunk_lines=100,
                    cancelled=lambda: next(calls, True),
                )
            )
        assert workers and workers[0].process.poll() is not None  # stopped


def _checked_up_front() -> Any:
    """Patch codecs so that every key is checked in ``incoming`` (no deferred check)."""
    return patch.object(IdCodec, "defers_shape_check", property(lambda self: False))


def test_deferred_shape_check_gives_the_same_answer(tmp_path: Path) -> None:
    from tests.test_reconcile import build_dataset, run

    dataset = build_dataset(tmp_path)
    deferred = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    with _checked_up_front():
        checked = summarize(run(dataset, chunk_lines=3)[0].values()).to_json()
    assert deferred == checked
    assert deferred["outcomes"]["invalid_email"] > 0


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ids=st.lists(incoming_ids(), min_size=1, max_size=30),
    profiles=st.lists(plaintexts.filter(lambda v: isinstance(v, str)), max_size=12),
)
def test_deferred_shape_check_equals_checking_every_key(
    tmp_path: Path, ids: list[str], profiles: list[str]
) -> None:
    """Keys equal to a profile's key are never shapeless, so checking only the keys
    not found gives every line the outcome that checking all of them gives."""
    csv_path = tmp_path / "profiles.csv"
    rows = [
        f"P{i},{value}"
        for i, value in enumerate(profiles)
        if "," not in value and '"' not in value and "\n" not in value and "\r" not in value
    ]
    csv_path.write_text("id,email\n" + "\n".join(rows) + "\n", encoding="utf-8")
    ds = DataSource(
        label="aes",
        id_type="declared",
        reconciliation_key="email",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel="email",
        destination_id=500,
    )
    env = Environment(name="t", datasources=(ds,))
    audience = tmp_path / "ftp_500_14016_full_1793541600000.sync"
    lines = [
        i
        for i in ids
        if i and not any(c in i for c in "\t \n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")
    ]

    def answer() -> dict[str, Any]:
        audience.write_text("".join(f"{i}\t24\n" for i in lines), encoding="utf-8")
        batch = BatchInput("b", "full", 500, (AudienceFile.from_path(audience),))
        codecs = build_codecs(env, lambda d, f: getattr(d, f).ref)
        results = reconcile_batches([batch], env, codecs, CsvProfiles(csv_path), chunk_lines=7)
        return summarize(results).to_json()

    deferred = answer()
    with _checked_up_front():
        assert answer() == deferred


def test_frames_cut_at_every_position_come_out_whole() -> None:
    frames = [b"", b"a", b"bc", b"0123456789"]
    stream = b"".join(len(f).to_bytes(8, "little") + f for f in frames)
    for cut in range(len(stream) + 1):
        for second in range(cut, len(stream) + 1):
            feeder = decoding._Frames()
            got = [
                frame
                for piece in (stream[:cut], stream[cut:second], stream[second:])
                for frame in feeder.feed(piece)
            ]
            assert got == frames, (cut, second)
            assert not feeder.pending
    feeder = decoding._Frames()
    assert [f for byte in stream for f in feeder.feed(bytes([byte]))] == frames


def test_worker_reader_reassembles_frames_of_any_size() -> None:
    """Frames larger than the pipe, and frames cut anywhere by the writer, come out
    whole and in order; the end of the stream is signalled with ``None``."""
    import os
    import random
    import threading

    rng = random.Random(5)
    frames = [
        bytes([i % 251]) * size
        for i, size in enumerate([0, 1, 7, 8, 4096, (1 << 20) + 3, 3 << 20, 65_537])
    ]
    stream = b"".join(len(f).to_bytes(8, "little") + f for f in frames)
    read_end, write_end = os.pipe()

    def write() -> None:
        at = 0
        while at < len(stream):
            step = rng.choice([1, 5, 8, 4000, 70_000, 2 << 20])
            os.write(write_end, stream[at : at + step])
            at += step
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    worker = decoding._Worker.__new__(decoding._Worker)
    worker.process = type("P", (), {"stdout": os.fdopen(read_end, "rb")})()  # type: ignore[assignment]
    worker.frames = decoding.queue_module.Queue()
    worker.stopping = False
    worker._read()
    writer.join()
    got = []
    while (frame := worker.frames.get_nowait()) is not None:
        got.append(frame)
    assert got == frames


def test_pack_keeps_outcomes_when_a_key_holds_a_newline() -> None:
    chunk = reading._Prepared(
        file="f",
        records=3,
        last_line=3,
        position=0,
        total=None,
        malformed=[],
        reasons=[],
        duplicates=0,
        lines=np.arange(3),
        ids=["a", "b", "c"],
        segs=np.zeros(3, dtype=np.int64),
        removed=np.zeros(3, dtype=np.int64),
        names=[("24",)],
        no_removed=0,
        keys=[["x\ny", Outcome.BAD_PADDING, "plain"], ["k", Outcome.NOT_UTF8, ""]],
    )
    chunk.pack()
    assert chunk.keys_of(0) == ["x\ny", Outcome.BAD_PADDING, "plain"]
    assert chunk.keys_of(1) == ["k", Outcome.NOT_UTF8, ""]


def test_worker_and_in_process_agree_on_keys_with_newlines(tmp_path: Path) -> None:
    """An ``other`` channel decrypts to any text, newlines included: the child's
    packing must keep the other lines' outcomes (``not_utf8``, ``bad_padding``)."""
    csv_path = tmp_path / "profiles.csv"
    csv_path.write_text("id,alias\nP1,plain\nP2,z\n", encoding="utf-8")
    plains = [b"plain", b"x\ny", b"\xff", b" plain "]
    ids = [c.hex() for c in encrypt_batch(KEY, IV, plains)] + ["00" * 16, "zz"]
    audience = tmp_path / "ftp_500_14016_iter_1793541600000.sync"
    audience.write_text("".join(f"{i}\t24\n" for i in ids), encoding="utf-8")
    ds = DataSource(
        label="other",
        id_type="declared",
        reconciliation_key="alias",
        transform=Transform.AES,
        aes_key=Secret("literal", KEY_HEX),
        aes_iv=Secret("literal", IV_HEX),
        channel="other",
        destination_id=500,
    )
    env = Environment(name="t", datasources=(ds,))

    def answer() -> dict[str, Any]:
        batch = BatchInput("b", "iter", 500, (AudienceFile.from_path(audience),))
        codecs = build_codecs(env, lambda d, f: getattr(d, f).ref)
        results = reconcile_batches([batch], env, codecs, CsvProfiles(csv_path), chunk_lines=4)
        return summarize(results).to_json()

    local = answer()
    with patch.object(decoding, "PARALLEL_MIN_BYTES", 0):
        assert answer() == local
    assert local["outcomes"]["not_utf8"] == 1 and local["outcomes"]["bad_padding"] == 1


def test_frames_stop_at_an_impossible_length() -> None:
    feeder = decoding._Frames()
    frame = (2).to_bytes(8, "little") + b"ok"
    assert feeder.feed(frame + b"Traceback (most recent call last)\n" + frame) == [b"ok"]
    assert feeder.broken
    assert feeder.feed(frame) == []


def test_worker_reader_ends_at_a_cut_frame_or_garbage() -> None:
    import os

    for stream in (
        (3).to_bytes(8, "little") + b"abc" + (10).to_bytes(8, "little") + b"cut",
        (3).to_bytes(8, "little") + b"abc" + b"garbage printed by something",
    ):
        read_end, write_end = os.pipe()
        os.write(write_end, stream)
        os.close(write_end)
        worker = decoding._Worker.__new__(decoding._Worker)
        worker.process = type("P", (), {"stdout": os.fdopen(read_end, "rb")})()  # type: ignore[assignment]
        worker.frames = decoding.queue_module.Queue()
        worker.stopping = False
        worker._read()
        worker.process.stdout.close()  # type: ignore[attr-defined]
        assert worker.frames.get_nowait() == b"abc"
        assert worker.frames.get_nowait() is None


def test_a_whole_column_pass_counts_as_validation(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,email\nP1,a@x.example\nP2,b@x.example\nP3,\n", encoding="utf-8")
    source = CsvProfiles(path, chunk_rows=1)
    first = next(iter(source.column_chunks("email")))  # a pass left early: not whole
    assert first == (["P1"], ["a@x.example"])
    assert source._check is None
    assert sum(len(p) for p, _ in source.column_chunks("email")) == 3
    path.unlink()  # validate no longer needs the file
    assert source.validate().profiles == 3
    visitors = tmp_path / "v.csv"
    visitors.write_text("profile_id,visitor_id\n", encoding="utf-8")
    path.write_text("id,email\nP1,a@x.example\n", encoding="utf-8")
    linked = CsvProfiles(path, visitors)
    list(linked.column_chunks("email"))
    assert linked._check is None  # the visitors still need the check against every id
