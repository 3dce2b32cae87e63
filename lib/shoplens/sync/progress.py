"""A rich progress display for a sync: one line per shop and resource, pages and rows as they land."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from shoplens.sync.runner import Observer, ResourceResult


class RichObserver(Observer):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TextColumn("{task.fields[pages]} pages, {task.fields[rows]} rows"),
                                  TextColumn("{task.fields[state]}"), TimeElapsedColumn(), console=console,
                                  transient=False)
        self._tasks: dict[tuple[str, str], int] = {}

    def __enter__(self) -> RichObserver:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def started(self, shop_id: str, resource: str) -> None:
        self._tasks[(shop_id, resource)] = self._progress.add_task(f"{shop_id} {resource}", total=None, pages=0,
                                                                   rows=0, state="")

    def page(self, shop_id: str, resource: str, rows: int) -> None:
        task = self._tasks[(shop_id, resource)]
        fields = self._progress.tasks[task].fields
        self._progress.update(task, pages=fields["pages"] + 1, rows=fields["rows"] + rows)

    def finished(self, result: ResourceResult) -> None:
        task = self._tasks[(result.shop_id, result.resource)]
        state = f"[red]failed: {result.error}[/red]" if result.error else (
            f"ok, {result.retries} retries" if result.retries else "ok")
        self._progress.update(task, total=1, completed=1, state=state)
