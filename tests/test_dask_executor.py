"""The Dask executor: a local cluster of two worker processes on loopback runs the reports, each in
its own kernel; a failing report fails alone; an unreachable scheduler is one clear error."""

from datetime import date

import pytest
from distributed import LocalCluster

from shoplens.config import warehouse_path
from shoplens.errors import ReportError
from shoplens.render import render_job
from shoplens.reports.batch import plan_reports, run_batch
from shoplens.reports.runner import ReportJob
from shoplens.warehouse import Warehouse

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


def test_a_batch_runs_on_a_local_dask_cluster(synced, tmp_path):
    home, sandbox = synced
    reports = tmp_path / "reports"
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        jobs = plan_reports(wh, reports, PERIOD, reports=["shop_report"], langs=("en",))[:2]
    bad = ReportJob(report_id="shop_report", slug="no-such-shop", title="broken", period=PERIOD, output_dir=reports / "x",
                    parameters={"shop_id": "999", "start_date": "2026-11-09", "end_date": "2026-11-15", "lang": "en"})
    done = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        result = run_batch([*jobs, bad], home=home, reports_dir=reports, render=render_job, executor="dask",
                           scheduler=cluster.scheduler_address, on_done=done.append)
    assert [o.status for o in result.outcomes] == ["ok", "ok", "failed"]
    assert len(done) == 3
    for outcome in result.outcomes[:2]:
        html = outcome.outputs["html"].read_text(encoding="utf-8")
        assert outcome.job.parameters["shop_id"] in html and 'data-metric="gmv"' in html
    failure = result.failures[0]
    assert failure.error.exception == "ReportError" and "unknown shop_id '999'" in str(failure.error)
    assert failure.error.cell_index == 2


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path):
    with pytest.raises(ReportError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_batch([], home=tmp_path, reports_dir=tmp_path, executor="dask", scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ReportError, match="needs --scheduler"):
        run_batch([], home=tmp_path, reports_dir=tmp_path, executor="dask")
