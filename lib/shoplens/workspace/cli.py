"""`shoplens init`, `shoplens doctor` and `shoplens schedule` (mounted by shoplens.cli).

Mistakes raise ShoplensError, which the main command turns into one line and exit code 1; `doctor` exits
1 when a check fails (✗). Nothing here prints a secret or a token.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit
from shoplens.config import workspace_home

console = Console()
STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def _say(line: str) -> None:  # literal: paths and commands are for copying
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def init_command(folder: Path = typer.Argument(None, help="The workspace folder (default: SHOPLENS_HOME, else "
                                                          "the current folder); created when missing.")) -> None:
    """Start a workspace: commented shoplens.toml, example targets.toml, .gitignore, private .shoplens/."""
    from shoplens.workspace.scaffold import init_workspace

    home = Path(folder) if folder is not None else workspace_home()
    result = init_workspace(home)
    _say(f"workspace {result.home}")
    width = max(len(name) for name, _, _ in result.steps)
    for name, done, about in result.steps:
        _say(f"  {done:<8} {name:<{width}}  {about}")
    steps = [("shoplens doctor", "what is still missing: app key and secret, Chromium, fonts..."),
             ("shoplens auth url", "the seller approves; then `shoplens auth exchange --code CODE`"),
             ("shoplens sync", "the first sync, into data/shoplens.duckdb")]
    here = Path.cwd().resolve() == result.home
    configured = os.environ.get("SHOPLENS_HOME")
    _say("\nnext:")
    if configured and Path(configured).expanduser().resolve() != result.home:
        _say(f"  export SHOPLENS_HOME={result.home}    (it points at {configured} now)")
    elif not here:
        _say(f"  cd {result.home}")
    for command, about in steps:
        _say(f"  {command:<20} {about}")


def doctor_command(offline: bool = typer.Option(False, "--offline", help="Skip the checks that need the network "
                                                                         "(clock, API calls, services)."),
                   stale_hours: float = typer.Option(24.0, help="A shop whose data last synced longer ago than "
                                                                "this is stale."),
                   output: OutputFormat = Output.table) -> None:
    """Check everything a sync and the reports need, one line each: ✔, or ✗ with the fix. Exit 1 on any ✗."""
    from shoplens.workspace.doctor import FAIL, MARKS, make_doctor, run_doctor

    if not stale_hours > 0:
        raise typer.BadParameter(f"{stale_hours} is not above 0", param_hint="--stale-hours")
    doctor = make_doctor(offline=offline, stale_after=timedelta(hours=stale_hours))
    results = run_doctor(doctor)
    failures = [r for r in results if r.status == FAIL]
    if output is not Output.table:
        emit(output, Listing([Column("section"), Column("check"), Column("status"), Column("detail"), Column("fix")],
                             [vars(r) for r in results]))
    else:
        home = doctor.settings.home if doctor.settings else workspace_home()
        _say(f"shoplens doctor: {home}")
        section = None
        for r in results:
            if r.section != section:
                section = r.section
                console.print(Text(f"\n{section}", style="bold"))
            line = Text("  ")
            line.append(MARKS[r.status], style=STYLES[r.status])
            line.append(f" {r.check}: {r.detail}")
            if r.fix and r.status in ("fail", "warn"):
                line.append(f"; fix: {r.fix}")
            console.print(line, soft_wrap=True, highlight=False)
        _say("\n" + (f"{len(failures)} problem(s) marked ✗: fix them, then run `shoplens doctor` again"
                     if failures else "nothing is missing"))
    if failures:
        raise typer.Exit(1)
