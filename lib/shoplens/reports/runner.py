"""Execute report notebooks in kernels started and warmed ahead of time, in parallel, and record each run.

Starting a kernel and importing pandas, plotly and shoplens is most of a small report's time, so
`WarmKernels` keeps kernels started, with those imports done, ready before they are needed. Each
kernel runs exactly one report and is then shut down: no state leaks from one report to the next.
Notebooks are parameterized and their failures marked the papermill way (papermill's own functions);
nbclient executes them on the warm kernel.

The kernel's environment has every secret removed (app secret, tokens), so a notebook cannot see
credentials even by reading os.environ. A failed report still leaves its executed notebook on disk
with the failing cell marked, and its ReportError names notebook, cell and exception.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from papermill.exceptions import PapermillExecutionError
from papermill.iorw import load_notebook_node
from papermill.execute import prepare_notebook_metadata, raise_for_execution_errors
from papermill.parameterize import parameterize_notebook

from shoplens.aio import run_coroutine
from shoplens.errors import ReportError

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)
#: what every report imports; a warm kernel has run it before its report arrives
WARMUP = ("import pandas, plotly.graph_objects, plotly.io\n"
          "import shoplens.charts, shoplens.metrics, shoplens.reports\n"
          "shoplens.metrics.default_catalogue()\n")


def kernel_env(home: Path | None = None) -> dict[str, str]:
    """This process's environment without anything that looks like a secret, with SHOPLENS_HOME
    set to the workspace whose warehouse the report must read."""
    env = {k: v for k, v in os.environ.items() if not _SECRET_NAME.search(k)}
    if home is not None:
        env["SHOPLENS_HOME"] = str(home)
    return env


def report_kernel_manager(socket_dir: str, home: Path) -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels get a secret-free environment and talk over IPC sockets
    in `socket_dir` (no TCP port). nbclient owns each instance, so it closes channels and kernel."""

    class ReportKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kwargs):
            self.transport = "ipc"
            self.ip = os.path.join(socket_dir, "kernel")
            kwargs["env"] = kernel_env(home)
            kwargs.setdefault("cwd", str(home))
            return await super().start_kernel(**kwargs)

    return ReportKernelManager


@dataclass
class ReportJob:
    """One notebook run: which report, with which parameters, written where."""

    report_id: str
    slug: str
    title: str
    parameters: dict
    period: tuple[date, date]
    output_dir: Path
    shop_name: str = ""  # for the index; "" for a report over every shop

    @property
    def notebook(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.report_id}.ipynb"

    @property
    def executed_path(self) -> Path:
        return self.output_dir / f"{self.slug}.ipynb"

    @property
    def html_path(self) -> Path:
        return self.output_dir / f"{self.slug}.html"


@dataclass
class ReportOutcome:
    job: ReportJob
    status: str
    seconds: float
    error: ReportError | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    #: formats asked for but not made, each with why (e.g. {"pdf": "no Chromium found ..."}); the report is ok
    missing: dict[str, str] = field(default_factory=dict)

    def manifest_entry(self, reports_dir: Path) -> dict:
        entry = {
            "report": self.job.report_id,
            "slug": self.job.slug,
            "title": self.job.title,
            "shop_name": self.job.shop_name,
            "parameters": self.job.parameters,
            "period": [d.isoformat() for d in self.job.period],
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "notebook": str(self.job.executed_path.relative_to(reports_dir)),
            "outputs": {k: str(v.relative_to(reports_dir)) for k, v in self.outputs.items()},
            "missing": self.missing,
            "error": None,
        }
        if self.error is not None:
            entry["error"] = {"message": str(self.error), "cell_index": self.error.cell_index,
                              "exception": self.error.exception}
        return entry


class WarmKernels:
    """Report kernels started and warmed (WARMUP run) ahead of time; `take()` hands out a ready one
    and starts its replacement at once, until `total` kernels have been started. Each kernel serves
    one report only."""

    def __init__(self, home: Path, size: int, total: int) -> None:
        self.home = home
        self.size = max(1, min(size, total))
        self.total = total
        self._sockets = tempfile.mkdtemp(prefix="shoplens-kernels-")
        self._ready: list[asyncio.Task] = []
        self._counter = 0

    async def __aenter__(self) -> WarmKernels:
        self._ready = [self._spawn() for _ in range(self.size)]
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._ready:
            task.cancel()
        for task in self._ready:
            try:
                km = await task
            except BaseException:  # cancelled or failed to start: nothing to stop
                continue
            await _shutdown(km)
        shutil.rmtree(self._sockets, ignore_errors=True)

    def _spawn(self) -> asyncio.Task:
        self._counter += 1
        sockets = os.path.join(self._sockets, str(self._counter))
        os.makedirs(sockets)
        return asyncio.ensure_future(self._start(report_kernel_manager(sockets, self.home)(kernel_name="python3")))

    async def _start(self, km: AsyncKernelManager) -> AsyncKernelManager:
        await km.start_kernel()
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)
            reply = await client.execute_interactive(WARMUP, timeout=120, store_history=False,
                                                     output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"warming a report kernel failed: {reply['content'].get('evalue')}")
        except BaseException:
            client.stop_channels()
            await _shutdown(km)
            raise
        client.stop_channels()
        return km

    async def take(self) -> AsyncKernelManager:
        task = self._ready.pop(0)
        if self._counter < self.total:
            self._ready.append(self._spawn())
        return await task


async def _shutdown(km: AsyncKernelManager) -> None:
    try:
        await km.shutdown_kernel(now=True)
    except Exception:  # already dead
        pass


async def execute_on(job: ReportJob, km: AsyncKernelManager, *, timeout_s: int = 600) -> ReportOutcome:
    """Run one report notebook on a started kernel, then shut the kernel down; never raises for a
    notebook failure."""
    job.output_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    nb = load_notebook_node(str(job.notebook))
    nb = parameterize_notebook(nb, job.parameters, kernel_name="python3", language="python")
    nb = prepare_notebook_metadata(nb, str(job.notebook), str(job.executed_path))
    client = NotebookClient(nb, km=km, timeout=timeout_s, kernel_name="python3", allow_errors=False)
    crash = None
    try:
        await client.async_execute()
    except CellExecutionError:
        pass  # the cell's error output is in the notebook; marked below
    except Exception as exc:  # the kernel died or a cell timed out
        crash = exc
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        await _shutdown(km)
    _write_atomic(nb, job.executed_path)
    if crash is not None:
        error = ReportError(str(crash) or type(crash).__name__, notebook=job.notebook.name,
                            exception=type(crash).__name__, output_path=str(job.executed_path))
        return ReportOutcome(job, "failed", time.perf_counter() - started, error)
    try:
        raise_for_execution_errors(nb, str(job.executed_path))  # rewrites it with the failing cell marked
    except PapermillExecutionError as exc:
        error = ReportError(exc.evalue or exc.ename, notebook=job.notebook.name, cell_index=exc.cell_index,
                            exception=exc.ename, output_path=str(job.executed_path))
        return ReportOutcome(job, "failed", time.perf_counter() - started, error)
    return ReportOutcome(job, "ok", time.perf_counter() - started)


def _write_atomic(nb, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)


async def run_jobs(jobs: list[ReportJob], *, home: Path, workers: int = 2, timeout_s: int = 600,
                   after: Callable[[ReportOutcome], Awaitable[None]] | None = None) -> list[ReportOutcome]:
    """Execute `jobs`, `workers` at a time, each on its own warm kernel; `after` runs per outcome
    (rendering, progress) while other reports execute. Outcomes come back in job order."""
    outcomes: list[ReportOutcome | None] = [None] * len(jobs)
    queue = list(enumerate(jobs))
    if not jobs:
        return []
    async with WarmKernels(home, size=workers + 1, total=len(jobs)) as kernels:

        async def worker() -> None:
            while queue:
                index, job = queue.pop(0)
                try:
                    km = await kernels.take()
                except Exception as exc:  # the kernel could not start: this report fails, the rest go on
                    outcome = ReportOutcome(job, "failed", 0.0, ReportError(
                        f"could not start a kernel: {exc}", notebook=job.notebook.name, exception=type(exc).__name__))
                else:
                    outcome = await execute_on(job, km, timeout_s=timeout_s)
                if after is not None:
                    await after(outcome)
                outcomes[index] = outcome

        await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(jobs))))))
    return [o for o in outcomes if o is not None]


def execute_report(job: ReportJob, *, home: Path, timeout_s: int = 600) -> ReportOutcome:
    """Run one report notebook in a new kernel; never raises for a notebook failure."""
    return run_coroutine(lambda: run_jobs([job], home=home, workers=1, timeout_s=timeout_s))[0]


def write_manifest(reports_dir: Path, run_id: str, outcomes: list[ReportOutcome], started: datetime) -> Path:
    """A JSON record of one batch run, written atomically under reports/runs/."""
    path = reports_dir / "runs" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"run_id": run_id, "started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
            "reports": [o.manifest_entry(reports_dir) for o in outcomes]}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


