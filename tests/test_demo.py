"""`audiencectl demo` builds a working, offline workspace."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from core.demo import build_demo
from core.formats import classify_names


def test_demo_builds_without_network(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    folder = tmp_path / "demo"
    result = run_cli("demo", "--dir", str(folder), "--no-tui")
    assert result.code == 0, result.err
    store = folder / "audiencectl.db"
    assert store.exists()
    status = run_cli("--db", str(store), "request", "status", "--json")
    assert json.loads(status.out)["status"] == "provisioned"
    exported = run_cli("--db", str(store), "config", "export")
    assert "603deb1015" not in exported.out  # the demo's AES key stays sealed
    assert 'aes_key = "<stored>"' in exported.out


def test_demo_is_deterministic_and_rerunnable(tmp_path: Path) -> None:
    first = build_demo(tmp_path / "a")
    second = build_demo(tmp_path / "b")
    names_a = sorted(p.name for p in first.inbox.iterdir())
    names_b = sorted(p.name for p in second.inbox.iterdir())
    assert names_a == names_b
    for name in names_a:
        assert (first.inbox / name).read_bytes() == (second.inbox / name).read_bytes()
    again = build_demo(tmp_path / "a")
    assert sorted(p.name for p in again.inbox.iterdir()) == names_a


def test_demo_files_are_complete_aam_batches(tmp_path: Path) -> None:
    workspace = build_demo(tmp_path)
    batches, ignored = classify_names(p.name for p in workspace.inbox.iterdir())
    assert not [i for i in ignored if not i.name.endswith(".info")]
    assert {b.destination_id for b in batches} == {46390, 46391, 46392, 46393}
    split = next(b for b in batches if b.destination_id == 46391)
    assert len(split.parts) == 2 and split.manifest_name
