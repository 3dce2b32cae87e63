"""Benchmark the one-command run a seller does: from an empty workspace, sync, then every report, HTML and PDF.

In one run, in a temporary, empty workspace (its own SHOPLENS_HOME):
1. sync: the local sandbox (a real HTTP server on 127.0.0.1, ephemeral port) with `--shops` shops in
   `--currencies` currencies (shop i in the i-th market, cycling over the first `--currencies` markets),
   authorized and synced as `shoplens sync` does (a first sync, `--history-days` of analytics), FX rates
   loaded;
2. reports: the catalogue (templates/reports.toml) planned for the latest complete ISO week (or its last
   `--period-days`) as
   `shoplens reports run` / `make weekly` plans it (`plan_reports`: every shop, ad campaign, promotion and
   LIVE session of the week, plus the all-shops scorecard), in English and Chinese; executed and rendered to
   HTML by `run_batch` with the default renderer and workers;
3. PDF: each report's HTML printed to PDF by the same `Rendering` the command uses (one Chromium for the
   batch). `shoplens reports run --to html,pdf` prints each PDF as soon as its HTML is made, overlapping the
   next reports' kernels; here printing follows the HTML batch so that the parts are timed apart and add
   up (the command's own wall time is at most this sum);
4. the reports index rebuilt.
No part is skipped: a failed report, or no Chromium for the PDFs, fails the run with the reason (no
figures are written then).

Writes bench/results/weekly.json and the weekly section of docs/performance.md.
Usage: .venv/bin/python bench/weekly.py [--shops 10] [--currencies 6] [--orders-per-day 30]
       .venv/bin/python bench/weekly.py --tiny --out /tmp/weekly.json --no-doc   (the test suite's size)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from perfdoc import update_section  # noqa: E402

from shoplens.config import warehouse_path  # noqa: E402
from shoplens.demo import sync_from_sandbox  # noqa: E402
from shoplens.errors import RenderError  # noqa: E402
from shoplens.render import Rendering, choose_renderer, write_index  # noqa: E402
from shoplens.render.pdf import PdfPrinter  # noqa: E402
from shoplens.reports.batch import default_workers, plan_reports, run_batch  # noqa: E402
from shoplens.reports.cli import _period as latest_full_week  # noqa: E402  (what `reports run` defaults to)
from shoplens.sandbox import SandboxServer, make_sandbox  # noqa: E402
from shoplens.sandbox.business import REGION_ORDER  # noqa: E402
from shoplens.sync import SyncOptions  # noqa: E402
from shoplens.warehouse import Warehouse  # noqa: E402

#: the markets in the order shops take them; the default bench uses the first six (six currencies)
MARKETS = ("TH", "GB", "US", "VN", "MY", "ID", "PH", "SG")
assert set(MARKETS) == set(REGION_ORDER)


def check_chromium() -> None:
    """The PDF part needs a browser: find out before anything is timed, and say so plainly."""
    try:
        with PdfPrinter() as printer:
            printer.start()
    except RenderError as exc:
        raise SystemExit(f"bench/weekly.py: cannot print PDFs: {str(exc).strip().splitlines()[0]}\n"
                         "Install Chromium (`make system-deps`) or set SHOPLENS_CHROMIUM; no figures were written.")


def run(args: argparse.Namespace, home: Path) -> dict:
    regions = MARKETS[: args.currencies]
    os.environ["SHOPLENS_HOME"] = str(home)  # the kernels read this workspace, as the command's would
    started = time.perf_counter()
    sandbox = make_sandbox(42, args.shops, orders_per_day=args.orders_per_day, regions=regions,
                           days=args.business_days)
    with SandboxServer(sandbox) as server:
        summary = sync_from_sandbox(server, home, options=SyncOptions(history_days=args.history_days))
    sync_s = time.perf_counter() - started

    started = time.perf_counter()
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        week = latest_full_week(warehouse, None, None)
        period = (week[1] - timedelta(days=args.period_days - 1), week[1])
        jobs = plan_reports(warehouse, home / "reports", period, langs=tuple(args.lang))
        shops, currencies = warehouse.rows("SELECT count(*), count(DISTINCT currency) FROM shops")[0]
    plan_s = time.perf_counter() - started
    workers = args.workers or default_workers()
    print(f"synced {shops} shops in {currencies} currencies in {sync_s:.1f} s; {len(jobs)} reports for "
          f"{period[0]} – {period[1]}, {workers} workers", flush=True)

    with Rendering(choose_renderer(args.renderer), ("html", "pdf")) as rendering:
        html_only = Rendering(rendering.renderer, ("html",))
        started = time.perf_counter()
        batch = run_batch(jobs, home=home, reports_dir=home / "reports", render=html_only, workers=workers)
        reports_s = time.perf_counter() - started
        if batch.failures:
            raise SystemExit("bench/weekly.py: reports failed: " + "; ".join(
                f"{o.job.report_id} {o.job.slug}: {o.error}" for o in batch.failures[:5]))
        print(f"reports (execute + HTML): {reports_s:.1f} s", flush=True)
        started = time.perf_counter()
        pdfs = [rendering.pdf(o.job, o.outputs)["pdf"] for o in batch.outcomes]
        pdf_s = time.perf_counter() - started
    print(f"PDFs: {pdf_s:.1f} s", flush=True)
    started = time.perf_counter()
    write_index(home / "reports")
    index_s = time.perf_counter() - started

    missing = [p for p in pdfs if not Path(p).exists() or Path(p).stat().st_size == 0]
    if missing:
        raise SystemExit(f"bench/weekly.py: {len(missing)} PDFs were not written, e.g. {missing[0]}")
    kinds = Counter(o.job.report_id for o in batch.outcomes)
    total_s = sync_s + plan_s + reports_s + pdf_s + index_s
    return {
        "shops": shops, "currencies": currencies, "markets": list(regions), "languages": list(args.lang),
        "period": [period[0].isoformat(), period[1].isoformat()], "reports": len(batch.outcomes),
        "pdfs": len(pdfs), "reports_by_kind": dict(sorted(kinds.items())), "failures": len(batch.failures),
        "renderer": rendering.renderer.name, "workers": workers,
        "sync_requests": summary.requests, "sync_rows": sum(r.rows for r in summary.results),
        "sync_s": round(sync_s, 1), "plan_s": round(plan_s, 2), "reports_s": round(reports_s, 1),
        "pdf_s": round(pdf_s, 1), "index_s": round(index_s, 2), "total_s": round(total_s, 1),
        "s_per_report": round(reports_s / len(jobs), 2), "s_per_pdf": round(pdf_s / len(pdfs), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": f"{os.cpu_count()} cores",
    }


def document(result: dict) -> None:
    kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in result["reports_by_kind"].items())
    update_section("weekly", (
        f"`bench/weekly.py`, measured {result['measured_at']} on {result['machine']} (1-minute load average "
        f"{result['load_average_1m']} at the end): the run a seller does each week, from an empty workspace. The "
        f"sandbox (HTTP on 127.0.0.1) with {result['shops']} shops in {result['currencies']} currencies "
        f"({', '.join(result['markets'])}) is synced as a first `shoplens sync` does (the sandbox serves on a "
        "thread of the same process, so the sync's time includes making up and serving every API answer); "
        "then every report of the "
        f"catalogue for the week {result['period'][0]} – {result['period'][1]}, planned as `shoplens reports "
        f"run` plans it, in {' and '.join(result['languages'])}: {result['reports']} reports ({kinds}), "
        f"rendered to HTML by the {result['renderer']} renderer with {result['workers']} workers, then "
        f"{result['pdfs']} PDFs printed by one Chromium. The command prints each PDF as its HTML is made; here "
        "the parts run one after the other so that each is timed, and the command takes at most their sum."), [
        "| part | seconds |",
        "|---|---|",
        f"| sync ({result['sync_requests']:,} requests, {result['sync_rows']:,} rows) | {result['sync_s']} |",
        f"| reports: execute + HTML ({result['reports']}, {result['s_per_report']} s each) | {result['reports_s']} |",
        f"| PDF ({result['pdfs']}, {result['s_per_pdf']} s each) | {result['pdf_s']} |",
        f"| planning and the index | {round(result['plan_s'] + result['index_s'], 1)} |",
        f"| end to end | {result['total_s']} |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--currencies", type=int, default=6, choices=range(1, len(MARKETS) + 1),
                        help="markets (one currency each) the shops are spread over")
    parser.add_argument("--orders-per-day", type=int, default=30)
    parser.add_argument("--history-days", type=int, default=30, help="days of analytics the first sync reads")
    parser.add_argument("--business-days", type=int, default=None,
                        help="days of business the sandbox makes up (default: the sandbox's own)")
    parser.add_argument("--lang", action="append", choices=("en", "zh"), help="report languages (default en, zh)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--renderer", choices=("quarto", "builtin"), default=None)
    parser.add_argument("--period-days", type=int, default=7, choices=range(1, 8),
                        help="the last days of the latest full week the reports cover (default: the week)")
    parser.add_argument("--tiny", action="store_true",
                        help="the test suite's size: 2 shops in 2 currencies, 8 orders a day, English only, "
                             "reports on the week's last day")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "weekly.json")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()
    if args.tiny:
        args.shops, args.currencies, args.orders_per_day, args.history_days, args.period_days = 2, 2, 8, 14, 1
        args.business_days = 21
        args.lang = args.lang or ["en"]
    args.lang = args.lang or ["en", "zh"]
    check_chromium()
    with tempfile.TemporaryDirectory(prefix="shoplens-bench-weekly-") as tmp:
        home = Path(tmp) / "workspace"
        home.mkdir()
        result = run(args, home)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if not args.no_doc:
        document(result)


if __name__ == "__main__":
    main()
