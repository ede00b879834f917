"""`audiencectl export`: the AAM inbound file, checked by independent implementations."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo import DEMO_IV_HEX, DEMO_KEY_HEX, DemoWorkspace
from core.errors import OperationCancelled
from storage.audiences import SqliteWorkflowStore
from tests.external import openssl
from tests.test_import_cli import demo_store
from usecases.importwf import run_import_pass
from usecases.services import Services

AES_DS = "Recipient - Email (AES)"
CRM_DS = "Recipient - CRM ID (SHA-256)"
VISITOR_DS = "Recipient - Visitor ID"
NAME = re.compile(r"ftp_dpm_(\d+)_(\d{10})\.sync(\.gz)?")


def profiles_of(ws: DemoWorkspace) -> dict[str, dict[str, str]]:
    with ws.profiles_csv.open(encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh)}


def members_csv(path: Path, ids: list[str]) -> Path:
    path.write_text("id,note\n" + "".join(f"{i},x\n" for i in ids), encoding="utf-8")
    return path


def read_lines(path: Path) -> list[tuple[str, str]]:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    assert text.endswith("\n")
    return [tuple(line.split("\t")) for line in text.splitlines()]  # type: ignore[misc]


def openssl_decrypt(hex_ct: str) -> str:
    args = ["enc", "-d", "-aes-256-cbc", "-K", DEMO_KEY_HEX, "-iv", DEMO_IV_HEX]
    return openssl(args, bytes.fromhex(hex_ct)).decode("utf-8")


def test_aes_export_decrypts_with_openssl(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = demo_store(tmp_path / "demo", db_path)
    profiles = profiles_of(ws)
    ids = [f"P{n:05d}" for n in range(1, 61)]
    members = members_csv(tmp_path / "members.csv", [*ids, "P99999", "", "P00002"])
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "export",
        "--members",
        str(members),
        "--segment-id",
        "777",
        "--datasource",
        AES_DS,
        "--out",
        str(out),
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    files = sorted(p.name for p in out.iterdir())
    assert files == [report["file"]]
    match = NAME.fullmatch(report["file"])
    assert match and match[1] == "14016" and match[3] is None
    lines = read_lines(out / report["file"])
    assert all(seg == "777" for _, seg in lines)
    assert all(re.fullmatch(r"[0-9a-f]+", ct) for ct, _ in lines)
    decrypted = sorted(openssl_decrypt(ct) for ct, _ in lines)
    expected = sorted(
        profiles[i]["email"].strip().lower() for i in ids if profiles[i]["email"].strip()
    )
    assert decrypted == expected
    assert report["lines"] == len(lines) == len(expected)
    empty = sum(1 for i in ids if not profiles[i]["email"].strip())
    assert empty > 0
    assert report["skipped"] == {"empty_member_id": 1, "empty_value": empty, "unknown_profile": 1}
    assert {"id": "P99999", "reason": "unknown_profile"} in report["skipped_samples"]
    assert report["duplicate_members"] == 1
    assert report["segment_id"] == "777" and report["datasource"] == AES_DS
    assert report["uploaded"] is False


def test_hashed_export_equals_hashlib(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = demo_store(tmp_path / "demo", db_path)
    profiles = profiles_of(ws)
    ids = [f"P{n:05d}" for n in range(100, 140)]
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "m.csv", ids)),
        "--segment-id",
        "42",
        "--datasource",
        CRM_DS,
        "--out",
        str(out),
        "--gzip",
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["file"].endswith(".sync.gz") and NAME.fullmatch(report["file"])[1] == "14016"  # type: ignore[index]
    lines = read_lines(out / report["file"])
    expected = sorted(hashlib.sha256(profiles[i]["customer_id"].encode()).hexdigest() for i in ids)
    assert sorted(ct for ct, _ in lines) == expected
    assert report["skipped"] == {}


def test_visitor_export_uses_visitor_map(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = demo_store(tmp_path / "demo", db_path)
    with ws.visitors_csv.open(encoding="utf-8") as fh:
        vids = {row["profile_id"]: row["visitor_id"] for row in csv.DictReader(fh)}
    ids = ["P00001", "P00002", "P00399"]  # the last quarter of profiles has no visitor ID
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "m.csv", ids)),
        "--segment-id",
        "5",
        "--datasource",
        VISITOR_DS,
        "--out",
        str(out),
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    lines = read_lines(out / report["file"])
    assert sorted(lines) == sorted([(vids["P00001"], "5"), (vids["P00002"], "5")])
    assert report["skipped"] == {"no_visitor_id": 1}


def test_datasource_required_when_several(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo_store(tmp_path / "demo", db_path)
    result = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "m.csv", ["P00001"])),
        "--segment-id",
        "1",
        "--out",
        str(tmp_path),
    )
    assert result.code == 2
    assert result.err.count("\n") == 1 and "--datasource" in result.err
    assert AES_DS in result.err and CRM_DS in result.err


def test_input_errors_exit_2(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo_store(tmp_path / "demo", db_path)
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("profile,email\nP1,a@b.c\n")
    result = run_cli(
        "export",
        "--members",
        str(bad_header),
        "--segment-id",
        "1",
        "--datasource",
        AES_DS,
        "--out",
        str(tmp_path),
    )
    assert result.code == 2 and "no `id` column" in result.err
    result = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "m.csv", ["P00001"])),
        "--segment-id",
        "abc",
        "--datasource",
        AES_DS,
        "--out",
        str(tmp_path),
    )
    assert result.code == 2 and "segment_id" in result.err
    result = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "n.csv", ["nobody"])),
        "--segment-id",
        "1",
        "--datasource",
        AES_DS,
        "--out",
        str(tmp_path),
    )
    assert result.code == 2 and "nothing was written" in result.err
    assert not list(tmp_path.glob("ftp_dpm_*")) and not list(tmp_path.glob(".inbound-*"))


def test_upload_through_local_export_account(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = demo_store(tmp_path / "demo", db_path)
    ids = [f"P{n:05d}" for n in range(1, 31)]
    result = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "m.csv", ids)),
        "--segment-id",
        "9",
        "--datasource",
        AES_DS,
        "--upload",
        "--json",
    )
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["uploaded"] is True
    entries = sorted(p.name for p in ws.outbox.iterdir())
    assert entries == [report["file"]], "the final file only, no temporary file left"
    assert len(read_lines(ws.outbox / report["file"])) == report["lines"] > 0


def test_two_uploads_in_the_same_second_both_survive(
    run_cli,
    db_path: Path,
    tmp_path: Path,
    frozen_clock,  # type: ignore[no-untyped-def]
) -> None:
    ws = demo_store(tmp_path / "demo", db_path)
    members = members_csv(tmp_path / "m.csv", [f"P{n:05d}" for n in range(1, 11)])
    names = []
    for segment in ("201", "202"):
        result = run_cli(
            "export",
            "--members",
            str(members),
            "--segment-id",
            segment,
            "--datasource",
            VISITOR_DS,
            "--upload",
            "--json",
        )
        assert result.code == 0, result.err
        names.append(json.loads(result.out)["file"])
    first, second = (NAME.fullmatch(n) for n in names)
    assert first and second and int(second[2]) == int(first[2]) + 1  # the next free second
    assert sorted(p.name for p in ws.outbox.iterdir()) == sorted(names)
    assert {seg for _, seg in read_lines(ws.outbox / names[0])} == {"201"}
    assert {seg for _, seg in read_lines(ws.outbox / names[1])} == {"202"}


def _export_args(ws: DemoWorkspace, db_path: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    from storage.audiences import SqliteExportProfiles
    from usecases.access import secret_resolver
    from usecases.services import Services

    services = Services(db_path=db_path, env_name=ws.env.name)
    env = services.env()
    members = members_csv(tmp_path / "m.csv", [f"P{n:05d}" for n in range(1, 31)])
    profiles = SqliteExportProfiles(services.store, env.name)
    resolve = secret_resolver(services, env)

    def run(**options: object) -> object:
        """``run_export`` of the 30 members to segment 9 through the AES data source."""
        import core.export as export

        return export.run_export(
            env,
            members,
            "9",
            profiles,
            resolve,
            datasource=AES_DS,
            **options,  # type: ignore[arg-type]
        )

    return {"services": services, "run": run}


def test_a_cancelled_export_writes_nothing(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled after the first chunk of members went into a part file: the part
    is discarded and no file is left."""
    import core.export as export

    ws = demo_store(tmp_path / "demo", db_path)
    args = _export_args(ws, db_path, tmp_path)
    real = export.read_member_chunks
    monkeypatch.setattr(export, "read_member_chunks", lambda path: real(path, chunk=5))
    calls: list[int] = []

    def cancelled() -> bool:  # the first chunk goes through, the second is refused
        calls.append(1)
        return len(calls) > 1

    out = tmp_path / "out"
    out.mkdir()
    try:
        with pytest.raises(OperationCancelled):
            args["run"](out_dir=out, cancelled=cancelled)
        assert len(calls) == 2
        assert list(out.iterdir()) == []
    finally:
        args["services"].close()


def test_an_upload_cancelled_midway_leaves_no_file_on_the_account(
    db_path: Path, tmp_path: Path
) -> None:
    import pytest

    from core.errors import OperationCancelled
    from core.transport import open_transport

    ws = demo_store(tmp_path / "demo", db_path)
    args = _export_args(ws, db_path, tmp_path)
    calls: list[int] = []

    def cancelled() -> bool:  # false while the file is built, true once bytes go out
        calls.append(1)
        return len(calls) > 1

    def opener(account):  # type: ignore[no-untyped-def]
        return open_transport(account, None, None)  # type: ignore[arg-type]

    try:
        with pytest.raises(OperationCancelled):
            args["run"](open_account=opener, cancelled=cancelled)
        assert len(calls) >= 2, "the upload checked for a cancel"
        assert list(ws.outbox.iterdir()) == [], "neither the final nor a temporary file"
    finally:
        args["services"].close()


def test_without_members_the_stored_audience_is_exported(
    run_cli, db_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """--segment-id alone exports the audience the import workflow stored, as a members
    CSV of the same IDs would; the file goes beside the store, never the working folder."""
    ws = demo_store(tmp_path / "demo", db_path)
    services = Services(db_path=db_path)
    try:
        run_import_pass(services)
        stored = SqliteWorkflowStore(services.store).segment_members(ws.env.name, "201")
    finally:
        services.close()
    assert stored
    result = run_cli("export", "--segment-id", "201", "--datasource", AES_DS, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    exports = db_path.parent / "exports"
    assert report["members"] == len(stored)
    assert sorted(p.name for p in exports.iterdir()) == [report["file"]]
    assert not list(Path.cwd().glob("ftp_dpm_*"))
    out = tmp_path / "from-csv"
    out.mkdir()
    from_csv = run_cli(
        "export",
        "--members",
        str(members_csv(tmp_path / "stored.csv", sorted(stored))),
        "--segment-id",
        "201",
        "--datasource",
        AES_DS,
        "--out",
        str(out),
        "--json",
    )
    assert from_csv.code == 0, from_csv.err
    csv_report = json.loads(from_csv.out)
    assert sorted(read_lines(exports / report["file"])) == sorted(
        read_lines(out / csv_report["file"])
    )


def test_default_folder_is_said_in_full(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo_store(tmp_path / "demo", db_path)
    members = members_csv(tmp_path / "m.csv", [f"P{n:05d}" for n in range(1, 11)])
    result = run_cli(
        "export", "--members", str(members), "--segment-id", "5", "--datasource", AES_DS
    )
    assert result.code == 0, result.err
    exports = db_path.parent / "exports"
    written = [p.name for p in exports.iterdir()]
    assert len(written) == 1 and NAME.fullmatch(written[0])
    assert f"to {exports.absolute()}" in result.out or "to ~/" in result.out
    assert str(exports.name) in result.out


def test_without_members_an_empty_segment_is_an_input_error(
    run_cli, db_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    demo_store(tmp_path / "demo", db_path)
    result = run_cli("export", "--segment-id", "201", "--datasource", AES_DS)
    assert result.code == 2 and "segment 201 has no member in the store" in result.err
    result = run_cli("export", "--segment-id", "abc", "--datasource", AES_DS)
    assert result.code == 2 and "segment_id" in result.err
    # issue 19.6: the hint is the segment's, not the data source ID's
    assert "alias" not in result.err and "Audience Manager" in result.err
    assert not (db_path.parent / "exports").exists() or not list(
        (db_path.parent / "exports").iterdir()
    )


# --------------------------------------------- AAM's inbound rules (inbound-file-contents,
# inbound-ftp-filenames, inbound-s3-filenames and inbound-file-compression pages)


class _Profiles:
    """Profile values by ID, as ``ExportProfiles`` gives them."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def values_for(self, profile_ids, ds):  # type: ignore[no-untyped-def]
        return {p: self.values[p] for p in profile_ids if p in self.values}


def _clear_ds():  # type: ignore[no-untyped-def]
    from core.model import DataSource

    return DataSource(
        label="CRM",
        dpid=478,
        destination_id=1,
        id_type="declared",
        reconciliation_key="customer_id",
        channel="other",
    )


def test_ids_with_a_colon_are_skipped_with_the_reason(tmp_path: Path) -> None:
    """ "Do not use an encoded colon (%3A) or unencoded colon (:) symbol in DPUUIDs"."""
    from core.export import REASONS, make_codec, write_export

    ds = _clear_ds()
    profiles = _Profiles({"P1": ["CRM:1"], "P2": ["CRM-2"], "P3": ["a%3ab"], "P4": ["x%3Ay"]})
    members = members_csv(tmp_path / "m.csv", ["P1", "P2", "P3", "P4"])
    report = write_export(
        members,
        "7",
        ds,
        make_codec(ds, lambda d, f: ""),
        profiles,
        tmp_path,
        unix_seconds=1366545717,
    )
    assert report.skipped == {"colon_in_id": 3} and report.lines == 1
    assert "':' or '%3A'" in REASONS["colon_in_id"]
    assert [s["id"] for s in report.skipped_samples] == ["P1", "P3", "P4"]
    assert read_lines(tmp_path / report.files[0]) == [("CRM-2", "7")]


def test_ids_with_a_control_character_are_skipped_not_fatal(tmp_path: Path) -> None:
    """One profile value with a TAB or newline costs that member, not the whole export."""
    from core.export import REASONS, make_codec, write_export

    ds = _clear_ds()
    profiles = _Profiles(
        {"P1": ["A\tB"], "P2": ["CRM-2"], "P3": ["line\nbreak"], "P4": ["nul\x00"], "P5": ["C:1"]}
    )
    members = members_csv(tmp_path / "m.csv", ["P1", "P2", "P3", "P4", "P5"])
    report = write_export(
        members,
        "7",
        ds,
        make_codec(ds, lambda d, f: ""),
        profiles,
        tmp_path,
        unix_seconds=1366545717,
    )
    assert report.skipped == {"control_in_id": 3, "colon_in_id": 1} and report.lines == 1
    assert "TAB" in REASONS["control_in_id"]
    assert [(s["id"], s["reason"]) for s in report.skipped_samples] == [
        ("P1", "control_in_id"),
        ("P3", "control_in_id"),
        ("P4", "control_in_id"),
        ("P5", "colon_in_id"),
    ]
    assert read_lines(tmp_path / report.files[0]) == [("CRM-2", "7")]


def test_each_id_is_written_once_so_never_over_200_lines(tmp_path: Path) -> None:
    """AAM keeps the first 200 lines of an ID and drops the rest: an export writes one."""
    from core.export import make_codec, write_export

    ds = _clear_ds()
    ids = [f"P{n}" for n in range(200 + 50)]  # AAM's 200 lines per ID, and more
    profiles = _Profiles({p: ["SAME"] for p in ids} | {"Q": ["OTHER"]})
    members = members_csv(tmp_path / "m.csv", [*ids, "Q"])
    report = write_export(
        members,
        "7",
        ds,
        make_codec(ds, lambda d, f: ""),
        profiles,
        tmp_path,
        unix_seconds=1366545717,
    )
    lines = read_lines(tmp_path / report.files[0])
    assert sorted(lines) == [("OTHER", "7"), ("SAME", "7")]
    assert report.duplicate_ids == len(ids) - 1


def test_overwrite_flag_writes_the_overwrite_form(run_cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``ftp_dpm_478_1366545717.overwrite`` is the FTP inbound page's example name."""
    demo_store(tmp_path / "demo", db_path)
    out = tmp_path / "out"
    out.mkdir()
    args = [
        "export",
        "--members",
        str(members_csv(tmp_path / "m.csv", ["P00001", "P00002"])),
        "--segment-id",
        "5",
        "--datasource",
        CRM_DS,
        "--out",
        str(out),
    ]
    plain = json.loads(run_cli(*args, "--overwrite", "--json").out)
    assert re.fullmatch(r"ftp_dpm_14016_\d{10}\.overwrite", plain["file"])
    packed = run_cli(*args, "--overwrite", "--gzip", "--json")
    assert packed.code == 0, packed.err
    name = json.loads(packed.out)["file"]
    assert re.fullmatch(r"ftp_dpm_14016_\d{10}\.overwrite\.gz", name)
    assert len(read_lines(out / name)) == 2
    assert "--overwrite" in run_cli("export", "--help").out


def test_exports_in_the_same_second_move_to_the_next_free_second(  # type: ignore[no-untyped-def]
    run_cli, db_path: Path, tmp_path: Path, frozen_clock
) -> None:
    """Three segments exported to one folder within a second: no "already exists" error,
    each file under its own second, none replaced."""
    demo_store(tmp_path / "demo", db_path)
    out = tmp_path / "out"
    out.mkdir()
    names = []
    for segment in ("201", "202", "203"):
        args = ["export", "--members", str(members_csv(tmp_path / "m.csv", ["P00001"]))]
        args += ["--segment-id", segment, "--datasource", CRM_DS, "--out", str(out), "--json"]
        result = run_cli(*args)
        assert result.code == 0, result.err
        names.append(json.loads(result.out)["file"])
    second = int(frozen_clock.timestamp())
    assert names == [f"ftp_dpm_14016_{second + n}.sync" for n in range(3)]
    assert [[seg for _, seg in read_lines(out / name)] for name in names] == [
        ["201"],
        ["202"],
        ["203"],
    ]
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary file left


def test_a_taken_name_is_never_replaced_and_parts_move_together(tmp_path: Path) -> None:
    """The final name is created exclusively: a file another writer published first
    keeps its content; all parts of a split file move to the same free second."""
    from core.formats import write_inbound

    (tmp_path / "ftp_dpm_7_1486140843.sync.2.gz").write_bytes(b"theirs")
    rows = [(f"id{n:04d}", ["1"]) for n in range(12)]
    paths = write_inbound(rows, tmp_path, 7, 1486140843, gz=True, max_bytes=100, next_free=True)
    assert len(paths) == 2
    assert {p.name.split(".")[0] for p in paths} == {"ftp_dpm_7_1486140844"}
    assert (tmp_path / "ftp_dpm_7_1486140843.sync.2.gz").read_bytes() == b"theirs"
    assert not (tmp_path / "ftp_dpm_7_1486140843.sync.1.gz").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_concurrent_writers_in_one_second_get_distinct_names(tmp_path: Path) -> None:
    """Eight threads publish the same second at once: eight files, eight names."""
    import threading

    from core.formats import write_inbound

    barrier = threading.Barrier(8)
    results: list[list[Path]] = []

    def rows(n: int) -> Iterator[tuple[str, list[str]]]:
        barrier.wait()
        yield (f"writer{n}", ["1"])

    def work(n: int) -> None:
        results.append(write_inbound(rows(n), tmp_path, 7, 1486140843, next_free=True))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = sorted(p.name for paths in results for p in paths)
    assert names == [f"ftp_dpm_7_{1486140843 + n}.sync" for n in range(8)]
    writers = sorted((tmp_path / name).read_text().split("\t")[0] for name in names)
    assert writers == [f"writer{n}" for n in range(8)]


def test_a_segment_id_with_surrounding_spaces_is_read_as_its_digits(  # type: ignore[no-untyped-def]
    run_cli, db_path: Path, tmp_path: Path
) -> None:
    """``--segment-id ' 201'`` passes the digits check, so it finds segment 201's audience
    (as ``checklist confirm`` strips its ID) instead of "segment  201 has no member"."""
    demo_store(tmp_path / "demo", db_path)
    services = Services(db_path=db_path)
    try:
        run_import_pass(services)
    finally:
        services.close()
    out = tmp_path / "out"
    out.mkdir()
    args = ["export", "--segment-id", " 201 ", "--datasource", AES_DS, "--out", str(out)]
    result = run_cli(*args, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["segment_id"] == "201" and report["members"] > 0
    assert {segment for _, segment in read_lines(out / report["file"])} == {"201"}


@pytest.mark.parametrize("segment", ["x201", "0", ""])
def test_a_bad_segment_id_gets_the_segment_hint_not_the_dpid_one(  # type: ignore[no-untyped-def]
    run_cli, db_path: Path, tmp_path: Path, segment: str
) -> None:
    demo_store(tmp_path / "demo", db_path)
    result = run_cli("export", "--segment-id", segment, "--datasource", AES_DS)
    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert "segment_id" in result.err and "e.g. 201" in result.err, result.err
    assert "14016" not in result.err and "provisioning" not in result.err, result.err
