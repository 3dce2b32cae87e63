"""Every bench runs at a tiny size and checks its own comparison, so a bench cannot rot unnoticed.

Each test runs the bench script as a user does (its own process, `--tiny`), writing its JSON into tmp_path
and never into bench/results/ or docs/performance.md. Timings are not asserted: only that the bench ran,
its comparison holds and its figures are real (non-zero). bench/webhooks.py runs in tests/test_webhooks.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"


def run_bench(name: str, tmp_path: Path, *extra: str, timeout: int = 300) -> tuple[dict, subprocess.CompletedProcess]:
    out = tmp_path / f"{name}.json"
    before = {p.name: p.read_bytes() for p in [*RESULTS.glob("*.json"), DOC]}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--tiny", "--no-doc",
                           "--out", str(out), *extra], capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    after = {p.name: p.read_bytes() for p in [*RESULTS.glob("*.json"), DOC]}
    assert after == before, "a tiny bench run rewrote bench/results or docs/performance.md"
    assert out.exists(), f"bench/{name}.py wrote no results:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return json.loads(out.read_text()), done


def test_the_metrics_bench_compares_every_catalogue_metric(tmp_path):
    from shoplens.metrics import default_catalogue

    result, done = run_bench("metrics", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result["results_match"] is True and result["differences"] == []
    catalogue = {m.id for m in default_catalogue().metrics}
    assert result["metrics"] == len(catalogue)
    assert set(result["skipped"]) <= catalogue and all(result["skipped"].values())  # each skip says why
    assert result["all_zero_metrics"] == []  # the synthetic data gives every metric something to compare
    assert result["rows"] == 30_000 and result["cube_rows"] > 0
    assert result["shoplens_s"] > 0 and result["pandas_s"] > 0


def test_the_metrics_bench_fails_by_name_on_a_metric_it_does_not_know(tmp_path, monkeypatch):
    """A metric added to the catalogue without a pandas reference (nor a reason to skip it) fails the bench."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import metrics as bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    import pickle

    import pandas as pd

    from shoplens.metrics import default_catalogue

    ids = [m.id for m in default_catalogue().metrics]
    frame = pd.DataFrame({"shop_id": ["S0"], "day": [pd.Timestamp("2026-11-01")]} | {m: [1.0] for m in ids})
    (tmp_path / "ours.pickle").write_bytes(pickle.dumps(frame.rename(columns={"shop_id": "shop"})))
    (tmp_path / "theirs.pickle").write_bytes(pickle.dumps(frame.drop(columns=["live_ctr"])))
    problems = bench.compare(tmp_path / "ours.pickle", tmp_path / "theirs.pickle")
    assert len(problems) == 1 and problems[0].startswith("live_ctr: in the catalogue but not in the pandas reference")
    monkeypatch.setitem(bench.SKIPPED, "live_ctr", "a reason")
    assert bench.compare(tmp_path / "ours.pickle", tmp_path / "theirs.pickle") == []
    monkeypatch.setitem(bench.SKIPPED, "no_such_metric", "a reason")
    assert bench.compare(tmp_path / "ours.pickle", tmp_path / "theirs.pickle") == [
        "no_such_metric: listed in SKIPPED but no longer in the catalogue"]


def test_the_sync_bench_loads_the_same_rows_both_ways(tmp_path):
    result, done = run_bench("sync", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result["rows_match"] is True and result["differences"] == [] and result["tables_compared"] > 10
    assert result["requests"] > 0 and result["rows"] > 0 and result["incremental_day_requests"] > 0
    assert result["first_sync_s"] > 0 and result["naive_first_sync_s"] > 0 and result["capacity_qps"] > 0


def test_the_links_bench_loses_no_acknowledged_click(tmp_path):
    result, done = run_bench("links", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result["durable"] is True and result["problems"] == []
    assert result["acknowledged"] > 0 and result["loaded"] == result["acknowledged"] and result["lost"] == 0
    assert result["redirects_per_s"] > 0 and result["p99_ms"] > 0


def test_the_weekly_bench_makes_every_report_in_html_and_pdf(tmp_path):
    """From an empty workspace: sandbox sync, the catalogue planned as `reports run` plans it, HTML and PDF."""
    result, done = run_bench("weekly", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert result["shops"] == 2 and result["currencies"] == 2 and result["failures"] == 0
    assert set(result["reports_by_kind"]) == {"shop_report", "creator_report", "live_recap", "campaign_recap",
                                              "kpi_scorecard", "attribution", "operations"}
    assert result["reports"] == sum(result["reports_by_kind"].values()) == result["pdfs"]
    assert result["sync_rows"] > 0 and result["sync_s"] > 0 and result["reports_s"] > 0 and result["pdf_s"] > 0
    parts = ("sync_s", "plan_s", "reports_s", "pdf_s", "index_s")
    # The total is the sum of the parts, each rounded on its own (to 0.1 or 0.01 s): equal within that rounding.
    assert result["total_s"] == pytest.approx(sum(result[part] for part in parts), abs=0.2)
