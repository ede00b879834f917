"""Pilot tests of the Audiences screen (F6): dry run, import workflow, export."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent

from core.demo import DemoWorkspace, build_demo
from core.outcomes import Outcome
from core.profiles import CsvProfiles
from core.workflow import State
from storage.audiences import SqliteWorkflowStore
from storage.profiles import load_profiles
from tests.tui_helpers import settle, wait_until
from tui.app import AudienceApp
from tui.modals.confirm import ConfirmModal
from tui.modals.prompt import PromptModal
from tui.screens.audiences import AudiencesScreen
from tui.widgets.export_panel import ExportPanel
from tui.widgets.job_tab import JobStep
from tui.widgets.outcome_chart import OutcomeChart, bar, chart_rows
from tui.widgets.run_progress import RunProgress
from tui.widgets.workflow_panel import WorkflowPanel
from usecases.importwf import run_pass_now
from usecases.services import Services, pause_hooks

SIZE = (120, 40)


def demo_services(root: Path) -> tuple[Services, DemoWorkspace]:
    """The demo workspace, its environment saved and its profiles loaded, as `demo` does."""
    workspace = build_demo(root)
    services = Services(db_path=workspace.db_path)
    env = services.repo.save(workspace.env)
    load_profiles(
        services.store, env.name, CsvProfiles(workspace.profiles_csv, workspace.visitors_csv)
    )
    return services, workspace


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AUDIENCECTL_ENV", raising=False)
    services, workspace = demo_services(tmp_path / "ws")
    monkeypatch.chdir(workspace.root)
    yield services, workspace
    services.close()


def store_dump(services: Services) -> str:
    """Every row of the store, as SQL: equal dumps mean nothing was written."""
    return "\n".join(services.store.conn.iterdump())


async def open_audiences(pilot) -> AudiencesScreen:  # type: ignore[no-untyped-def]
    await pilot.press("f6")
    await settle(pilot)  # the counts are read in a thread
    screen = pilot.app.screen
    assert isinstance(screen, AudiencesScreen)
    return screen


async def open_tab(pilot, screen: AudiencesScreen, tab: str) -> None:  # type: ignore[no-untyped-def]
    screen.query_one(TabbedContent).active = tab
    await settle(pilot)


def cli_dry_run(workspace: DemoWorkspace, capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    """The same dry run through the command line (profiles from the CSVs), as JSON."""
    from tui.cli import main

    capsys.readouterr()
    code = main(
        [
            "--db",
            str(workspace.db_path),
            "dry-run",
            "--json",
            "--profiles",
            str(workspace.profiles_csv),
            "--visitors",
            str(workspace.visitors_csv),
            *(args or (str(workspace.inbox),)),
        ]
    )
    assert code == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------- pure parts


def test_bar_is_proportional_and_never_hides_a_count() -> None:
    assert bar(10, 10, 8) == "█" * 8
    assert bar(5, 10, 8) == "█" * 4
    assert bar(0, 10, 8) == ""
    assert bar(1, 10_000, 8) == "▏"  # one in ten thousand still shows
    assert len(bar(3, 7, 20)) <= 20


def test_chart_rows_follow_the_contract_order_without_zeros() -> None:
    rows = chart_rows({"not_found": 3, "reconciled": 9, "bad_padding": 0, "duplicate": 1})
    assert rows == [("reconciled", 9), ("duplicate", 1), ("not_found", 3)]


# ----------------------------------------------------------------------- dry run


async def test_dry_run_on_the_demo_reports_every_outcome_and_writes_nothing(
    demo, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    expected = cli_dry_run(workspace, capsys)
    before = store_dump(services)
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        assert screen.query_one("#dr-files", Input).value == "aam-outbound"
        assert not screen.query_one("#dr-report").display
        await pilot.press("f8")
        await settle(pilot)

        progress = screen.query_one("#dr-progress", RunProgress)
        assert progress.updates >= 1, "no progress message reached the screen"
        assert progress.bar.total is not None and progress.bar.total > 1
        assert progress.bar.progress == progress.bar.total
        assert progress.text.startswith("✓")

        assert screen.query_one("#dr-report").display
        chart = screen.query_one(OutcomeChart)
        want = {"reconciled": expected["reconciled"], "duplicate": expected["duplicates"]}
        want.update(expected["outcomes"])
        assert {k: v for k, v in chart.outcomes.items() if v} == want
        assert set(want) == {o.value for o in Outcome}, "the demo has every outcome"
        drawn = chart.render().plain
        for name, count in want.items():
            line = next(row for row in drawn.splitlines() if f" {name} " in row)
            assert f" {count} " in line
            assert any(block in line for block in "█▏▎▍▌▋▊▉"), line

        totals = str(screen.query_one("#dr-totals", Static).render())
        assert f"match rate {expected['match_rate'] * 100:.1f} %" in totals
        assert f"{expected['records']} records" in totals

        segments = str(screen.query_one("#dr-segments", Static).render())
        for seg, counts in expected["segments"].items():
            assert seg in segments and f"members {counts['members']:>7,}" in segments

        causes = str(screen.query_one("#dr-causes", Static).render())
        assert expected["causes"], "the demo's website makes a mistake"
        for cause in expected["causes"]:  # each cause once, above the samples
            assert causes.count(f"{cause['datasource']}: {cause['code']} ") == 1
            assert f"fix: {cause['fix']}" in causes

        table = screen.query_one("#dr-samples", DataTable)
        assert table.row_count == len(expected["unreconciled_samples"]) > 0
        first = expected["unreconciled_samples"][0]
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[:2] == [first["file"], str(first["line"])]
        assert row[3] == first["outcome"]
    assert store_dump(services) == before, "a dry run must not write to the store"


async def test_dry_run_with_a_profiles_csv_and_a_single_datasource(
    demo, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    phones = next(p for p in workspace.inbox.iterdir() if p.name.startswith("ftp_46392"))
    expected = cli_dry_run(
        workspace, capsys, "--datasource", "Recipient - Mobile (AES)", str(phones)
    )
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        screen.query_one("#dr-files", Input).value = f"aam-outbound/{phones.name}"
        screen.query_one("#dr-profiles", Input).value = "profiles.csv"
        screen.query_one("#dr-datasource").value = "Recipient - Mobile (AES)"  # type: ignore[attr-defined]
        await pilot.press("f8")
        await settle(pilot)
        assert screen.result is not None
        summary = screen.result.summary
        assert summary.datasources == ["Recipient - Mobile (AES)"]
        assert summary.to_json()["outcomes"] == expected["outcomes"]
        assert (summary.records, summary.reconciled) == (
            expected["records"],
            expected["reconciled"],
        )
        assert summary.records > summary.reconciled > 0
        source = str(screen.query_one("#dr-skipped", Static).render())
        assert "profiles.csv (400 profiles)" in source


async def test_a_bad_path_fails_with_a_notification_and_no_report(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        screen.query_one("#dr-files", Input).value = "no-such-folder"
        await pilot.press("f8")
        await settle(pilot)
        progress = screen.query_one("#dr-progress", RunProgress)
        assert progress.state == "failed" and "no-such-folder" in progress.text
        messages = [n.message for n in app._notifications]
        assert any("no such file or folder" in m for m in messages), messages
        assert not screen.query_one("#dr-report").display
        assert screen.check_action("run", ()) is True  # ready for the next run


async def test_save_report_writes_the_markdown_report(demo) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        assert screen.check_action("save_report", ()) is False  # nothing to save yet
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PromptModal)
        proposed = app.screen.query_one(Input).value
        assert proposed.endswith("/match-report.md") and proposed.startswith(("/", "~/")), (
            "the proposed path says where the report goes, whatever the working folder"
        )
        app.screen.query_one(Input).value = "reports-match.md"
        await pilot.press("enter")
        await pilot.pause()
        told = [n.message for n in app._notifications]
        assert any(str(workspace.root / "reports-match.md") in m for m in told), told
    text = (workspace.root / "reports-match.md").read_text(encoding="utf-8")
    assert text.startswith("# Audience match report: demo")
    assert "bad_padding" in text and "wrong_hash_length" in text


def big_audience_file(folder: Path, lines: int) -> Path:
    """A visitor-ID file of ``lines`` distinct IDs (gzip, so it is small on disk)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ftp_46390_14016_iter_1793541600000001.sync.gz"
    base = 10**37
    data = "".join(f"{base + i * 7919}\t201\n" for i in range(lines)).encode()
    path.write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    return path


async def test_cancel_stops_the_run_midway_and_shows_no_report(
    demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    big = big_audience_file(tmp_path / "big", 2_500_000)
    seen: list[tuple[int, int]] = []  # every (done, total) the run reported, cancelled or not
    real_step = JobStep.__init__

    def record(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        real_step(self, *args, **kwargs)
        seen.append((self.step.done, self.step.total))

    monkeypatch.setattr(JobStep, "__init__", record)
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        screen.query_one("#dr-files", Input).value = str(big)
        await pilot.press("f8")
        progress = screen.query_one("#dr-progress", RunProgress)
        deadline = time.monotonic() + 20
        while progress.updates < 2 and time.monotonic() < deadline:
            await pilot.pause(0.02)
        assert progress.updates >= 2, "the dry run never reported progress"
        bar_state = progress.bar
        assert bar_state.total and bar_state.progress < bar_state.total / 2, (
            "the file is too small to test a cancel: the run is nearly over"
        )
        job = screen._jobs["dryrun"]
        worker = job.worker
        assert worker is not None
        await pilot.press("escape")
        await wait_until(pilot, lambda: not worker.is_running, "the dry run stopped")
        await pilot.pause()
        # Stopped at the next chunk: the run never reported its last line.
        assert seen[-1][0] < seen[-1][1], f"the run went on to the end: {seen[-1]}"
        assert worker.result is None
        assert progress.state == "cancelled" and "no report" in progress.text
        assert not screen.query_one("#dr-report").display
        assert screen.result is None
        assert "dryrun" not in screen._jobs


# ----------------------------------------------------------------------- workflow


async def test_workflow_run_now_pause_resume_and_stop(demo) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    workflow = SqliteWorkflowStore(services.store)
    files = sorted(p.name for p in workspace.inbox.iterdir())
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        await open_tab(pilot, screen, "workflow")
        panel = screen.query_one(WorkflowPanel)
        assert "idle" in str(panel.query_one("#wf-state", Static).render())
        assert "14:00 UTC" in str(panel.query_one("#wf-latency", Static).render())
        assert "60 h" in str(panel.query_one("#wf-latency", Static).render())

        await pilot.press("f8")  # Run now
        await settle(pilot)
        assert panel.progress.updates >= 1 and panel.progress.state == "done"
        assert workflow.processed_names("demo") == set(files)
        runs = screen.query_one("#wf-runs", DataTable)
        assert runs.row_count == 1
        row = [str(c) for c in runs.get_row_at(0)]
        last = workflow.last_run("demo")
        assert last is not None and last.status == "ok"
        assert row[1] == "✓ ok" and row[2] == str(last.files) and row[3] == f"{last.records:,}"
        segments = screen.query_one("#wf-segments", DataTable)
        assert segments.row_count == len(workflow.segment_counts("demo")) > 0
        assert workflow.status("demo").state is State.RUNNING

        await pilot.press("p")
        await settle(pilot)
        assert workflow.status("demo").state is State.PAUSED
        assert "‖ paused" in str(panel.query_one("#wf-state", Static).render())

        await pilot.press("f8")  # a paused workflow runs nothing
        await settle(pilot)
        assert panel.progress.state == "failed" and "paused" in panel.progress.text
        assert runs.row_count == 1

        await pilot.press("r")
        await settle(pilot)
        assert workflow.status("demo").state is State.RUNNING

        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "cannot resume from the same point" in str(
            app.screen.query_one("#dialog-body", Static).render()
        )
        await pilot.click("#yes")
        await settle(pilot)
        assert workflow.status("demo").state is State.STOPPED
        assert "■ stopped" in str(panel.query_one("#wf-state", Static).render())

        await pilot.press("f8")  # run now again: nothing new, and stopped refuses anyway
        await settle(pilot)
        assert runs.row_count == 1


async def test_stop_can_be_declined(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    workflow = SqliteWorkflowStore(services.store)
    workflow.set_state("demo", State.RUNNING)
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        await open_tab(pilot, screen, "workflow")
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")
        await pilot.pause()
        assert workflow.status("demo").state is State.RUNNING


async def test_workflow_keys_do_nothing_on_other_tabs(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    workflow = SqliteWorkflowStore(services.store)
    workflow.set_state("demo", State.RUNNING)
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        screen.set_focus(None)
        await pilot.press("p")
        await settle(pilot)
        assert workflow.status("demo").state is State.RUNNING
        assert screen.check_action("pause", ()) is False


# ----------------------------------------------------------------------- export


async def test_export_preview_then_write_and_upload(demo) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    run_pass_now(services)
    members = SqliteWorkflowStore(services.store).segment_counts("demo")
    first_segment = next(iter(members))
    out = workspace.root / "out"
    out.mkdir()
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        await open_tab(pilot, screen, "export")
        panel = screen.query_one(ExportPanel)
        assert panel.query_one("#ex-segment", Input).value == first_segment
        assert panel.query_one("#ex-datasource").value == "Recipient - Email (AES)"  # type: ignore[attr-defined]

        await pilot.press("f8")  # preview
        await settle(pilot)
        preview = panel.preview
        assert preview is not None
        assert preview.file_name.startswith("ftp_dpm_14016_") and preview.file_name.endswith(
            ".sync"
        )
        assert 0 < len(preview.lines) <= 8
        assert all(line.endswith(f"\t{first_segment}") for line in preview.lines)
        shown = str(panel.query_one("#ex-lines", Static).render())
        assert f"⇥ {first_segment}" in shown
        without = str(panel.query_one("#ex-skipped", Static).render())
        assert f"members with no usable ID: {preview.without_id}" in without
        assert preview.report.lines + preview.without_id <= members[first_segment]
        assert list(out.iterdir()) == [] and list(workspace.outbox.iterdir()) == []

        panel.query_one("#ex-folder", Input).value = "out"
        await pilot.click("#ex-write")
        await settle(pilot)
        written = list(out.iterdir())
        assert len(written) == 1 and written[0].name.startswith("ftp_dpm_14016_")
        lines = written[0].read_text(encoding="utf-8").splitlines()
        assert lines[: len(preview.lines)] == preview.lines
        assert len(lines) == preview.report.lines
        assert "out" in str(panel.query_one("#ex-file", Static).render())

        await pilot.click("#ex-upload")
        await settle(pilot)
        uploaded = list(workspace.outbox.iterdir())
        assert len(uploaded) == 1, uploaded
        assert uploaded[0].read_text(encoding="utf-8").splitlines() == lines
        assert panel.result is not None and panel.result.uploaded


async def test_export_to_folder_defaults_to_exports_beside_the_store(  # type: ignore[no-untyped-def]
    demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F9 with the Folder field untouched writes where the CLI does (``exports/`` beside
    the store, shown in the field's placeholder), never into the console's working folder."""
    services, _ = demo
    run_pass_now(services)
    elsewhere = tmp_path / "started-here"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    exports = services.db_path.parent / "exports"
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        await open_tab(pilot, screen, "export")
        field = screen.query_one("#ex-folder", Input)
        assert field.value == ""
        assert str(exports) in field.placeholder
        await pilot.press("f9")
        await settle(pilot)
        written = [p.name for p in exports.iterdir()]
        assert len(written) == 1 and written[0].startswith("ftp_dpm_14016_"), written
        assert list(elsewhere.iterdir()) == []
        shown = str(screen.query_one(ExportPanel).query_one("#ex-file", Static).render())
        assert written[0] in shown and "exports" in shown


async def test_export_without_a_data_source_choice_or_members_says_so(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        await open_tab(pilot, screen, "export")
        panel = screen.query_one(ExportPanel)
        # no import yet: no segment in the store, the members CSV is asked for
        assert panel.query_one("#ex-csv", Input).display
        await pilot.press("f8")
        await pilot.pause()
        assert any("members CSV" in n.message or "segment" in n.message for n in app._notifications)
        assert panel.preview is None


async def test_without_an_environment_the_screen_says_so(db_path: Path) -> None:
    services = Services(db_path=db_path)
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audiences(pilot)
        notice = screen.query_one("#dryrun .no-env", Static)
        assert notice.display and "No environment yet" in str(notice.render())
        await pilot.press("f8")
        await pilot.pause()
        assert not screen._jobs
        assert any("No environment yet" in n.message for n in app._notifications)
    services.close()


async def test_ctrl_t_cycles_the_tabs_from_anywhere(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audiences(pilot)
        screen.query_one("#dr-files", Input).focus()  # even from a text field
        seen = []
        for _ in range(3):
            await pilot.press("ctrl+t")
            await pilot.pause()
            seen.append(screen.query_one(TabbedContent).active)
        assert seen == ["workflow", "export", "dryrun"]


async def test_an_export_can_be_cancelled_and_leaves_nothing(
    demo,
) -> None:  # type: ignore[no-untyped-def]
    services, workspace = demo
    run_pass_now(services)
    services.hooks = pause_hooks("upload=2")  # the upload waits at its first bytes
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        await open_tab(pilot, screen, "export")
        panel = screen.query_one(ExportPanel)
        assert panel.query_one("#ex-cancel").disabled
        await pilot.press("f10")  # upload
        await wait_until(
            pilot, lambda: not panel.query_one("#ex-cancel").disabled, "the upload started"
        )
        await pilot.press("escape")
        await settle(pilot)
        # Had the cancel waited for the upload to end, the file would be in the outbox.
        assert panel.progress.state == "cancelled" and "nothing was written" in panel.progress.text
        assert panel.query_one("#ex-cancel").disabled
        assert not panel.query_one("#ex-upload").disabled
    assert list(workspace.outbox.iterdir()) == [], "no final and no temporary file"


async def test_slow_counts_do_not_freeze_the_screen(demo, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Counting millions of profiles and members takes a while: it runs in a thread,
    and keys are answered meanwhile."""
    import tui.screens.audiences as module

    services, _ = demo
    real = module.profile_stats
    counting = threading.Event()
    release = threading.Event()

    def slow(store, env_name):  # type: ignore[no-untyped-def]
        counting.set()
        release.wait(120)  # held until the keys below were answered
        return real(store, env_name)

    monkeypatch.setattr(module, "profile_stats", slow)
    app = AudienceApp(services)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f6")
            await wait_until(pilot, counting.is_set, "the counts started")
            await pilot.press("ctrl+t")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, AudiencesScreen)
            # The key was answered while the counting thread is still held.
            assert not release.is_set()
            assert screen.query_one(TabbedContent).active == "workflow"
            assert "400" not in screen.query_one("#dr-profiles", Input).placeholder
            release.set()
            await settle(pilot)
            assert "400 profiles" in screen.query_one("#dr-profiles", Input).placeholder
    finally:
        release.set()


async def test_page_down_scrolls_the_report_while_a_field_has_the_focus(demo) -> None:  # type: ignore[no-untyped-def]
    from textual.containers import VerticalScroll

    services, _ = demo
    app = AudienceApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audiences(pilot)
        await pilot.press("f8")
        await settle(pilot)
        screen.query_one("#dr-files", Input).focus()
        scroll = screen.query_one("#dr-scroll", VerticalScroll)
        assert scroll.scroll_y == 0
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: scroll.scroll_y > 0, "page down scrolled")
        await pilot.press("pageup")
        await pilot.wait_for_scheduled_animations()
        await wait_until(pilot, lambda: scroll.scroll_y == 0, "page up scrolled back")


async def test_every_job_of_the_screen_is_in_the_palette_with_its_key(demo) -> None:  # type: ignore[no-untyped-def]
    services, _ = demo
    run_pass_now(services)  # segments to export
    app = AudienceApp(services)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_audiences(pilot)
        helps = {c.title: c.help for c in screen.palette_commands()}
        for title, key in [
            ("audiences: export preview", "F8"),
            ("audiences: export to folder", "F9"),
            ("audiences: upload to AAM", "F10"),
            ("audiences: next tab", "Ctrl+T"),
        ]:
            assert key in helps[title], (title, helps.get(title))
        preview = next(c for c in screen.palette_commands() if c.title.endswith("preview"))
        preview.callback()
        await settle(pilot)
        assert screen.query_one(TabbedContent).active == "export"
        assert screen.query_one(ExportPanel).preview is not None


def test_dry_run_progress_names_the_profile_index_being_built(demo) -> None:  # type: ignore[no-untyped-def]
    """Indexing a large profile dimension takes seconds: the progress line says so
    before the audience files are read, for store and CSV profiles alike, and the
    bar never moves back."""
    from usecases.dryrun import DryRunRequest, run_dry_run
    from usecases.progress import Step

    services, workspace = demo
    for request in (
        DryRunRequest((workspace.inbox,)),
        DryRunRequest((workspace.inbox,), workspace.profiles_csv, workspace.visitors_csv),
        DryRunRequest((workspace.inbox,), workspace.profiles_csv),
    ):
        steps: list[Step] = []
        result = run_dry_run(services, request, progress=steps.append)
        texts = [s.text for s in steps]
        indexing = [i for i, t in enumerate(texts) if ": indexing, " in t]
        ready = [i for i, t in enumerate(texts) if ": index ready (" in t]
        assert indexing and ready and indexing[0] < ready[0]
        first_file = next(i for i, t in enumerate(texts) if " lines" in t)
        assert ready[0] < first_file
        done = [s.done for s in steps]
        assert done == sorted(done) and done[-1] == steps[-1].total
        assert "profiles)" in result.profiles_label


def test_console_dry_run_checks_a_profiles_csv_no_batch_needed(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A duplicate id late in the profiles CSV is an error even when no batch is
    routed (so the run never read the profiles)."""
    from core.errors import InputError
    from tests.test_reconcile import late_duplicate_and_unrouted
    from usecases.dryrun import DryRunRequest, run_dry_run

    services, workspace = demo
    dup, unrouted = late_duplicate_and_unrouted(workspace.profiles_csv, tmp_path)
    for inbox in (workspace.inbox, unrouted):
        with pytest.raises(InputError, match="appears twice"):
            run_dry_run(services, DryRunRequest((inbox,), dup))


async def test_outcome_meanings_wrap_instead_of_being_cut_at_80_columns() -> None:
    """Issue 19.9: at 80×24 the meanings ended in "…"."""
    from textual.app import App, ComposeResult

    from core.outcomes import EXPLANATIONS

    class ChartApp(App[None]):
        def compose(self) -> ComposeResult:
            yield OutcomeChart()

    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(OutcomeChart)
        chart.show({o.value: 3 for o in Outcome})
        await pilot.pause()
        lines = chart.render().plain.split("\n")  # as drawn in an 80-column terminal
        assert all(len(line) <= chart.size.width for line in lines)
        drawn = " ".join(" ".join(line.split()) for line in lines)
        assert "…" not in drawn
        for outcome in Outcome:
            assert " ".join(EXPLANATIONS[outcome][0].split()) in drawn
        assert chart.size.height == len(lines)  # all of them laid out
