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


def _shop_key(entry: dict) -> str:
    """The shop a report belongs to: its shop id, or "" for a report over every shop."""
    return entry.get("parameters", {}).get("shop_id") or ""


def _latest_names(runs: list[dict]) -> dict[str, str]:
    """Each shop id's name as the newest run knew it (a shop renamed between runs is one shop)."""
    names: dict[str, str] = {}
    for run in sorted(runs, key=lambda r: r["run_id"]):
        for entry in run["reports"]:
            if _shop_key(entry) and entry.get("shop_name"):
                names[_shop_key(entry)] = entry["shop_name"]
    return names


def _shop_label(shop_id: str, names: dict[str, str]) -> str:
    if not shop_id:
        return "All shops"
    return f"{names[shop_id]} ({shop_id})" if names.get(shop_id) else shop_id


def group_reports(runs: list[dict]) -> tuple[list, list[dict], int]:
    """(period, [(report label, [(shop label, [entries])])]) newest period first, the failures, and
    the number of reports. Shops are grouped by id and labelled with their latest name; a report made
    again in a later run replaces the earlier one in the groups."""
    groups: dict[str, dict[str, dict[str, dict[str, dict]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    failures, total, names = [], 0, _latest_names(runs)
    for run in sorted(runs, key=lambda r: r["run_id"]):
        for entry in run["reports"]:
            total += 1
            params = entry.get("parameters", {})
            item = dict(entry, run_id=run["run_id"], shop=_shop_label(_shop_key(entry), names),
                        lang=params.get("lang", "en"), missing=entry.get("missing") or {})
            if entry["status"] != "ok":
                failures.append(item)
                continue
            report = TEXT.get(entry["report"], {}).get("en", entry["report"])
            groups[" – ".join(entry["period"])][report][_shop_key(entry)][entry["slug"]] = item
    ordered = [(period, [(report, [(_shop_label(shop_id, names),
                                    sorted(by_slug.values(), key=lambda e: (e["title"], e["lang"])))
                                   for shop_id, by_slug in sorted(by_shop.items(),
                                                                  key=lambda kv: (kv[0] != "", _shop_label(kv[0], names)))])
                         for report, by_shop in sorted(by_report.items())])
               for period, by_report in sorted(groups.items(), reverse=True)]
    failures.sort(key=lambda f: f["run_id"], reverse=True)
    return ordered, failures, total


def missing_outputs(groups: list) -> list[tuple[str, str, int]]:
    """(format, reason, how many reports) for every output that could not be made, among the reports
    the index lists: what the page says once at the top."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for _, by_report in groups:
        for _, by_shop in by_report:
            for _, entries in by_shop:
                for entry in entries:
                    for kind, reason in entry["missing"].items():
                        counts[(kind, reason)] += 1
    return [(kind, reason, n) for (kind, reason), n in sorted(counts.items())]


def _short_reasons(groups: list, missing: list[tuple[str, str, int]]) -> None:
    """Beside each report, a reason several reports share is said short (what failed; the fix is in the
    note at the top), a reason of its own in full."""
    shared = {(kind, reason) for kind, reason, n in missing if n > 1}
    for _, by_report in groups:
        for _, by_shop in by_report:
            for _, entries in by_shop:
                for entry in entries:
                    entry["missing_notes"] = {
                        kind: (reason.split(":")[0] + " (how to fix: the note at the top)"
                               if (kind, reason) in shared else reason)
                        for kind, reason in entry["missing"].items()}


def write_index(reports_dir: Path) -> Path:
    """Rebuild reports/index.html from every run manifest under reports/runs/."""
    runs = _load_runs(reports_dir)
    groups, failures, total = group_reports(runs)
    missing = missing_outputs(groups)
    _short_reasons(groups, missing)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True)
    page = env.get_template("index.html.j2").render(
        css=(TEMPLATES_DIR / "builtin" / "report.css").read_text(encoding="utf-8"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        total=total, runs=len(runs), failures=failures, groups=groups, missing=missing,
    )
    path = reports_dir / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
