"""bench/reports.py and bench/pdf.py at their tiny size: each runs its comparison (the naive way's reports
show the same charts and sections as shoplens's; both ways print the same PDFs) and writes its results.
Timings are the benches' business, never asserted here."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(name: str, results: Path) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / name), "--tiny", "--results", str(results)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(results.read_text())


def test_reports_bench_tiny_compares_both_ways(tmp_path):
    result = run_bench("reports.py", tmp_path / "reports.json")
    assert result["reports"] == 2 and result["naive_reports"] == 1 and result["compared"] == 1
    for key in ("shoplens_s_per_report", "naive_s_per_report", "speedup"):
        assert result[key] > 0
    assert abs(result["shoplens_s_per_report"] - result["shoplens_s"] / result["reports"]) < 0.06


def test_pdf_bench_tiny_prints_the_same_pdfs_both_ways(tmp_path):
    result = run_bench("pdf.py", tmp_path / "pdf.json")
    assert result["reports"] == 2 and result["unit"] == "seconds per PDF"
    assert result["shared_browser_s_per_pdf"] > 0 and result["browser_per_pdf_s_per_pdf"] > 0
    assert result["pdf_kb_en"] > 0 and result["pdf_kb_zh"] > 0
