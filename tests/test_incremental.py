"""Incremental facts and delta publishing (#18): after any sequence of loads the derived tables equal a
rebuild from scratch, whatever the sequence (late changes, line items the API stops sending, returns,
affiliate lines, cursor moves, stock and status snapshots, costs and lead times), through real syncs of
the sandbox over HTTP, imports and a replay, and after SIGKILL at any point of load, derive or publish; and
a reader opening the published warehouse meanwhile is never refused and never sees half a publish."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from incremental_ops import Business, derived, rebuilt, shops
from shoplens.demo import sandbox_settings, sync_from_sandbox
from shoplens.sync import SyncOptions, replay
from shoplens.warehouse import Warehouse
from shoplens.warehouse.publish import WorkingCopy, publish, replicas_dir, working_path
from test_sync import content_hashes, warehouse

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_any_sequence_of_loads_leaves_the_facts_equal_to_a_rebuild(tmp_path, seed):
    business = Business(seed)
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        shops(wh)
        assert wh.refresh_facts(incremental=True) == "full"  # the first refresh builds everything
        kinds = []
        for _ in range(40):
            kinds.append(business.step(wh))
            assert wh.refresh_facts(incremental=True) in ("incremental", "current")
            wh.con.execute("CHECKPOINT")
            assert derived(wh) == rebuilt(path, tmp_path / "rebuilt.duckdb"), kinds
        counts = {t: wh.count(t) for t in ("order_facts", "line_item_facts", "dispatch_facts", "backlog_daily",
                                           "stock_daily", "listing_daily")}
    assert {"new", "change", "late", "drop_item", "affiliate", "stock", "products", "costs"} <= set(kinds)
    assert all(counts.values()), counts  # every derived table was exercised


def test_a_write_the_tracking_did_not_see_falls_back_to_a_rebuild(tmp_path):
    business = Business(9)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        shops(wh)
        for _ in range(6):
            business._new(wh)
        wh.refresh_facts(incremental=True)
        with wh.transaction():  # SQL of one's own, no facts.mark
            gone = wh.rows("SELECT min(order_id) FROM orders")[0][0]
            wh.con.execute("DELETE FROM order_line_items WHERE order_id = ?", [gone])
            wh.con.execute("DELETE FROM orders WHERE order_id = ?", [gone])
        assert wh.refresh_facts(incremental=True) == "full"
        assert wh.facts_are_current()
