"""`reports/index.html`: every report of every run, grouped by period, report type and shop, with
links to its HTML and PDF, a filter box, and the failures listed. Works opened from disk (relative links, no network)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from shoplens.i18n import TEXT
from shoplens.render.builtin import TEMPLATES_DIR


def _load_runs(reports_dir: Path) -> list[dict]:
    runs = []
    for path in sorted((reports_dir / "runs").glob("*.json")):
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a manifest being written right now, or damaged: skip it, list the rest
    return runs


def _shop_label(item: dict) -> str:
    shop_id = item.get("parameters", {}).get("shop_id")
    if not shop_id:
        return "All shops"
    name = item.get("shop_name") or ""
    return f"{name} ({shop_id})" if name else shop_id


def group_reports(runs: list[dict]) -> tuple[list, list[dict], int]:
    """(period, [(report label, [(shop label, [entries])])]) newest period first, the failures, and
    the number of reports. A report made again in a later run replaces the earlier one in the groups."""
    groups: dict[str, dict[str, dict[str, dict[str, dict]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    failures, total = [], 0
    for run in sorted(runs, key=lambda r: r["run_id"]):
        for entry in run["reports"]:
            total += 1
            params = entry.get("parameters", {})
            item = dict(entry, run_id=run["run_id"], shop=_shop_label(entry), lang=params.get("lang", "en"))
            if entry["status"] != "ok":
                failures.append(item)
                continue
            report = TEXT.get(entry["report"], {}).get("en", entry["report"])
            groups[" – ".join(entry["period"])][report][item["shop"]][entry["slug"]] = item
    ordered = [(period, [(report, [(shop, sorted(by_slug.values(), key=lambda e: (e["title"], e["lang"])))
                                   for shop, by_slug in sorted(by_shop.items())])
                         for report, by_shop in sorted(by_report.items())])
               for period, by_report in sorted(groups.items(), reverse=True)]
    failures.sort(key=lambda f: f["run_id"], reverse=True)
    return ordered, failures, total


def write_index(reports_dir: Path) -> Path:
    """Rebuild reports/index.html from every run manifest under reports/runs/."""
    runs = _load_runs(reports_dir)
    groups, failures, total = group_reports(runs)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    page = env.get_template("index.html.j2").render(
        css=(TEMPLATES_DIR / "builtin" / "report.css").read_text(encoding="utf-8"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        total=total, runs=len(runs), failures=failures, groups=groups,
    )
    path = reports_dir / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
