"""Benchmark the report batch: shoplens's runner against the naive way, in the same run.

A sandbox of 10 shops is synced over HTTP into a temporary workspace; the batch is the shop report for
every shop, two ISO weeks (2026-W45, W46), English and Chinese: 40 reports. Then:
- shoplens: `run_batch` (warm kernels, reports in parallel, HTML rendered in-process with the built-in
  template), the whole batch timed;
- naive: per report, the `papermill` command, then the `jupyter nbconvert --to html` command, one report
  after another (each starts its own Python, kernel and imports), timed over a subset of the same jobs
  (`--naive-reports`, default all of them).
Per-report time is the batch time over its reports. Every report the naive way made is compared with
shoplens's: the same charts (Plotly JSON of the executed notebooks) and the same sections (h2 headings
of the HTML, and a drawn chart per figure in each page); a difference stops the bench.

Writes bench/results/reports.json and the reports table of docs/performance.md.
Usage: .venv/bin/python bench/reports.py [--shops 10] [--naive-reports 40] [--workers N]
       .venv/bin/python bench/reports.py --tiny --results PATH   (1 shop, 1 week, en+zh: for the test suite;
       writes PATH only, not the docs)
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


def figures(notebook: Path) -> list[dict]:
    """The Plotly figures (data and layout) an executed notebook shows, in order."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    return [{k: out["data"]["application/vnd.plotly.v1+json"][k] for k in ("data", "layout")}
            for cell in nb.cells for out in cell.get("outputs", [])
            if "application/vnd.plotly.v1+json" in out.get("data", {})]


def sections(page: Path) -> list[str]:
    """The h2 headings of a rendered page, in order."""
    return [re.sub(r"<[^>]+>", "", h).strip()
            for h in re.findall(r"<h2\b[^>]*>(.*?)</h2>", page.read_text(encoding="utf-8"), re.S)]


def compare(job, naive_notebook: Path, naive_page: Path) -> list[str]:
    """What differs between shoplens's report and the naive way's (nothing, when both made the same)."""
    problems = []
    ours = figures(job.executed_path)
    if not ours:
        problems.append(f"{job.slug}: shoplens's notebook shows no chart")
    if ours != figures(naive_notebook):
        problems.append(f"{job.slug}: the charts differ")
    ours_sections, naive_sections = sections(job.html_path), sections(naive_page)
    if not ours_sections or ours_sections != naive_sections:
        problems.append(f"{job.slug}: the sections differ: {ours_sections} vs {naive_sections}")
    for page in (job.html_path, naive_page):
        drawn = page.read_text(encoding="utf-8").count("Plotly.newPlot(")
        if drawn != len(ours):
            problems.append(f"{page.name}: {drawn} charts drawn, {len(ours)} shown")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--naive-reports", type=int, default=None, help="time the naive way on this many")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--tiny", action="store_true", help="1 shop, 1 week, en and zh, 1 naive report")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "reports.json")
    args = parser.parse_args()
    workers = args.workers or default_workers()
    weeks = WEEKS[1:] if args.tiny else WEEKS
    shops, naive_reports = (1, 1) if args.tiny else (args.shops, args.naive_reports)
    sandbox = (make_sandbox(seed=42, shops=1, orders_per_day=5, days=14) if args.tiny
               else make_sandbox(seed=42, shops=shops, orders_per_day=30))
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-reports-") as tmp:
        home = Path(tmp)
        with SandboxServer(sandbox) as server:
            sync_from_sandbox(server, home, options=SyncOptions(history_days=14 if args.tiny else 30),
                              say=lambda line: None)
        with Warehouse(warehouse_path(home), read_only=True) as wh:
            jobs = [job for period in weeks for lang in ("en", "zh")
                    for job in plan_shop_reports(wh, home / "reports", period, lang=lang)]
        print(f"{len(jobs)} reports, {workers} workers", flush=True)

        started = time.perf_counter()
        batch = run_batch(jobs, home=home, reports_dir=home / "reports", render=render_job, workers=workers)
        ours = time.perf_counter() - started
        failed = [o.job.slug for o in batch.failures]
        if failed:
            raise SystemExit(f"shoplens batch failed: {failed}")
        print(f"shoplens: {ours:.1f} s", flush=True)

        subset = jobs[: naive_reports or len(jobs)]
        out = home / "naive"
        out.mkdir()
        started = time.perf_counter()
        for i, job in enumerate(subset, 1):
            naive(job, home, out)
            print(f"naive {i}/{len(subset)}", end="\r", flush=True)
        theirs = time.perf_counter() - started
        print(f"\nnaive: {theirs:.1f} s for {len(subset)}", flush=True)
        problems = [p for job in subset for p in compare(job, out / f"{job.slug}-{job.period[0]}.ipynb",
                                                          out / f"{job.slug}-{job.period[0]}.html")]
        if problems:
            raise SystemExit("shoplens and the naive way made different reports:\n" + "\n".join(problems))

    result = {
        "reports": len(jobs), "naive_reports": len(subset), "workers": workers, "cpus": os.cpu_count(),
        "shoplens_s": round(ours, 1), "naive_s": round(theirs, 1),
        "shoplens_s_per_report": round(ours / len(jobs), 2),
        "naive_s_per_report": round(theirs / len(subset), 2),
        "speedup": round((theirs / len(subset)) / (ours / len(jobs)), 1),
        "compared": len(subset),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.tiny:
        return
    update_section("reports", (
        f"`bench/reports.py`: the shop report for {args.shops} sandbox shops × 2 ISO weeks × English and Chinese "
        f"({result['reports']} reports), executed and rendered to HTML. shoplens runs them {workers} at a time, "
        "one fresh kernel per report forked from the batch's fork server (imports done once), the reports "
        "sharing query results (a shop's Chinese report reads what its English one computed), rendering "
        "in-process. The naive way runs the `papermill` command then `jupyter nbconvert --to html` per report, "
        f"one after another, on {result['naive_reports']} of the same jobs, in the same run; each of those "
        "reports is checked to show the same charts and sections both ways."), [
        "| | shoplens | naive (papermill + nbconvert commands) |",
        "|---|---|---|",
        f"| seconds per report | {result['shoplens_s_per_report']} | {result['naive_s_per_report']} |",
        f"| whole batch, seconds | {result['shoplens_s']} ({result['reports']} reports) | "
        f"{result['naive_s']} ({result['naive_reports']} reports) |",
        f"| speed-up | {result['speedup']}x | 1x |",
        "| target | ≤ 0.5 s per report, ≥ 15x | |",
    ])


if __name__ == "__main__":
    main()
