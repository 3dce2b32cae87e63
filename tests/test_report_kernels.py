"""Report kernels in a batch: each report starts from a fresh kernel (forked from the batch's fork server
on Linux, or a new Python), a kernel that dies fails only its report, no secret is in a kernel's
environment, and no kernel or fork server outlives the batch."""

import gc
import json
import os
from datetime import date
from pathlib import Path

import nbformat
import pytest

from shoplens.reports import runner
from shoplens.reports.batch import run_batch
from shoplens.reports.runner import ReportJob

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))

#: what each test notebook prints last: its kernel's pid, its parent (the fork server when forked), the
#: parent's thread count, whether an earlier report's variable, module change or environment is seen
PROBE = """
import json, os, shoplens.charts
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(),
                  "parent_threads": len(os.listdir(f"/proc/{os.getppid()}/task")),
                  "leaked_variable": "LEAKED" in globals(), "palette": len(shoplens.charts.PALETTE),
                  "leaked_env": "SHOPLENS_LEAKED" in os.environ,
                  "env": sorted(k for k in os.environ if k.startswith("SHOPLENS_")),
                  "secret_values": [k for k, v in os.environ.items() if v in ("s3cr3t", "tok3n")]}))
"""

NOTEBOOKS = {
    # leaves state behind in every way a notebook can: a global, a change to a preloaded module, the environment
    "leaves_state": ["LEAKED = 1\nshoplens_charts = __import__('shoplens.charts').charts\n"
                     "shoplens_charts.PALETTE.append('#000000')\nos.environ['SHOPLENS_LEAKED'] = '1'"],
    "probe": [],
    # the kernel dies in the middle of the report
    "dies": ["import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print('never')"],
    # a figure shown the plotly way (fig.show()), not through shoplens.charts.show
    "shows_figure": ["import plotly.graph_objects as go\ngo.Figure(go.Bar(x=['a'], y=[1])).show()"],
    # the fork server dies under the batch (its parent, when the kernel was forked)
    "kills_server": ["import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(3)"],
}


@pytest.fixture
def notebooks(tmp_path, monkeypatch):
    """Test notebooks (a parameters cell, then the cells above, then PROBE) in place of the shipped ones."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name, cells in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        parameters = nbformat.v4.new_code_cell("n = 0")
        parameters.metadata["tags"] = ["parameters"]
        nb.cells = [parameters, nbformat.v4.new_code_cell("import os"),
                    *(nbformat.v4.new_code_cell(c) for c in cells), nbformat.v4.new_code_cell(PROBE)]
        nbformat.write(nb, folder / f"{name}.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOKS_DIR", folder)
    return folder


def job(name: str, n: int, out: Path) -> ReportJob:
    return ReportJob(report_id=name, slug=f"{name}-{n}", title=name, parameters={"n": n}, period=PERIOD,
                     output_dir=out)


def probe(outcome) -> dict:
    cell = nbformat.read(outcome.job.executed_path, as_version=4).cells[-1]
    return json.loads(cell.outputs[0]["text"])


def gone(pid: int) -> bool:
    """No such process, or nothing left of it but a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def children() -> set[str]:
    """This process's live children (the suite's own, such as a session's browser, included)."""
    return {d for d in os.listdir("/proc") if d.isdigit() and not gone(int(d))
            and Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(os.getpid())}


@pytest.fixture(params=["forked", "new python"])
def kernel_kind(request, monkeypatch):
    monkeypatch.setenv("SHOPLENS_FORK_KERNELS", "1" if request.param == "forked" else "0")
    if request.param == "forked" and not runner.can_fork_kernels():
        pytest.skip("kernels are forked only on Linux")
    return request.param


def test_each_report_starts_from_a_fresh_kernel_and_none_outlives_the_batch(notebooks, kernel_kind, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("SHOPLENS_APP_SECRET", "s3cr3t")
    monkeypatch.setenv("SHOPLENS_ACCESS_TOKEN", "tok3n")
    out = tmp_path / "reports"
    jobs = [job("probe", 0, out), job("leaves_state", 1, out), job("probe", 2, out), job("leaves_state", 3, out),
            job("probe", 4, out)]
    before = children()
    result = run_batch(jobs, home=tmp_path, reports_dir=out, workers=1)  # one at a time: each after the last
    assert [o.status for o in result.outcomes] == ["ok"] * 5
    probes = [probe(o) for o in result.outcomes]
    fresh = probes[0]
    assert not fresh["leaked_variable"] and not fresh["leaked_env"]
    assert [p["leaked_variable"] for p in probes] == [False, True, False, True, False]
    assert [p["palette"] for p in probes] == [fresh["palette"], fresh["palette"] + 1] * 2 + [fresh["palette"]]
    assert [p["leaked_env"] for p in probes] == [False, True, False, True, False]
    assert len({p["pid"] for p in probes}) == 5  # a kernel per report
    for p in probes:  # secrets removed, the workspace given
        assert p["secret_values"] == [] and "SHOPLENS_APP_SECRET" not in p["env"]
        assert "SHOPLENS_ACCESS_TOKEN" not in p["env"] and "SHOPLENS_HOME" in p["env"]
    if kernel_kind == "forked":
        servers = {p["ppid"] for p in probes}
        assert len(servers) == 1 and servers != {os.getpid()}  # one fork server for the batch
        assert fresh["parent_threads"] == 1  # it never started a thread (forking would copy it half-made)
    for pid in {p["pid"] for p in probes} | {p["ppid"] for p in probes} - {os.getpid()}:
        assert gone(pid), f"process {pid} outlived the batch"
    assert children() <= before, "the batch left a child process running"


def test_report_kernels_leave_the_users_ipython_history_alone(notebooks, kernel_kind, tmp_path, monkeypatch):
    """A report's cells are in its executed notebook; a kernel does not also write them to the IPython
    history database (a SQLite session and a write per cell, and a file that grew with every report)."""
    ipython_dir = tmp_path / "ipython"
    monkeypatch.setenv("IPYTHONDIR", str(ipython_dir))
    out = tmp_path / "reports"
    result = run_batch([job("probe", 0, out), job("probe", 1, out)], home=tmp_path, reports_dir=out, workers=1)
    assert [o.status for o in result.outcomes] == ["ok", "ok"]
    assert all(probe(o)["pid"] for o in result.outcomes)  # the notebooks ran, in kernels that read IPYTHONDIR
    assert ipython_dir.is_dir(), "the kernels did not use the IPYTHONDIR given"
    assert not list(ipython_dir.rglob("history.sqlite")), "a report kernel wrote IPython history"


def test_a_batch_keeps_what_its_process_held_out_of_the_collector_and_gives_it_back(notebooks, tmp_path):
    """While a batch runs, what its process already held is frozen out of the garbage collector's scans
    (nbclient's messages start collections that walked all of it); afterwards the collector has it again."""
    out = tmp_path / "reports"
    before, during = gc.get_freeze_count(), []
    result = run_batch([job("probe", 0, out)], home=tmp_path, reports_dir=out, workers=1,
                       on_done=lambda outcome: during.append(gc.get_freeze_count()))
    assert [o.status for o in result.outcomes] == ["ok"]
    assert during and during[0] > before + 10_000  # at least the imports: pandas, nbclient, shoplens
    assert gc.get_freeze_count() == before


def test_fig_show_draws_in_a_forked_kernel_as_in_a_kernel_started_the_usual_way(notebooks, tmp_path, monkeypatch):
    """The fork server does not import plotly's renderers (1.3 s of jsonschema grammar): a notebook that
    calls fig.show() imports them in its own kernel, where plotly chooses what a usual kernel chooses."""
    kinds = {}
    for kind in ("1", "0"):
        monkeypatch.setenv("SHOPLENS_FORK_KERNELS", kind)
        out = tmp_path / f"reports-{kind}"
        result = run_batch([job("shows_figure", 0, out), job("probe", 1, out)], home=tmp_path, reports_dir=out,
                           workers=1)
        assert [o.status for o in result.outcomes] == ["ok", "ok"]
        cell = next(c for c in nbformat.read(result.outcomes[0].job.executed_path, as_version=4).cells
                    if ".show()" in c.source)
        kinds[kind] = sorted(k for o in cell.outputs for k in o.get("data", {}))
    assert "application/vnd.plotly.v1+json" in kinds["0"]
    assert kinds["1"] == kinds["0"]


def test_a_kernel_that_dies_fails_only_its_report(notebooks, kernel_kind, tmp_path):
    out = tmp_path / "reports"
    jobs = [job("probe", 0, out), job("dies", 1, out), job("probe", 2, out)]
    result = run_batch(jobs, home=tmp_path, reports_dir=out, workers=2)
    assert [o.status for o in result.outcomes] == ["ok", "failed", "ok"]
    died = result.outcomes[1]
    assert died.error is not None and died.job.executed_path.exists()  # the notebook as far as it ran
    manifest = json.loads(result.manifest.read_text())
    assert [r["status"] for r in manifest["reports"]] == ["ok", "failed", "ok"]
    assert manifest["reports"][1]["error"]["message"]
    for p in (probe(result.outcomes[0]), probe(result.outcomes[2])):
        assert gone(p["pid"]) and (p["ppid"] == os.getpid() or gone(p["ppid"]))


def test_a_fork_server_that_dies_fails_the_reports_left_and_leaves_nothing_behind(notebooks, tmp_path, monkeypatch):
    if not runner.can_fork_kernels():
        pytest.skip("kernels are forked only on Linux")
    out = tmp_path / "reports"
    jobs = [job("probe", 0, out), job("kills_server", 1, out), *(job("probe", n, out) for n in range(2, 7))]
    before = children()
    result = run_batch(jobs, home=tmp_path, reports_dir=out, workers=1)
    assert len(result.outcomes) == 7 and result.outcomes[0].status == "ok"
    last = result.outcomes[-1]
    assert last.status == "failed" and "fork server exited" in str(last.error)
    server = probe(result.outcomes[0])["ppid"]
    assert gone(server)
    pids = [probe(o)["pid"] for o in result.outcomes if o.status == "ok"]
    assert all(gone(pid) for pid in pids)
    assert children() <= before, "the batch left a child process running"
