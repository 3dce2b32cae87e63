"""Report kernels forked from one process that has already imported what reports use.

Starting a Python kernel and importing pandas, plotly and shoplens costs about 1.3 s of CPU per report,
more than everything else a report does. A batch therefore starts one *fork server*: a process, with
the secret-free kernel environment, that imports those modules once and then, for each report, forks
a child that becomes a real IPython kernel (ipykernel's own application, on the connection file the
runner's kernel manager wrote). The child inherits the imports (copy-on-write) but no state of any
report: the server never runs notebook code, so every report still starts from a fresh kernel.

Run as `python -m shoplens.reports.forkserver`: one JSON request per line on stdin
({"connection_file": ..., "cwd": ...}), one JSON answer per line on stdout ({"pid": ...} or
{"error": ...}). It exits when stdin closes. A forked kernel is in its own process group and polls
the server: it exits when the server does.

This module must never: run notebook code or open the warehouse in the server process; start a
thread or a ZeroMQ context before forking (a forked child would inherit them half-copied); read or
hold a secret (it runs with `runner.kernel_env()`).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys

#: imported once by the server, before any fork: what every report notebook imports, and what a kernel
#: imports as it starts. Not plotly.io._renderers: it pulls in nbformat's validator and with it
#: jsonschema's format checkers, whose rfc3987-syntax dependency builds a grammar on import (1.3 s, more
#: than half the server's start), and no report touches it (`charts.show` publishes the figure's JSON and
#: HTML itself). A notebook that calls `fig.show()` imports it in its own kernel, where plotly then
#: chooses the renderer a kernel started the usual way would.
PRELOAD = ("pandas", "plotly.graph_objects", "plotly.io", "shoplens.charts", "shoplens.metrics", "shoplens.reports",
           "shoplens.quality", "shoplens.attribution", "shoplens.imports.reconcile", "shoplens.reports.targets",
           "IPython.display", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger")

#: what every report kernel is started with, forked or not: no IPython history. A report's cells are in its
#: executed notebook; writing them to the user's history database too cost each kernel a SQLite session and
#: a write per cell, and grew that file by every report ever run.
KERNEL_ARGS = ("--HistoryManager.enabled=False",)


def preload() -> None:
    """Import what report kernels use and build what is pure and shared (the metric catalogue, the chart
    theme), then freeze the heap so forked children do not copy it when the collector walks it."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    import shoplens.metrics

    shoplens.metrics.default_catalogue()
    gc.collect()
    gc.freeze()


def _become_kernel(connection_file: str, cwd: str, server_pid: int) -> None:
    """In the forked child: detach from the server's pipes and run an IPython kernel until shut down."""
    os.setpgid(0, 0)  # its own process group: the runner signals the kernel and what it starts, not the server
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server ignores children; a kernel waits for its own
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    os.chdir(cwd)
    os.environ["JPY_PARENT_PID"] = str(server_pid)  # ipykernel's parent poller: exit when the server does
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file, *KERNEL_ARGS])
    app.start()


def serve() -> None:
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked kernels are reaped by the system, never zombies
    server_pid = os.getpid()
    requests, answers = sys.stdin.buffer, sys.stdout.fileno()
    for line in iter(requests.readline, b""):
        try:
            request = json.loads(line)
            connection_file, cwd = str(request["connection_file"]), str(request.get("cwd") or os.getcwd())
        except (ValueError, KeyError, TypeError) as exc:
            os.write(answers, (json.dumps({"error": f"bad request: {exc}"}) + "\n").encode())
            continue
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _become_kernel(connection_file, cwd, server_pid)
                code = 0
            except BaseException:  # the kernel could not start: say why on stderr, never return to serving
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        try:
            os.setpgid(pid, pid)  # also here, so it holds before the runner can signal the group
        except OSError:  # the child did it first (or has already exited)
            pass
        os.write(answers, (json.dumps({"pid": pid}) + "\n").encode())


if __name__ == "__main__":
    serve()
