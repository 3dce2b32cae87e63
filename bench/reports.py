"""Benchmark the report batch: shoplens's runner against the naive way, in the same run.

A sandbox of 10 shops is synced over HTTP into a temporary workspace; the batch is the shop report for
every shop, two ISO weeks (2026-W45, W46), English and Chinese: 40 reports. Then:
- shoplens: `run_batch` (warm kernels, reports in parallel, HTML rendered in-process with the built-in
  template), the whole batch timed;
- naive: per report, the `papermill` command, then the `jupyter nbconvert --to html` command, one report
  after another (each starts its own Python, kernel and imports), timed over a subset of the same jobs
  (`--naive-reports`, default all of them).
Per-report time is the batch time over its reports.

Writes bench/results/reports.json and the reports table of docs/performance.md.
Usage: .venv/bin/python bench/reports.py [--shops 10] [--naive-reports 40] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from perfdoc import update_section  # noqa: E402

from shoplens.config import warehouse_path  # noqa: E402
from shoplens.demo import sync_from_sandbox  # noqa: E402
from shoplens.render import render_job  # noqa: E402
from shoplens.reports.batch import default_workers, plan_shop_reports, run_batch  # noqa: E402
from shoplens.sandbox import SandboxServer, make_sandbox  # noqa: E402
from shoplens.sync import SyncOptions  # noqa: E402
from shoplens.warehouse import Warehouse  # noqa: E402

WEEKS = [(date(2026, 11, 2), date(2026, 11, 8)), (date(2026, 11, 9), date(2026, 11, 15))]
BIN = Path(sys.executable).parent


def naive(job, home: Path, out: Path) -> None:
    """The `papermill` command, then `jupyter nbconvert --to html`, for one report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")} | {"SHOPLENS_HOME": str(home)}
    executed = out / f"{job.slug}-{job.period[0]}.ipynb"
    params = [arg for name, value in job.parameters.items() for arg in ("-r", name, str(value))]  # raw strings
    subprocess.run([str(BIN / "papermill"), str(job.notebook), str(executed), *params, "--cwd", str(home)],
                   check=True, capture_output=True, env=env)
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
                   check=True, capture_output=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--naive-reports", type=int, default=None, help="time the naive way on this many")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-reports-") as tmp:
        home = Path(tmp)
        with SandboxServer(make_sandbox(seed=42, shops=args.shops, orders_per_day=30)) as server:
            sync_from_sandbox(server, home, options=SyncOptions(history_days=30))
        with Warehouse(warehouse_path(home), read_only=True) as wh:
            jobs = [job for period in WEEKS for lang in ("en", "zh")
                    for job in plan_shop_reports(wh, home / "reports", period, lang=lang)]
        print(f"{len(jobs)} reports, {workers} workers", flush=True)

        started = time.perf_counter()
        batch = run_batch(jobs, home=home, reports_dir=home / "reports", render=render_job, workers=workers)
        ours = time.perf_counter() - started
        failed = [o.job.slug for o in batch.failures]
        if failed:
            raise SystemExit(f"shoplens batch failed: {failed}")
        print(f"shoplens: {ours:.1f} s", flush=True)

        subset = jobs[: args.naive_reports or len(jobs)]
        out = home / "naive"
        out.mkdir()
        started = time.perf_counter()
        for i, job in enumerate(subset, 1):
            naive(job, home, out)
            print(f"naive {i}/{len(subset)}", end="\r", flush=True)
        theirs = time.perf_counter() - started
        print(f"\nnaive: {theirs:.1f} s for {len(subset)}", flush=True)

    result = {
        "reports": len(jobs), "naive_reports": len(subset), "workers": workers, "cpus": os.cpu_count(),
        "shoplens_s": round(ours, 1), "naive_s": round(theirs, 1),
        "shoplens_s_per_report": round(ours / len(jobs), 2),
        "naive_s_per_report": round(theirs / len(subset), 2),
        "speedup": round((theirs / len(subset)) / (ours / len(jobs)), 1),
    }
    (ROOT / "bench" / "results" / "reports.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    update_section("reports", (
        f"`bench/reports.py`: the shop report for {args.shops} sandbox shops × 2 ISO weeks × English and Chinese "
        f"({result['reports']} reports), executed and rendered to HTML. shoplens runs them {workers} at a time on "
        "kernels started and warmed (imports done) ahead of time, one kernel per report, rendering in-process. The "
        "naive way runs the `papermill` command then `jupyter nbconvert --to html` per report, one after another, "
        f"on {result['naive_reports']} of the same jobs, in the same run."), [
        "| | shoplens | naive (papermill + nbconvert commands) |",
        "|---|---|---|",
        f"| seconds per report | {result['shoplens_s_per_report']} | {result['naive_s_per_report']} |",
        f"| whole batch, seconds | {result['shoplens_s']} ({result['reports']} reports) | "
        f"{result['naive_s']} ({result['naive_reports']} reports) |",
        f"| speed-up | {result['speedup']}x | 1x |",
        "| target | ≥ 8x | |",
    ])


if __name__ == "__main__":
    main()
