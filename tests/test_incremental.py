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
import time
from pathlib import Path

import pytest

from incremental_ops import DERIVED, Business, derived, rebuilt, shops
from shoplens.demo import sandbox_settings, sync_from_sandbox
from shoplens.sync import SyncOptions, replay
from shoplens.warehouse import Warehouse
from shoplens.warehouse.publish import replicas_dir, working_path
from test_sync import LOADED_BY, content_hashes, warehouse

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("seed", [1, 2, 3])
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
        counts = {t: wh.count(t) for t in DERIVED}
    assert {"new", "change", "late", "drop_item", "affiliate", "stock", "products", "costs", "buyer"} <= set(kinds)
    assert all(counts.values()), counts  # every derived table was exercised


def test_a_warehouse_from_before_the_units_table_gets_it_filled_by_the_migration_not_a_rebuild(tmp_path):
    """Migration 23 adds `sku_units_daily` to warehouses whose facts exist: it is filled from their line-item
    facts (one query; the rebuild is not needed), and the syncs after keep it equal to a rebuild."""
    business = Business(4)
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        shops(wh)
        wh.refresh_facts(incremental=True)
        for _ in range(8):
            business.step(wh)
        wh.refresh_facts(incremental=True)
        expected = wh.rows("SELECT * FROM sku_units_daily ORDER BY ALL")
        # as the warehouse was before migration 23, with changes not refreshed yet
        wh.con.execute("DROP TABLE sku_units_daily")
        wh.con.execute("DELETE FROM schema_migrations WHERE version = 23")
        for _ in range(3):
            business.step(wh)
    with Warehouse(path) as wh:  # migrated: the units of the line-item facts as they are (not refreshed yet)
        assert wh.rows("SELECT * FROM sku_units_daily ORDER BY ALL") == expected and expected
        assert wh.refresh_facts(incremental=True) == "incremental"  # not a rebuild
        for _ in range(10):
            business.step(wh)
            wh.refresh_facts(incremental=True)
        wh.con.execute("CHECKPOINT")
        assert derived(wh) == rebuilt(path, tmp_path / "rebuilt.duckdb")


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


def test_a_rebuild_over_facts_that_hold_rows_keeps_their_tables_and_indexes(tmp_path):
    """The full rebuild drops the derived tables and creates them again (deleting millions of rows made its
    commit take minutes): what it creates is what the migrations made, and the facts equal a fresh build."""
    business = Business(5)
    path = tmp_path / "w.duckdb"
    catalogue = """SELECT 'table', table_name, sql FROM duckdb_tables() WHERE database_name = 'w'
                   UNION ALL SELECT 'index', index_name, sql FROM duckdb_indexes() WHERE database_name = 'w'
                   ORDER BY ALL"""
    with Warehouse(path) as wh:
        shops(wh)
        for kind in ("new", "new", "new", "change", "change", "affiliate"):  # orders in every fact table
            with wh.transaction():
                getattr(business, f"_{kind}")(wh)
        assert wh.refresh_facts(incremental=True) == "full"
        before = wh.rows(catalogue)
        wh.con.execute("INSERT INTO fact_changes VALUES ('full', '')")  # as a migration or a shop's new zone does
        assert wh.refresh_facts(incremental=True) == "full"
        assert wh.rows(catalogue) == before
        assert {name for kind, name, _ in before if kind == "index"} >= {f"{t}_order" for t in DERIVED[:2]}
        assert all(wh.count(t) for t in DERIVED[:5]), {t: wh.count(t) for t in DERIVED}
        business.step(wh)
        assert wh.refresh_facts(incremental=True) == "incremental"
        wh.con.execute("CHECKPOINT")
        assert derived(wh) == rebuilt(path, tmp_path / "rebuilt.duckdb")


def all_tables(path) -> list[str]:
    with Warehouse(path, read_only=True) as wh:
        return [r[0] for r in wh.rows("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                      "ORDER BY 1")]


def assert_published_is_a_rebuild(home: Path, scratch: Path) -> None:
    """The published replica holds what the working copy holds, table by table, and its facts are a rebuild's."""
    link = warehouse(home)
    assert link.is_symlink() and link.resolve().parent == replicas_dir(home)
    tables = all_tables(working_path(home))
    assert content_hashes(link, tables, ignore=()) == content_hashes(working_path(home), tables, ignore=())
    with Warehouse(link, read_only=True) as wh:
        assert wh.facts_are_current()
        assert derived(wh) == rebuilt(link, scratch)


def test_syncs_imports_costs_and_a_replay_publish_facts_equal_to_a_rebuild(server, tmp_path):
    from exports import write_csv
    from test_imports import TH, run_import, thai_rows
    from shoplens.warehouse.reference import load_costs, workspace_writer

    sandbox, home, scratch = server.sandbox, tmp_path / "ws", tmp_path / "rebuilt.duckdb"
    end = sandbox.business.end_time
    lineages = []
    for days_before in (6, 2, 0):  # each sync brings new orders, late status changes and refunds
        sandbox.business_now = lambda d=days_before: end - d * 86_400
        sync_from_sandbox(server, home, options=SyncOptions(history_days=21))
        assert_published_is_a_rebuild(home, scratch)
        lineages.append(json.loads((home / "data" / "sync" / "publish.json").read_text())["lineage"])
    # the link moves between two replicas by appending logs (one lineage), not by copying files
    assert len(set(lineages)) == 1 and len(list(replicas_dir(home).glob("*.duckdb"))) == 2
    # an export of a shop the API does not sync, then the same export with a line the file no longer has
    rows = thai_rows()
    run_import(home, [write_csv(tmp_path / "th.csv", rows)], shop_id=TH, region="TH")
    assert_published_is_a_rebuild(home, scratch)
    run_import(home, [write_csv(tmp_path / "th2.csv", rows[1:])], shop_id=TH)
    assert_published_is_a_rebuild(home, scratch)
    shop = sandbox.business.shops[0]
    with Warehouse(warehouse(home), read_only=True) as wh:
        skus = [r[0] for r in wh.rows("SELECT DISTINCT sku_id FROM order_line_items WHERE shop_id = ? LIMIT 3",
                                      [shop.id])]
        currency = wh.rows("SELECT currency FROM shops WHERE shop_id = ?", [shop.id])[0][0]
    with workspace_writer(home) as wh:
        load_costs(wh, "shop_id,sku_id,currency,unit_cost\n" + "".join(
            f"{shop.id},{sku},{currency},{n + 1}.50\n" for n, sku in enumerate(skus)), "costs.csv")
    assert_published_is_a_rebuild(home, scratch)
    with Warehouse(warehouse(home), read_only=True) as wh:
        assert wh.rows("SELECT count(*) FROM line_item_facts WHERE unit_cost IS NOT NULL")[0][0] > 0
    before = content_hashes(warehouse(home), ("orders", "order_line_items", "refunds"), ignore=LOADED_BY)
    replay(sandbox_settings(server, home))  # a new working file (buyers numbered afresh): published whole
    assert_published_is_a_rebuild(home, scratch)
    assert content_hashes(warehouse(home), ("orders", "order_line_items", "refunds"), ignore=LOADED_BY) == before
    sync_from_sandbox(server, home, options=SyncOptions(history_days=21))
    assert_published_is_a_rebuild(home, scratch)


def churn_command(home: Path, seed: int, rounds: int, phases: Path | None = None) -> list[str]:
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); from incremental_ops import churn; "
            f"churn({str(home)!r}, {seed}, {rounds}, {str(phases) if phases else None!r})")
    return [sys.executable, "-c", code]


def test_sigkill_at_any_point_of_load_derive_or_publish_then_a_run_converges(tmp_path):
    home, phases = tmp_path / "ws", tmp_path / "phases.log"
    subprocess.run(churn_command(home, 0, 3), check=True, timeout=300)
    rng, struck = random.Random(18), []
    for target in ["open", "load", "derive", "close", "publish"] * 3:  # SIGKILL within each phase, 3 times
        phases.write_text("")
        process = subprocess.Popen(churn_command(home, len(struck) + 1, 50, phases))
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if (phases.read_text().split() or [""])[-1] == target:
                time.sleep(rng.uniform(0, 0.004))  # somewhere inside it (a publish is a few fsyncs long)
                break
            time.sleep(0.001)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            struck.append((phases.read_text().split() or ["start"])[-1])
        process.wait()
    assert {"load", "derive", "close", "publish"} <= set(struck) and len(struck) >= 12, struck
    subprocess.run(churn_command(home, 99, 2), check=True, timeout=300)
    assert_published_is_a_rebuild(home, tmp_path / "rebuilt.duckdb")
    with Warehouse(warehouse(home), read_only=True) as wh:
        assert wh.rows("SELECT orders FROM churn_marker")[0][0] == wh.count("orders")
    left = [p.name for p in [*replicas_dir(home).iterdir(), *(home / "data").iterdir()]
            if p.name.endswith((".tmp", ".link"))]
    assert not left and len(list(replicas_dir(home).glob("*.duckdb"))) <= 2


READER = textwrap.dedent("""
    import json, random, sys, time
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from shoplens.warehouse import Warehouse
    link, stop, out, seed = Path({link!r}), Path({stop!r}), Path({out!r}), {seed}
    rng, seen = random.Random(seed), {{"opens": 0, "refused": [], "half": [], "states": []}}
    while not stop.exists():
        try:
            wh = Warehouse(link, read_only=True)
        except Exception as exc:
            seen["refused"].append(repr(exc))
            continue
        try:
            seen["opens"] += 1
            marker = wh.rows("SELECT orders, total FROM churn_marker")[0]
            now = wh.rows("SELECT count(*), coalesce(sum(sub_total), 0) FROM orders")[0]
            facts = wh.rows("SELECT count(*), coalesce(sum(sub_total), 0) FROM order_facts")[0]
            if not (marker == now == facts and wh.facts_are_current()):
                seen["half"].append([str(marker), str(now), str(facts)])
            seen["states"].append(marker[0])
            time.sleep(rng.choice([0, 0, 0.01, 0.05, 0.3, 1.0]))  # a report holds it a while
        finally:
            wh.close()
    out.write_text(json.dumps(seen))
""")


def test_readers_are_never_refused_and_never_see_half_a_publish(tmp_path):
    home, stop = tmp_path / "ws", tmp_path / "stop"
    subprocess.run(churn_command(home, 0, 2), check=True, timeout=300)
    readers = [subprocess.Popen([sys.executable, "-c", READER.format(
        tests=str(TESTS), link=str(warehouse(home)), stop=str(stop), out=str(tmp_path / f"reader{n}.json"), seed=n)])
        for n in range(3)]
    try:
        subprocess.run(churn_command(home, 1, 40), check=True, timeout=600)
    finally:
        stop.write_text("")
        for reader in readers:
            reader.wait(timeout=60)
    seen = [json.loads((tmp_path / f"reader{n}.json").read_text()) for n in range(3)]
    assert all(s["opens"] > 10 and not s["refused"] and not s["half"] for s in seen), seen
    assert len({state for s in seen for state in s["states"]}) > 5  # they read many publishes


def test_the_incremental_bench_runs_at_a_tiny_size_and_checks_its_comparison(tmp_path):
    out = tmp_path / "incremental.json"
    done = subprocess.run([sys.executable, str(TESTS.parent / "bench" / "incremental.py"), "--tiny", "--no-doc",
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"SHOPLENS_BENCH_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["facts_match_rebuild"] and result["published_matches_working"] and not result["differences"]
    assert result["orders"] == 20_000 and result["changed_orders"] == 200
    assert 0 < result["incremental_s"] and 0 < result["full_refresh_s"]
    assert 0 < result["published_mb_written"] < result["full_published_mb_written"]
    assert {r["publish_mode"] for r in result["runs"]} == {"copy", "append"}
    # a sync's time starts when it opens the working copy (the log is replayed there), and ends published
    assert 0 < result["incremental_resident_s"] and 0 < result["incremental_resident_1m_s"]
    assert {r["publish_mode"] for r in result["runs_resident"]} <= {"copy", "append"}
    for run in result["runs"] + result["runs_small"]:
        assert run["open_s"] > 0
        assert run["total_s"] == pytest.approx(run["open_s"] + run["load_s"] + run["derive_s"] + run["publish_s"],
                                               abs=0.005)
