"""Execute report notebooks with papermill, one fresh kernel per report, and record each run.

The kernel's environment has every secret removed (app secret, tokens), so a notebook cannot see
credentials even by reading os.environ. A failed report still leaves its executed notebook on disk
with the failing cell marked, and its ReportError names notebook, cell and exception.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import papermill
from jupyter_client.manager import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError

from shoplens.errors import ReportError

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
_SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)


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

    def manifest_entry(self, reports_dir: Path) -> dict:
        entry = {
            "report": self.job.report_id,
            "slug": self.job.slug,
            "title": self.job.title,
            "parameters": self.job.parameters,
            "period": [d.isoformat() for d in self.job.period],
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "notebook": str(self.job.executed_path.relative_to(reports_dir)),
            "outputs": {k: str(v.relative_to(reports_dir)) for k, v in self.outputs.items()},
            "error": None,
        }
        if self.error is not None:
            entry["error"] = {"message": str(self.error), "cell_index": self.error.cell_index,
                              "exception": self.error.exception}
        return entry


def execute_report(job: ReportJob, *, home: Path, timeout_s: int = 600) -> ReportOutcome:
    """Run one report notebook in a new kernel; never raises for a notebook failure."""
    job.output_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sockets = tempfile.mkdtemp(prefix="shoplens-kernel-")
    try:
        papermill.execute_notebook(str(job.notebook), str(job.executed_path), parameters=job.parameters,
                                   kernel_name="python3", kernel_manager_class=report_kernel_manager(sockets, home),
                                   progress_bar=False, log_output=False, cwd=str(home),
                                   execution_timeout=timeout_s)
    except PapermillExecutionError as exc:
        error = ReportError(exc.evalue or exc.ename, notebook=job.notebook.name, cell_index=exc.cell_index,
                            exception=exc.ename, output_path=str(job.executed_path))
        return ReportOutcome(job, "failed", time.perf_counter() - started, error)
    except Exception as exc:  # the kernel died, timed out or could not start
        error = ReportError(str(exc), notebook=job.notebook.name, exception=type(exc).__name__,
                            output_path=str(job.executed_path))
        return ReportOutcome(job, "failed", time.perf_counter() - started, error)
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return ReportOutcome(job, "ok", time.perf_counter() - started)


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


