"""Execute report notebooks in kernels started and warmed ahead of time, in parallel, and record each run.

Starting a kernel and importing pandas, plotly and shoplens is most of a small report's time, so
`WarmKernels` keeps kernels started, with those imports done, ready before they are needed. On Linux
a batch forks them from one fork server (`reports.forkserver`) that imported those modules once and
never runs notebook code. Each kernel runs exactly one report and is then shut down: no state leaks
from one report to the next; the fork server and every kernel end with the batch.
Notebooks are parameterized and their failures marked the papermill way (papermill's own functions);
nbclient executes them on the warm kernel.

The kernel's environment has every secret removed (app secret, tokens), so a notebook cannot see
credentials even by reading os.environ. A failed report still leaves its executed notebook on disk
with the failing cell marked, and its ReportError names notebook, cell and exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4.rwbase import strip_transient
from papermill.exceptions import PapermillExecutionError
from papermill.iorw import load_notebook_node
from papermill.execute import prepare_notebook_metadata, raise_for_execution_errors
from papermill.parameterize import parameterize_notebook

from shoplens.aio import run_coroutine
from shoplens.errors import ReportError
from shoplens.reports.forkserver import KERNEL_ARGS
from shoplens.warehouse.results import RESULTS_ENV

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


class ForkServer:
    """The batch's fork server (`reports.forkserver`), started with the kernel environment: it has imported
    what reports use, and forks one kernel per report on request."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.env = env or {}  # added to the kernel environment
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        env = kernel_env(self.home) | self.env | SINGLE_THREADED
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-Xfrozen_modules=off", "-m", "shoplens.reports.forkserver", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env, cwd=str(self.home))

    async def fork(self, connection_file: str, cwd: str) -> int:
        """A new kernel process serving `connection_file`; its pid."""
        assert self._process is not None and self._process.stdin is not None and self._process.stdout is not None
        async with self._lock:
            request = json.dumps({"connection_file": connection_file, "cwd": cwd}) + "\n"
            try:
                self._process.stdin.write(request.encode())
                await self._process.stdin.drain()
                line = await self._process.stdout.readline()
            except (BrokenPipeError, ConnectionResetError):
                line = b""
        if not line:
            try:
                code = await asyncio.wait_for(self._process.wait(), timeout=5)
            except TimeoutError:
                code = None
            raise RuntimeError(f"the report kernels' fork server exited (code {code}); its error is above")
        answer = json.loads(line)
        if "pid" not in answer:
            raise RuntimeError(f"the report kernels' fork server refused: {answer.get('error')}")
        return int(answer["pid"])

    async def close(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()  # the server exits at the end of its input; its kernels follow it
        try:
            await asyncio.wait_for(self._process.wait(), timeout=10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        self._process = None


#: the kernels' numeric libraries stay on one thread: a batch runs one report per core, and a process
#: that forks must not have started threads (OpenBLAS starts one per core when numpy is imported)
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ForkedKernelProcess:
    """What jupyter_client's LocalProvisioner needs of a `Popen`, for a kernel the fork server started
    (not this process's child: it is watched through a pidfd, and its exit status is not known)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # gone already
            self._pidfd = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            if self._pidfd is None or select.select([self._pidfd], [], [], 0)[0]:
                self.returncode = -signal.SIGKILL  # exit status unknown: it is not our child
                self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
        code = self.poll()
        if code is None:
            raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __del__(self) -> None:
        self._close()


class ForkProvisioner(LocalProvisioner):
    """Launches a kernel by asking the batch's fork server for one, instead of starting a new Python."""

    server: ForkServer | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs) -> dict:
        assert self.server is not None and self.parent is not None
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = await self.server.fork(os.path.realpath(self.parent.connection_file), cwd)
        self.process = ForkedKernelProcess(pid)
        self.pid = self.pgid = pid  # the kernel leads its own process group
        self.cwd = cwd
        return self.connection_info


def report_kernel_manager(socket_dir: str, home: Path, server: ForkServer | None = None,
                          env: dict[str, str] | None = None) -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels get a secret-free environment (plus `env`) and talk over IPC
    sockets in `socket_dir` (no TCP port), forked by `server` when given. nbclient owns each instance, so
    it closes channels and kernel."""

    class ReportKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kwargs):
            self.transport = "ipc"
            self.ip = os.path.join(socket_dir, "kernel")
            kwargs["env"] = kernel_env(home) | (env or {})
            kwargs.setdefault("cwd", str(home))
            kwargs.setdefault("extra_arguments", list(KERNEL_ARGS))
            if server is not None and self.provisioner is None:
                self.kernel_id = self.kernel_id or str(uuid.uuid4())
                self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                   parent=self)
                self.provisioner.server = server
            return await super().start_kernel(**kwargs)

    return ReportKernelManager


def can_fork_kernels() -> bool:
    """Kernels can be forked from a fork server here (Linux: fork and pidfds); else each starts anew."""
    return hasattr(os, "fork") and hasattr(os, "pidfd_open") and os.environ.get("SHOPLENS_FORK_KERNELS", "1") != "0"


class WarmKernels:
    """Report kernels started ahead of time; `take()` hands out a ready one and starts its replacement at
    once, until `total` kernels have been started. Each kernel serves one report only.

    Where it can (`can_fork_kernels`), kernels are forked from one fork server that has imported what
    reports use: a kernel is ready in milliseconds with nothing to import. Elsewhere each is a new Python
    that runs WARMUP before its report arrives."""

    def __init__(self, home: Path, size: int, total: int, *, fork: bool | None = None) -> None:
        self.home = home = Path(home).resolve()  # the kernels' working directory and SHOPLENS_HOME
        self.size = max(1, min(size, total))
        self.total = total
        self._sockets = tempfile.mkdtemp(prefix="shoplens-kernels-")
        # query results the batch's reports share (an English and a Chinese report ask the same queries;
        # `shoplens.warehouse.results`); SHOPLENS_SHARE_RESULTS=0 has each report run every query itself
        share = os.environ.get("SHOPLENS_SHARE_RESULTS", "1") != "0"
        self._results = tempfile.mkdtemp(prefix="shoplens-results-") if share else None
        self._env = {RESULTS_ENV: self._results} if self._results else {}
        self._ready: list[asyncio.Task] = []
        self._stopping: list[asyncio.Task] = []
        self._counter = 0
        # one report alone (a Dask worker's) starts one plain kernel: a fork server's imports would not pay off
        self.server = ForkServer(home, self._env) if ((can_fork_kernels() and total > 1) if fork is None else fork) \
            else None

    async def __aenter__(self) -> WarmKernels:
        if self.server is not None:
            await self.server.start()
        self._ready = [self._spawn() for _ in range(self.size)]
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._ready:
            task.cancel()
        for task in self._ready:
            try:
                km, kc = await task
            except BaseException:  # cancelled or failed to start: nothing to stop
                continue
            kc.stop_channels()
            await _shutdown(km)
        await asyncio.gather(*self._stopping)
        if self.server is not None:
            await self.server.close()
        shutil.rmtree(self._sockets, ignore_errors=True)
        if self._results:
            shutil.rmtree(self._results, ignore_errors=True)

    def _spawn(self) -> asyncio.Task:
        self._counter += 1
        sockets = os.path.join(self._sockets, str(self._counter))
        os.makedirs(sockets)
        manager = report_kernel_manager(sockets, self.home, self.server, self._env)
        return asyncio.ensure_future(self._start(manager(kernel_name="python3")))

    async def _start(self, km: AsyncKernelManager) -> tuple[AsyncKernelManager, AsyncKernelClient]:
        """A started kernel and its client, connected and answering (kept: nbclient would otherwise wait
        for it to be ready again, at least 0.2 s per report for jupyter_client's IOPub flush)."""
        await km.start_kernel()
        client = km.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)
            if self.server is None:  # a forked kernel has its imports from the server
                reply = await client.execute_interactive(WARMUP, timeout=120, store_history=False,
                                                         output_hook=lambda msg: None)
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"warming a report kernel failed: {reply['content'].get('evalue')}")
        except BaseException:
            client.stop_channels()
            await _shutdown(km)
            raise
        return km, client

    async def take(self) -> tuple[AsyncKernelManager, AsyncKernelClient]:
        task = self._ready.pop(0)
        if self._counter < self.total:
            self._ready.append(self._spawn())
        return await task

    def retire(self, km: AsyncKernelManager) -> None:
        """Shut a used kernel down while the next report runs (awaited when the batch ends)."""
        self._stopping.append(asyncio.ensure_future(_shutdown(km)))


async def _shutdown(km: AsyncKernelManager) -> None:
    try:
        await km.shutdown_kernel(now=True)
    except Exception:  # already dead
        pass


async def execute_on(job: ReportJob, km: AsyncKernelManager, kc: AsyncKernelClient, *,
                     retire: Callable[[AsyncKernelManager], None], timeout_s: int = 600) -> ReportOutcome:
    """Run one report notebook on a started kernel through its ready client, then hand the kernel to
    `retire`, which shuts it down; never raises for a notebook failure."""
    job.output_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    nb = load_notebook_node(str(job.notebook))
    nb = parameterize_notebook(nb, job.parameters, kernel_name="python3", language="python")
    nb = prepare_notebook_metadata(nb, str(job.notebook), str(job.executed_path))
    client = NotebookClient(nb, km=km, timeout=timeout_s, kernel_name="python3", allow_errors=False)
    client.kc, kc.allow_stdin = kc, False
    crash = None
    try:
        await client.async_execute()
    except CellExecutionError:
        pass  # the cell's error output is in the notebook; marked below
    except Exception as exc:  # the kernel died or a cell timed out
        crash = exc
    finally:
        kc.stop_channels()
        retire(km)
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
    """The executed notebook as compact JSON: what `nbformat.write` writes, unindented and with its text
    not split into lines (nbformat reads both back the same). Python's C encoder writes it; an indented
    notebook is encoded in Python, after nbformat copies it: 11 ms for a shop report against 2. Its
    outputs were validated as they arrived."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(strip_transient(nb), ensure_ascii=False, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


async def run_jobs(jobs: list[ReportJob], *, home: Path, workers: int = 2, timeout_s: int = 600,
                   after: Callable[[ReportOutcome], Awaitable[None]] | None = None) -> list[ReportOutcome]:
    """Execute `jobs`, `workers` at a time, each on its own warm kernel; `after` runs per outcome
    (rendering, progress) while other reports execute. Outcomes come back in job order."""
    outcomes: list[ReportOutcome | None] = [None] * len(jobs)
    queue = list(enumerate(jobs))
    if not jobs:
        return []
    with _heap_frozen():
        async with WarmKernels(home, size=workers + 1, total=len(jobs)) as kernels:

            async def worker() -> None:
                while queue:
                    index, job = queue.pop(0)
                    try:
                        km, kc = await kernels.take()
                    except Exception as exc:  # the kernel could not start: this report fails, the rest go on
                        outcome = ReportOutcome(job, "failed", 0.0, ReportError(
                            f"could not start a kernel: {exc}", notebook=job.notebook.name,
                            exception=type(exc).__name__))
                    else:
                        outcome = await execute_on(job, km, kc, timeout_s=timeout_s, retire=kernels.retire)
                    if after is not None:
                        await after(outcome)
                    outcomes[index] = outcome

            await asyncio.gather(*(worker() for _ in range(max(1, min(workers, len(jobs))))))
    return [o for o in outcomes if o is not None]


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """What this process already holds (its imports; in the bench, a sync it has just run: 400,000
    objects) kept out of the garbage collector's scans while a batch runs. nbclient's messages start a
    collection every few hundred allocations, and each full one walked all of it: a sixth of the
    batch's own CPU."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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


