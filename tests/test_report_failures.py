"""A failing report fails alone: its executed notebook stays with the failing cell, the others go on,
the manifest and the index list the failure, and kernels never see secrets."""

import json
from datetime import date
from pathlib import Path

import nbformat

from shoplens.render import render_job
from shoplens.render import write_index
from shoplens.reports.batch import plan_shop_reports, run_batch
from shoplens.reports.runner import ReportJob, kernel_env
from shoplens.warehouse import Warehouse

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


def test_one_bad_parameter_set_fails_only_its_own_report(synced, tmp_path):
    home, sandbox = synced
    reports = tmp_path / "reports"
    with Warehouse(home / "data" / "shoplens.duckdb", read_only=True) as wh:
        good = plan_shop_reports(wh, reports, PERIOD, shops=[sandbox.business.shops[0].id])
    bad = ReportJob(report_id="shop_report", slug="no-such-shop", title="broken", period=PERIOD,
                    parameters={"shop_id": "999", "start_date": "2026-11-09", "end_date": "2026-11-15", "lang": "en"},
                    output_dir=reports / "broken")
    result = run_batch([bad, *good], home=home, reports_dir=reports, render=render_job)
    assert [o.status for o in result.outcomes] == ["failed", "ok"]
    failure = result.failures[0]
    assert failure.error.cell_index == 2  # papermill's injected-parameters cell is 1
    assert failure.error.exception == "ReportError"
    assert "unknown shop_id '999'" in str(failure.error) and "shop_report.ipynb" in str(failure.error)
    executed = nbformat.read(bad.executed_path, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "ReportError"
    assert not bad.html_path.exists()
    manifest = json.loads(result.manifest.read_text())
    assert manifest["reports"][0]["error"]["exception"] == "ReportError"
    index = write_index(reports).read_text()
    assert "Failures" in index and "unknown shop_id" in index


def test_kernel_environment_has_no_secrets(monkeypatch):
    monkeypatch.setenv("SHOPLENS_APP_SECRET", "s3cr3t")
    monkeypatch.setenv("SHOPLENS_ADS_ACCESS_TOKEN", "tok")
    monkeypatch.setenv("SHOPLENS_HOME", "/somewhere")
    env = kernel_env()
    assert "SHOPLENS_APP_SECRET" not in env and "SHOPLENS_ADS_ACCESS_TOKEN" not in env
    assert env["SHOPLENS_HOME"] == "/somewhere"
    assert kernel_env(Path("/workspace"))["SHOPLENS_HOME"] == "/workspace"
