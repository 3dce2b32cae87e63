"""A writer that stays open (#18): it publishes every run without closing the working copy (appending its log,
compacting when the log is long), the facts still equal a rebuild, and another writer of the workspace
(another process) asks it to step aside, gets the lock, and is followed by the resident taking it back."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from incremental_ops import Business, derived, rebuilt, shops
from shoplens.config import warehouse_path
from shoplens.warehouse import Warehouse
from shoplens.warehouse import publish as publishing
from shoplens.warehouse.publish import WorkingCopy
from shoplens.warehouse.reference import workspace_writer
from shoplens.warehouse.resident import ResidentWriter, resident_for
from shoplens.webhooks.worker import Worker
from test_sync import sandbox_settings_offline

TESTS = Path(__file__).resolve().parent


def workspace(home: Path) -> None:
    copy = WorkingCopy(home)
    wh = copy.open()
    try:
        shops(wh)
        wh.refresh_facts(incremental=True)
    finally:
        copy.close(wh)
    copy.publish()


def published_orders(home: Path) -> int:
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        return wh.count("orders")


def test_a_resident_writer_publishes_every_run_without_closing_and_its_facts_equal_a_rebuild(tmp_path,
                                                                                              monkeypatch):
    home = tmp_path / "ws"
    workspace(home)
    business = Business(7)
    resident = ResidentWriter(home)
    assert resident.hold() and resident_for(home) is resident
    connection, modes = resident.warehouse.con, []
    try:
        for run in range(8):
            if run == 5:  # a short log limit: the next publish compacts (close, checkpoint, open again)
                monkeypatch.setattr(publishing, "COMPACT_BYTES", 1)
            if run == 6:
                monkeypatch.undo()
            with workspace_writer(home) as wh:  # in this process every writer goes through the resident
                assert wh is resident.warehouse
                for _ in range(3):
                    business.step(wh)
                working = wh.count("orders")
            modes.append(resident.published.mode)
            assert published_orders(home) == working  # each run readable as soon as it is published
            if run < 5:
                assert resident.warehouse.con is connection  # the same connection: nothing replayed
        assert modes[:5] == ["copy", "append", "append", "append", "append"]  # the second replica, then logs
        assert modes[5] == "copy" and resident.warehouse.con is not connection  # compacted, and open again
        assert modes[6:] == ["copy", "append"]
        assert resident.open_s > 0
        facts = derived(resident.warehouse)
    finally:
        resident.release()
    assert resident_for(home) is None
    assert facts == rebuilt(WorkingCopy(home).path, tmp_path / "scratch.duckdb")


def churn_command(home: Path, seed: int, rounds: int, wait: float | None = None) -> list[str]:
    setup = f"import shoplens.locks as locks; locks.YIELD_WAIT_S = {wait}; " if wait else ""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(TESTS)!r}); {setup}"
                                  f"from incremental_ops import churn; churn({str(home)!r}, {seed}, {rounds})"]


def test_another_process_asks_the_resident_to_step_aside_and_the_resident_takes_the_lock_back(tmp_path):
    home = tmp_path / "ws"
    workspace(home)
    (home / "logs").mkdir()
    worker = Worker(sandbox_settings_offline(home), home / "logs", coalesce=0.1).start()
    try:
        deadline = time.monotonic() + 60
        while not worker.resident.held:
            assert time.monotonic() < deadline, "the worker never opened the working copy"
            time.sleep(0.05)
        started = time.monotonic()
        done = subprocess.run(churn_command(home, 3, 2), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]  # it waited for the resident, then wrote
        assert time.monotonic() - started < 120
        assert not (home / "data" / "sync.yield").exists()
        with Warehouse(warehouse_path(home), read_only=True) as wh:
            written = wh.rows("SELECT orders, total FROM churn_marker")
        assert len(written) == 1  # its rounds were published

        deadline = time.monotonic() + 60
        while not worker.resident.held:  # taken back once the other writer is done
            assert time.monotonic() < deadline, "the worker never took the working copy back"
            time.sleep(0.05)
        with workspace_writer(home, refresh_facts=False) as wh:  # sees what the other process wrote
            assert wh is worker.resident.warehouse
            assert wh.rows("SELECT orders, total FROM churn_marker") == written
    finally:
        worker.stop()
    assert not worker.resident.held and resident_for(home) is None


def test_a_resident_that_does_not_step_aside_gets_the_other_writer_a_clear_error(tmp_path):
    home = tmp_path / "ws"
    workspace(home)
    resident = ResidentWriter(home)
    assert resident.hold()
    try:  # nothing tends this resident: the other writer waits, then gives up naming it
        done = subprocess.run(churn_command(home, 4, 1, wait=1.0), capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        assert "the resident writer of this workspace (pid " in done.stderr and "(resident writer)" not in done.stderr
        assert "did not step aside within 1 s" in done.stderr
        assert not resident.asked()  # the request of a process that is gone does not count
        assert not (home / "data" / "sync.yield").exists()
        assert not resident.step_aside_if_asked() and resident.held
    finally:
        resident.release()


@pytest.mark.parametrize("refresh", [True, False])
def test_a_failed_run_closes_the_resident_and_the_next_run_opens_it_again(tmp_path, refresh):
    home = tmp_path / "ws"
    workspace(home)
    business = Business(9)
    resident = ResidentWriter(home)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            with resident.writing(refresh_facts=refresh) as wh:
                business.step(wh)
                raise RuntimeError("boom")
        assert not resident.held and resident_for(home) is None
        with resident.writing(refresh_facts=refresh) as wh:  # the committed pages are there; published now
            business.step(wh)
            working = wh.count("orders")
        assert published_orders(home) == working
    finally:
        resident.release()
