"""`shoplens reports run` (mounted by shoplens.cli): the report catalogue for a period, rendered, indexed.

A failed report does not stop the others; the command then exits 1 naming each failure's cell and
exception. It must never hand a kernel a secret.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from shoplens.commandline import parse_date
from shoplens.config import load_settings
from shoplens.errors import ShoplensError

reports_app = typer.Typer(help="Run and render reports.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

@reports_app.command("run")
def reports_run(week: str = typer.Option(None, help="An ISO week, e.g. 2026-W46 (instead of --since/--until)."),
                since: str = typer.Option(None, help="First day (YYYY-MM-DD); default: the latest full week."),
                until: str = typer.Option(None, help="Last day, included (YYYY-MM-DD)."),
                report: list[str] = typer.Option(None, help="Only these reports of the catalogue (repeatable)."),
                shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                lang: list[str] = typer.Option(None, help="Report languages, en and/or zh (repeatable; default en)."),
                workers: int = typer.Option(None, help="Reports at once (default: one per CPU)."),
                executor: str = typer.Option("local", help="local (warm kernels here) or dask."),
                scheduler: str = typer.Option(None, help="The Dask scheduler, tcp://host:port (with --executor dask)."),
                to: str = typer.Option("html,pdf", help="Formats: html, pdf or html,pdf (a PDF is printed from the HTML)."),
                renderer: str = typer.Option(None, help="quarto or builtin (default: quarto when installed, else builtin).")
                ) -> None:
    """Run the report catalogue (templates/reports.toml) for a period, render every report, rebuild the index."""
    from shoplens.demo import outcome_line
    from shoplens.i18n import t
    from shoplens.locks import batch_lock
    from shoplens.render import Rendering, choose_renderer, parse_formats, write_index
    from shoplens.reports.batch import iso_week, plan_reports, run_batch
    from shoplens.warehouse import Warehouse

    langs = tuple(lang or ["en"])
    for code in langs:
        t("shop_report", code)
    if week and (since or until):
        raise ShoplensError("give --week or --since/--until, not both")
    settings = load_settings()
    with Warehouse(settings.warehouse_path, read_only=True) as warehouse:
        period = iso_week(week) if week else _period(warehouse, parse_date(since, "--since"),
                                                     parse_date(until, "--until"))
        jobs = plan_reports(warehouse, settings.reports_dir, period, reports=report or None, shops=shop or None,
                            langs=langs)
    rendering = Rendering(choose_renderer(renderer), parse_formats(to))
    with batch_lock(settings.home):  # a scheduled batch and a hand-run one never write the same reports at once
        console.print(f"{len(jobs)} reports for {period[0]} – {period[1]}, rendered by {rendering.renderer.label} "
                      f"to {', '.join(rendering.formats)}")
        with rendering:
            batch = run_batch(jobs, home=settings.home, reports_dir=settings.reports_dir, render=rendering,
                              workers=workers, executor=executor, scheduler=scheduler,
                              on_done=lambda o: console.print(f"{o.job.report_id} {o.job.slug}: {outcome_line(o)}",
                                                              markup=False, highlight=False))
        index = write_index(settings.reports_dir)
    finish_batch(batch, index)


def finish_batch(batch, index: Path) -> None:
    """The run's summary, said once; exit 1 when a report failed, 3 when every report was made but a
    format was not (HTML without PDF: docs/cli.md, "Exit codes")."""
    for o in batch.failures:
        err.print(f"failed: {o.job.report_id} {o.job.slug}: cell {o.error.cell_index}: {o.error.exception}: "
                  f"{escape(str(o.error))}", soft_wrap=True, highlight=False)
    for line in batch.summary():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"Open the reports: {index}", markup=False, highlight=False, soft_wrap=True)
    if batch.failures:
        raise ShoplensError(f"{len(batch.failures)} of {len(batch.outcomes)} reports failed; see {index}")
    if batch.exit_code:
        raise typer.Exit(batch.exit_code)


def _period(warehouse, since: date | None, until: date | None) -> tuple[date, date]:
    """The given days, or the latest complete ISO week (Monday-Sunday) in the warehouse."""
    if since and until:
        if since > until:
            raise ShoplensError(f"--since {since} is after --until {until}: swap them")
        return since, until
    latest = warehouse.rows("SELECT CAST(max(create_time) AS DATE) FROM orders")[0][0]
    if latest is None:
        raise ShoplensError("the warehouse has no orders: run `shoplens sync` first")
    sunday = latest if latest.weekday() == 6 else latest - timedelta(days=latest.weekday() + 1)
    return (since or sunday - timedelta(days=6)), (until or sunday)
