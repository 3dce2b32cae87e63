"""Query results a batch's reports share (`shoplens.warehouse.results`): kept per replica and query,
read back by the next report that asks the same, never across a change of the data, never for a query
that reads the clock, and only inside a batch."""

import os
import re
from datetime import date
from pathlib import Path

import nbformat
import pytest

from shoplens.config import warehouse_path
from shoplens.i18n import TEXT
from shoplens.reports.batch import plan_shop_reports, run_batch
from shoplens.warehouse import Warehouse
from shoplens.warehouse.results import RESULTS_ENV

TOTALS = "SELECT count(*) AS n, sum(x) AS total FROM t WHERE x > $1"


class NoQueries:
    """A connection stand-in that fails on any query: what a reader answers with it came from the folder."""

    def execute(self, *args, **kwargs):
        raise AssertionError("the warehouse was queried")

    def close(self) -> None:
        pass


def make(path: Path, values: list[int]) -> None:
    with Warehouse(path) as wh:
        wh.con.execute("CREATE OR REPLACE TABLE t (x INTEGER)")
        wh.con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])


def test_a_query_kept_by_one_reader_is_read_back_by_the_next_on_the_same_file(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    make(path, [1, 2, 3])
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    (tmp_path / "results").mkdir()
    with Warehouse(path, read_only=True) as first:
        opened = len(list((tmp_path / "results").iterdir()))  # its migrations check is a query too
        assert first.rows(TOTALS, [1]) == [(2, 5)]
        assert list(first.frame(TOTALS, [0]).itertuples(index=False)) == [(3, 6)]
        assert len(list((tmp_path / "results").iterdir())) == opened + 2
    with Warehouse(path, read_only=True) as second:
        real, second.con = second.con, NoQueries()
        assert second.rows(TOTALS, [1]) == [(2, 5)]
        assert list(second.frame(TOTALS, [0]).itertuples(index=False)) == [(3, 6)]
        with pytest.raises(AssertionError, match="queried"):  # other parameters: another query
            second.rows(TOTALS, [2])
        real.close()


def test_a_change_to_the_data_or_a_new_published_replica_is_read_anew(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    (tmp_path / "results").mkdir()
    path = tmp_path / "w.duckdb"
    make(path, [1, 2, 3])
    with Warehouse(path, read_only=True) as reader:
        assert reader.rows(TOTALS, [0]) == [(3, 6)]
    make(path, [10, 20])  # the same file, written again
    with Warehouse(path, read_only=True) as reader:
        assert reader.rows(TOTALS, [0]) == [(2, 30)]
    # a link to one replica, then (as a publish does) to another
    replicas = [tmp_path / "a.duckdb", tmp_path / "b.duckdb"]
    make(replicas[0], [5])
    make(replicas[1], [7, 7])
    link = tmp_path / "link.duckdb"
    link.symlink_to(replicas[0].name)
    with Warehouse(link, read_only=True) as reader:
        assert reader.rows(TOTALS, [0]) == [(1, 5)]
    link.unlink()
    link.symlink_to(replicas[1].name)
    with Warehouse(link, read_only=True) as reader:
        assert reader.rows(TOTALS, [0]) == [(2, 14)]


def test_nothing_is_kept_outside_a_batch_for_a_writer_or_for_a_query_that_reads_the_clock(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    make(path, [1])
    folder = tmp_path / "results"
    folder.mkdir()
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    with Warehouse(path, read_only=True) as reader:
        reader.rows(TOTALS, [0])
    monkeypatch.setenv(RESULTS_ENV, str(folder))
    with Warehouse(path) as writer:
        writer.rows(TOTALS, [0])
    assert list(folder.iterdir()) == []  # neither outside a batch nor by a writer
    with Warehouse(path, read_only=True) as reader:
        opened = sorted(folder.iterdir())  # its migrations check
        first = reader.rows("SELECT now() AS t, count(*) FROM t")
        assert reader.rows("SELECT now() AS t, count(*) FROM t") != first  # the clock moved: asked again
        assert reader.rows("select count(*) from t WHERE current_date > DATE '2000-01-01'") == [(1,)]
        assert sorted(folder.iterdir()) == opened


def figures(path: Path) -> list:
    """A rendered report's content without what changes from run to run (chart ids, the render time)."""
    nb = nbformat.read(path, as_version=4)
    outputs = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    generated = "|".join(re.escape(label) for label in TEXT["generated"].values())  # in every language
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
                     rf"(?:{generated})</dt><dd>[^<]*")
    return [{k: ids.sub("ID", v) if isinstance(v, str) else v for k, v in data.items()} for data in outputs]


def test_a_batch_shares_results_between_its_reports_and_makes_the_same_reports(synced, tmp_path, monkeypatch):
    """English and Chinese reports of the same shops, with results shared and without: the same notebooks
    out, and no results folder left behind."""
    home, _ = synced
    week = (date(2026, 11, 9), date(2026, 11, 15))
    made = {}
    for share in ("1", "0"):
        monkeypatch.setenv("SHOPLENS_SHARE_RESULTS", share)
        out = tmp_path / f"share-{share}"
        with Warehouse(warehouse_path(home), read_only=True) as wh:
            jobs = [job for lang in ("en", "zh") for job in plan_shop_reports(wh, out, week, lang=lang)][:4]
        before = {p for p in os.listdir("/tmp") if p.startswith("shoplens-results-")}
        result = run_batch(jobs, home=home, reports_dir=out, workers=2)
        assert [o.status for o in result.outcomes] == ["ok"] * len(jobs)
        assert {p for p in os.listdir("/tmp") if p.startswith("shoplens-results-")} <= before
        made[share] = {o.job.executed_path.relative_to(out): figures(o.job.executed_path) for o in result.outcomes}
    assert made["1"].keys() == made["0"].keys() and len(made["1"]) == 4
    for name in made["1"]:
        assert made["1"][name] == made["0"][name], name
