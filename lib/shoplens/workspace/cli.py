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
                     if failures else "nothing is missing" + (" (network checks skipped)" if offline else "")))
    if failures:
        raise typer.Exit(1)


def schedule_command(systemd: bool = typer.Option(False, "--systemd", help="systemd user timers instead of "
                                                                           "crontab lines."),
                     install: bool = typer.Option(False, "--install", help="Install the schedule (replacing this "
                                                                           "workspace's earlier one)."),
                     remove: bool = typer.Option(False, "--remove", help="Take this workspace's schedule out again."),
                     timezone: str = typer.Option("Asia/Shanghai", help="The reporting time zone of the weekly batch."),
                     weekly: str = typer.Option("Mon 07:00", help="When the weekly batch runs, in that zone."),
                     lang: list[str] = typer.Option(None, help="Report languages (repeatable; default en and zh)."),
                     crontab_file: Path = typer.Option(None, help="Use this crontab file instead of `crontab -l` "
                                                                  "and `crontab -`."),
                     unit_dir: Path = typer.Option(None, help="Write the systemd units here instead of "
                                                              "~/.config/systemd/user (and enable nothing).")) -> None:
    """Print, --install or --remove the hourly sync and the Monday report batch (crontab, or systemd timers)."""
    from shoplens.errors import ShoplensError
    from shoplens.i18n import t
    from shoplens.workspace import cron
    from shoplens.workspace import systemd as units
    from shoplens.workspace.schedule import make_plan, parse_weekly, unseen_settings

    if install and remove:
        raise ShoplensError("give --install or --remove, not both")
    home = workspace_home()
    if remove:
        if systemd:
            removed = units.remove(home, unit_dir)
            _say(f"removed {len(removed)} unit(s): {', '.join(p.name for p in removed)}" if removed
                 else f"no shoplens units for {home} in {unit_dir or units.default_unit_dir()}")
        else:
            crontab = cron.Crontab(crontab_file)
            text, found = cron.remove_block(crontab.read(), home)
            if found:
                crontab.write(text)
            _say(f"removed the schedule of {home} from {crontab.describe()}" if found
                 else f"{crontab.describe()} has no schedule for {home}")
        return
    for code in lang or []:
        t("shop_report", code)
    plan = make_plan(home, weekly=parse_weekly(weekly, timezone), langs=tuple(lang or ("en", "zh")))
    err = Console(stderr=True)
    for warning in unseen_settings(home):
        err.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if not install:
        if systemd:
            for name, text in units.units(plan).items():
                _say(f"# {(unit_dir or units.default_unit_dir()) / name}\n{text}")
        else:
            _say(cron.block(plan).rstrip("\n"))
        err.print("install it: shoplens schedule --install" + (" --systemd" if systemd else ""), markup=False,
                  highlight=False)
        return
    if systemd:
        written = units.install(plan, unit_dir)
        _say(f"wrote {len(written)} units to {written[0].parent}")
        _say("timers enabled: `systemctl --user list-timers` shows them" if unit_dir is None else
             "not enabled (a folder of its own): systemd reads user units from ~/.config/systemd/user")
    else:
        crontab = cron.Crontab(crontab_file)
        crontab.write(cron.install_block(crontab.read(), plan))
        _say(f"installed in {crontab.describe()}:")
        for job in plan.jobs:
            _say(f"  {job.about}: {cron.when(job)[1]}")
    (home / "logs").mkdir(exist_ok=True)  # the jobs append there
    _say(f"logs: {home / 'logs'}; `shoplens schedule --remove{' --systemd' if systemd else ''}` takes it out")
