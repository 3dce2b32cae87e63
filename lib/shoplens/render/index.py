"""`reports/index.html`: every report of every run, grouped by period and report type, with a
filter box and the failures listed. Works opened from disk (relative links, no network)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from shoplens.render.builtin import TEMPLATES_DIR


def _load_runs(reports_dir: Path) -> list[dict]:
    runs = []
    for path in sorted((reports_dir / "runs").glob("*.json")):
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a manifest being written right now, or damaged: skip it, list the rest
    return runs


def write_index(reports_dir: Path) -> Path:
    """Rebuild reports/index.html from every run manifest under reports/runs/."""
    runs = _load_runs(reports_dir)
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    failures, total = [], 0
    for run in sorted(runs, key=lambda r: r["run_id"], reverse=True):
        for entry in run["reports"]:
            total += 1
            params = entry.get("parameters", {})
            item = dict(entry, run_id=run["run_id"], shop=params.get("shop_id", ""), lang=params.get("lang", "en"))
            if entry["status"] != "ok":
                failures.append(item)
                continue
            groups[" – ".join(entry["period"])][entry["report"]].append(item)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    page = env.get_template("index.html.j2").render(
        css=(TEMPLATES_DIR / "builtin" / "report.css").read_text(encoding="utf-8"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        total=total, runs=len(runs), failures=failures,
        groups=[(period, sorted(by_report.items())) for period, by_report in sorted(groups.items(), reverse=True)],
    )
    path = reports_dir / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
