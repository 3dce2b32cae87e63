"""Benchmark PDF printing: one Chromium for the whole batch (shoplens) against a browser per report.

A 3-shop sandbox is synced over HTTP into a temporary workspace and every shop report of ISO week
2026-W46, in English and Chinese, is rendered to HTML (6 reports). Then, in the same run, each HTML is
printed to an A4 PDF:
- shoplens: one `PdfPrinter` (one browser) prints all of them, as a batch does;
- naive: per report, a new Playwright and a new Chromium, as a script printing one file would.
Both wait for every chart to draw. Also recorded: HTML and PDF sizes.

Both ways' PDFs are checked to be the same document (pages and text, by poppler's pdfinfo and pdftotext).

Writes bench/results/pdf.json (times in seconds per PDF) and the pdf section of docs/performance.md.
Usage: .venv/bin/python bench/pdf.py [--rounds 3]
       .venv/bin/python bench/pdf.py --tiny --results PATH   (1 shop, en and zh, 1 round: for the test suite;
       writes PATH only, not the docs)
"""

from __future__ import annotations

import argparse
import json
import statistics
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
from shoplens.render.pdf import PdfPrinter  # noqa: E402
from shoplens.reports.batch import plan_reports, run_batch  # noqa: E402
from shoplens.sandbox import SandboxServer, make_sandbox  # noqa: E402
from shoplens.sync import SyncOptions  # noqa: E402
from shoplens.warehouse import Warehouse  # noqa: E402

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


def pdf_pages_and_text(path: Path) -> tuple[int, str]:
    """A PDF's page count and its text (poppler's pdfinfo and pdftotext)."""
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return pages, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="1 shop (en and zh), 1 round")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "pdf.json")
    args = parser.parse_args()
    shops, rounds = (1, 1) if args.tiny else (3, args.rounds)
    sandbox = make_sandbox(42, 1, orders_per_day=5, days=14) if args.tiny else make_sandbox(42, 3, orders_per_day=30)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        with SandboxServer(sandbox) as server:
            sync_from_sandbox(server, home, options=SyncOptions(history_days=14 if args.tiny else 21),
                              say=lambda line: None)
        with Warehouse(warehouse_path(home), read_only=True) as wh:
            jobs = plan_reports(wh, home / "reports", PERIOD, reports=["shop_report"], langs=("en", "zh"))
        batch = run_batch(jobs, home=home, reports_dir=home / "reports", render=render_job)
        pages = [o.outputs["html"] for o in batch.outcomes if o.status == "ok"]
        assert len(pages) == len(jobs), "every report must render before printing is timed"

        shared, naive = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            with PdfPrinter() as printer:
                for page in pages:
                    printer.print(page, page.with_suffix(".pdf"), label=page.stem)
            shared.append((time.perf_counter() - started) / len(pages))
            started = time.perf_counter()
            for page in pages:
                with PdfPrinter() as printer:
                    printer.print(page, page.with_suffix(".naive.pdf"), label=page.stem)
            naive.append((time.perf_counter() - started) / len(pages))
        for page in pages:
            ours, theirs = pdf_pages_and_text(page.with_suffix(".pdf")), pdf_pages_and_text(page.with_suffix(".naive.pdf"))
            if ours[0] < 1 or not ours[1].strip() or ours != theirs:
                raise SystemExit(f"{page.stem}: the two ways printed different PDFs ({ours[0]} vs {theirs[0]} pages)")
        html_kb = statistics.mean(p.stat().st_size for p in pages) / 1024
        pdf_kb = {lang: statistics.mean(p.with_suffix(".pdf").stat().st_size for p in pages
                                        if p.stem.endswith(".zh") == (lang == "zh")) / 1024 for lang in ("en", "zh")}
    result = {"reports": len(pages), "rounds": rounds, "unit": "seconds per PDF", "shared_browser_s_per_pdf": round(min(shared), 3),
              "browser_per_pdf_s_per_pdf": round(min(naive), 3), "speedup": round(min(naive) / min(shared), 2),
              "html_kb": round(html_kb), "pdf_kb_en": round(pdf_kb["en"]), "pdf_kb_zh": round(pdf_kb["zh"])}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if args.tiny:
        return
    update_section("pdf", (
        f"`bench/pdf.py`: {len(pages)} shop reports ({shops} shops, en and zh) printed to A4 PDF from their HTML, "
        "waiting for every chart; best of "
        f"{rounds} rounds; both ways print the same pages and text. shoplens keeps one Chromium for the batch; "
        "the naive way starts Playwright and a browser for each PDF."), [
        "| way | seconds per PDF |", "|---|---|",
        f"| shoplens, one browser per batch | {result['shared_browser_s_per_pdf']} |",
        f"| a browser per PDF | {result['browser_per_pdf_s_per_pdf']} |",
        f"| speed-up | {result['speedup']}× |",
        "", "| size | KB |", "|---|---|",
        f"| HTML (self-contained, plotly.js inside) | {result['html_kb']} |",
        f"| PDF, English | {result['pdf_kb_en']} |",
        f"| PDF, Chinese (CJK font subset embedded) | {result['pdf_kb_zh']} |"])


if __name__ == "__main__":
    main()
