"""The batch: expand (report, shops, period) into jobs, run them, render them, index them."""

from __future__ import annotations

import asyncio
import os
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from shoplens import metrics
from shoplens.aio import run_coroutine
from shoplens.errors import OutputsMissing, ReportError
from shoplens.i18n import t
from shoplens.reports.runner import (NOTEBOOKS_DIR, REPO_ROOT, ReportJob, ReportOutcome, execute_report, run_jobs,
                                     write_manifest)
from shoplens.warehouse import Warehouse
from shoplens.suggest import unknown


def period_slug(period: tuple[date, date]) -> str:
    return f"{period[0].isoformat()}_{period[1].isoformat()}"


CATALOGUE_PATH = REPO_ROOT / "templates" / "reports.toml"
FOR_EACH = ("shop", "campaign", "live", "once")


@dataclass(frozen=True)
class ReportSpec:
    id: str
    notebook: str
    for_each: str


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, ReportSpec]:
    """The report catalogue (templates/reports.toml), checked: each notebook exists, for_each is known."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReportError(f"cannot read the report catalogue {path}: {exc}", notebook=str(path)) from None
    specs = {}
    for report_id, entry in data.items():
        spec = ReportSpec(report_id, entry.get("notebook", f"{report_id}.ipynb"), entry.get("for_each", ""))
        if spec.for_each not in FOR_EACH:
            raise ReportError(f"{path}: [{report_id}] for_each = {spec.for_each!r}; use one of {', '.join(FOR_EACH)}",
                              notebook=str(path))
        if not (NOTEBOOKS_DIR / spec.notebook).exists():
            raise ReportError(f"{path}: [{report_id}] names notebooks/{spec.notebook}, which does not exist",
                              notebook=str(path))
        specs[report_id] = spec
    return specs


def plan_reports(warehouse: Warehouse, reports_dir: Path, period: tuple[date, date], *,
                 reports: list[str] | None = None, shops: list[str] | None = None,
                 langs: tuple[str, ...] = ("en",), catalogue: dict[str, ReportSpec] | None = None) -> list[ReportJob]:
    """Expand the report catalogue for `period` into jobs: per shop, campaign, LIVE session or once."""
    catalogue = catalogue or load_catalogue()
    missing = [r for r in reports or [] if r not in catalogue]
    if missing:
        raise ReportError(unknown("report", missing, catalogue), notebook=str(CATALOGUE_PATH))
    shop_rows = warehouse.rows("SELECT shop_id, name FROM shops ORDER BY shop_id")
    if shops:
        known = [r[0] for r in shop_rows]
        missing = [s for s in shops if s not in known]
        if missing:
            raise ReportError(unknown("shop id", missing, known, listed_by="shoplens shops",
                                      none_known="no shop is synced yet: run `shoplens sync`"), notebook="reports.toml")
        shop_rows = [r for r in shop_rows if r[0] in shops]
    jobs, shop_names = [], dict(shop_rows)
    for spec in (catalogue[r] for r in (reports or list(catalogue))):
        for lang in langs:
            for slug, title, parameters in _scopes(warehouse, spec, shop_rows, period):
                suffix = "" if lang == "en" else f".{lang}"
                jobs.append(ReportJob(
                    report_id=spec.notebook.removesuffix(".ipynb"), slug=f"{slug}{suffix}",
                    title=f"{t(spec.notebook.removesuffix('.ipynb'), lang)} · {title}",
                    parameters={**parameters, "start_date": period[0].isoformat(), "end_date": period[1].isoformat(),
                                "lang": lang},
                    period=period, output_dir=reports_dir / period_slug(period) / spec.id,
                    shop_name=shop_names.get(parameters.get("shop_id"), "")))
    return jobs


def _scopes(warehouse: Warehouse, spec: ReportSpec, shop_rows: list[tuple], period: tuple[date, date]):
    """(slug, title, parameters) for each parameter set of one catalogue entry."""
    shop_ids = [r[0] for r in shop_rows]
    if spec.for_each == "shop":
        return [(shop_id, name, {"shop_id": shop_id}) for shop_id, name in shop_rows]
    if spec.for_each == "once":
        return [("all-shops", ", ".join(name for _, name in shop_rows), {})]
    if spec.for_each == "live":
        rows = warehouse.rows(
            "SELECT live_id, shop_id, coalesce(title, live_id) FROM live_sessions WHERE list_contains(?, shop_id) "
            "AND CAST(start_time AS DATE) BETWEEN ? AND ? ORDER BY start_time, live_id", [shop_ids, *period])
        return [(f"{shop_id}-{live_id}", title, {"shop_id": shop_id, "live_id": live_id})
                for live_id, shop_id, title in rows]
    # ad campaigns that spent in the period (the amount comes from the metric catalogue), then promotions
    spend = metrics.query(["ad_spend"], by=["shop", "campaign"], period=period, shop=shop_ids, warehouse=warehouse)
    spent = sorted({(shop, cid) for shop, cid, amount in zip(spend["shop"], spend["campaign"], spend["ad_spend"])
                    if isinstance(cid, str) and amount > 0})
    names = dict(warehouse.rows("SELECT campaign_id, any_value(coalesce(campaign_name, campaign_id)) FROM "
                                "ad_campaign_daily GROUP BY campaign_id"))
    rows = [("ad", cid, shop, names.get(cid, cid)) for shop, cid in spent]
    rows += [("promotion", *r) for r in warehouse.rows(
        "SELECT promotion_id, shop_id, coalesce(title, promotion_id) FROM promotions WHERE list_contains(?, shop_id) "
        "AND CAST(begin_time AS DATE) <= ? AND CAST(end_time AS DATE) >= ? ORDER BY shop_id, promotion_id",
        [shop_ids, period[1], period[0]])]
    rows.sort(key=lambda r: (r[2], r[0], r[1]))
    return [(f"{shop_id}-{kind}-{cid}", title, {"shop_id": shop_id, "campaign_kind": kind, "campaign_id": cid})
            for kind, cid, shop_id, title in rows]


def plan_shop_reports(warehouse: Warehouse, reports_dir: Path, period: tuple[date, date], *, lang: str = "en",
                      shops: list[str] | None = None) -> list[ReportJob]:
    """One `shop_report` per synced shop (or per shop named), for `period`."""
    return plan_reports(warehouse, reports_dir, period, reports=["shop_report"], shops=shops, langs=(lang,))


def iso_week(text: str) -> tuple[date, date]:
    """'2026-W46' -> (Monday, Sunday) of that ISO week."""
    import re

    match = re.fullmatch(r"(\d{4})-W(\d{1,2})", text.strip())
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1) if match else None
    except ValueError:
        monday = None
    if monday is None:
        raise ReportError(f"--week {text!r} is not an ISO week: write it like 2026-W46", notebook="reports.toml")
    return monday, date.fromordinal(monday.toordinal() + 6)


@dataclass
class BatchResult:
    run_id: str
    outcomes: list[ReportOutcome]
    manifest: Path

    @property
    def failures(self) -> list[ReportOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]

    def missing(self) -> list[tuple[str, str, int]]:
        """(format, why, how many reports) for each output that was asked for and not made, e.g.
        ("pdf", "no Chromium found ...", 82): said once for the run, not once per report."""
        counts: dict[tuple[str, str], int] = {}
        for outcome in self.outcomes:
            for kind, reason in outcome.missing.items():
                counts[(kind, reason)] = counts.get((kind, reason), 0) + 1
        return [(kind, reason, n) for (kind, reason), n in counts.items()]

    def summary(self) -> list[str]:
        """What a person reads at the end of a run: how many reports were made, failed, or lack a format."""
        made = len(self.outcomes) - len(self.failures)
        lines = [f"{made} of {len(self.outcomes)} reports made" + (f", {len(self.failures)} failed" if self.failures else "")]
        lines += [f"{kind.upper()} not made for {n} of {len(self.outcomes)} reports: {reason}"
                  for kind, reason, n in self.missing()]
        return lines

    @property
    def exit_code(self) -> int:
        """0 when everything asked for was made; 1 when a report failed; 3 when every report was made but
        some format was not (e.g. no PDFs without Chromium): the HTML is there, the PDFs are not."""
        return 1 if self.failures else (3 if self.missing() else 0)


def run_batch(jobs: list[ReportJob], *, home: Path, reports_dir: Path,
              render: Callable[[ReportJob], dict[str, Path]] | None = None,
              on_done: Callable[[ReportOutcome], None] | None = None, workers: int | None = None,
              executor: str = "local", scheduler: str | None = None) -> BatchResult:
    """Execute every job and render each success; a failure stops only its own report. Writes the manifest.

    executor="local" runs `workers` reports at a time (default: the CPU count) on warm kernels here,
    rendering each while the others execute. executor="dask" sends each report to the Dask cluster at
    `scheduler` (tcp://host:port): a worker executes it in a fresh kernel and renders it, reading the
    warehouse and writing the report where this machine does (a shared file system).
    """
    if executor not in EXECUTORS:
        raise ReportError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}", notebook="batch")
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    started = datetime.now(UTC)
    if executor == "dask":
        outcomes = _run_on_dask(jobs, home=home, render=render, on_done=on_done, scheduler=scheduler)
    else:
        async def after(outcome: ReportOutcome) -> None:
            await asyncio.to_thread(_render, outcome, render)
            if on_done:
                on_done(outcome)

        outcomes = run_coroutine(lambda: run_jobs(jobs, home=home, workers=workers or default_workers(), after=after))
    manifest = write_manifest(reports_dir, run_id, outcomes, started)
    return BatchResult(run_id, outcomes, manifest)


EXECUTORS = ("local", "dask")


def _render(outcome: ReportOutcome, render: Callable[[ReportJob], dict[str, Path]] | None) -> ReportOutcome:
    if outcome.status == "ok" and render is not None:
        try:
            outcome.outputs = render(outcome.job)
        except OutputsMissing as exc:  # the HTML was made, a PDF could not be: the report stands, minus it
            outcome.outputs = dict(outcome.outputs) | exc.outputs
            outcome.missing = dict(outcome.missing) | exc.missing
        except Exception as exc:  # a render failure fails this report only
            outcome.status = "failed"
            outcome.error = ReportError(f"rendering failed: {exc}", notebook=outcome.job.notebook.name,
                                        exception=type(exc).__name__)
    return outcome


def _execute_and_render(job: ReportJob, home: Path, render) -> ReportOutcome:
    """One report on a Dask worker: a fresh kernel, then rendering."""
    return _render(execute_report(job, home=home), render)


def _run_on_dask(jobs: list[ReportJob], *, home: Path, render, on_done, scheduler: str | None) -> list[ReportOutcome]:
    from distributed import Client, as_completed

    if not scheduler:
        raise ReportError("--executor dask needs --scheduler tcp://host:port (a running Dask scheduler)",
                          notebook="batch")
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ReportError(f"cannot reach the Dask scheduler at {scheduler}: {exc}", notebook="batch") from None
    with client:
        # A Rendering makes the HTML on the worker and prints the PDF here, in this batch's one browser.
        on_worker, here = (render.html, render.pdf) if hasattr(render, "pdf") else (render, None)
        futures = {client.submit(_execute_and_render, job, home, on_worker, pure=False,
                                 key=f"report-{i}-{job.slug}"): i for i, job in enumerate(jobs)}
        outcomes: list[ReportOutcome | None] = [None] * len(jobs)
        for future in as_completed(futures):
            index = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died or could not run it: this report fails alone
                outcome = ReportOutcome(jobs[index], "failed", 0.0, ReportError(
                    f"the Dask worker failed: {exc}", notebook=jobs[index].notebook.name, exception=type(exc).__name__))
            if here is not None:
                _render(outcome, lambda job, made=dict(outcome.outputs): here(job, made))
            outcomes[index] = outcome
            if on_done:
                on_done(outcome)
    return [o for o in outcomes if o is not None]


def default_workers() -> int:
    """Reports at once: one per CPU (each report's kernel and its rendering share it)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
