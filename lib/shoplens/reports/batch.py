"""The batch: expand (report, shops, period) into jobs, run them, render them, index them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from shoplens.errors import ReportError
from shoplens.i18n import t
from shoplens.reports.runner import ReportJob, ReportOutcome, execute_report, write_manifest
from shoplens.warehouse import Warehouse


def period_slug(period: tuple[date, date]) -> str:
    return f"{period[0].isoformat()}_{period[1].isoformat()}"


def plan_shop_reports(warehouse: Warehouse, reports_dir: Path, period: tuple[date, date], *, lang: str = "en",
                      shops: list[str] | None = None) -> list[ReportJob]:
    """One `shop_report` per synced shop (or per shop named), for `period`."""
    rows = warehouse.rows("SELECT shop_id, name FROM shops ORDER BY shop_id")
    if shops:
        known = {r[0] for r in rows}
        unknown = [s for s in shops if s not in known]
        if unknown:
            raise ReportError(f"unknown shop id(s) {', '.join(unknown)}; synced shops: {', '.join(sorted(known))}",
                              notebook="shop_report.ipynb")
        rows = [r for r in rows if r[0] in shops]
    out = reports_dir / period_slug(period) / "shop_report"
    suffix = "" if lang == "en" else f".{lang}"
    return [ReportJob(report_id="shop_report", slug=f"{shop_id}{suffix}", title=f"{t('shop_report', lang)} · {name}",
                      parameters={"shop_id": shop_id, "start_date": period[0].isoformat(),
                                  "end_date": period[1].isoformat(), "lang": lang},
                      period=period, output_dir=out)
            for shop_id, name in rows]


@dataclass
class BatchResult:
    run_id: str
    outcomes: list[ReportOutcome]
    manifest: Path

    @property
    def failures(self) -> list[ReportOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]


def run_batch(jobs: list[ReportJob], *, home: Path, reports_dir: Path,
              render: Callable[[ReportJob], dict[str, Path]] | None = None,
              on_done: Callable[[ReportOutcome], None] | None = None) -> BatchResult:
    """Execute every job (a failure stops only its own report), render the successes, write the manifest."""
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    started = datetime.now(UTC)
    outcomes = []
    for job in jobs:
        outcome = execute_report(job, home=home)
        if outcome.status == "ok" and render is not None:
            try:
                outcome.outputs = render(job)
            except Exception as exc:  # a render failure fails this report only
                outcome.status = "failed"
                outcome.error = ReportError(f"rendering failed: {exc}", notebook=job.notebook.name,
                                            exception=type(exc).__name__)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    manifest = write_manifest(reports_dir, run_id, outcomes, started)
    return BatchResult(run_id, outcomes, manifest)
