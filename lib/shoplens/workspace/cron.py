"""A schedule as crontab lines, installed into and removed from a crontab.

The lines sit in one block marked with the workspace's folder, so several workspaces share a crontab and
`remove_block` gives back the crontab as it was. Cron has no portable time zone setting (CRON_TZ is
cronie's only, and would apply to every later line), so the weekly batch's time in the reporting zone is
converted to this machine's zone when the lines are made, and the block says so. The crontab is
`crontab -l` / `crontab -`, or a file of its own (`crontab_file`, for tests and for hosts that read
/etc/cron.d-style files); a file is replaced atomically. Never a secret in a line.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shoplens.errors import ConfigError
from shoplens.workspace.schedule import SYNC_MINUTE, Job, Plan


def _begin(home: Path) -> str:
    return f"# >>> shoplens schedule: {home} >>>"


def _end(home: Path) -> str:
    return f"# <<< shoplens schedule: {home} <<<"


def when(job: Job, now: datetime | None = None) -> tuple[str, str]:
    """The five time fields of `job` in this machine's zone, and what they mean."""
    if job.weekly is None:
        return f"{SYNC_MINUTE} * * * *", f"every hour at minute {SYNC_MINUTE}"
    planned = job.weekly.next_after(now or datetime.now(UTC))
    moment = planned.astimezone()  # this machine's zone
    dow = (moment.weekday() + 1) % 7  # cron: Sunday = 0
    meaning = f"{job.weekly.describe()} = {moment:%a %H:%M} {moment.tzname()} on this machine"
    later = planned + timedelta(days=182)
    if later.utcoffset() - later.astimezone().utcoffset() != planned.utcoffset() - moment.utcoffset():
        meaning += ("; daylight saving time moves it by an hour for half the year (systemd timers, "
                    "`--systemd`, keep the zone)")
    return f"{moment.minute} {moment.hour} * * {dow}", meaning


def command_line(plan: Plan, job: Job) -> str:
    """The shell command cron runs for `job` (cron's % escaped)."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in plan.environment().items())
    steps = " && ".join(f"{env} {shlex.join(plan.argv(command))}" for command in job.commands)
    log = shlex.quote(str(plan.log(job)))
    line = f"cd {shlex.quote(str(plan.home))} && {{ date -u; {steps}; }} >> {log} 2>&1"
    return line.replace("%", "\\%")


def block(plan: Plan, now: datetime | None = None) -> str:
    """The crontab lines of `plan`, between the workspace's markers."""
    lines = [_begin(plan.home),
             f"# made by `shoplens schedule --install`; `shoplens schedule --remove` takes it out. Logs: {plan.home / 'logs'}"]
    for job in plan.jobs:
        fields, meaning = when(job, now)
        lines += [f"# {job.about}: {meaning}", f"{fields} {command_line(plan, job)}"]
    lines.append(_end(plan.home))
    return "\n".join(lines) + "\n"


def remove_block(text: str, home: Path) -> tuple[str, bool]:
    """`text` without the workspace's block, and whether there was one."""
    lines = text.splitlines(keepends=True)
    begin, end = _begin(home), _end(home)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == begin]
    if not starts:
        return text, False
    stops = [i for i, line in enumerate(lines) if line.rstrip("\n") == end and i > starts[0]]
    if not stops:
        raise ConfigError(f"the crontab has the line {begin!r} but not its end {end!r}: edit it by hand "
                          "(`crontab -e`) and remove the block")
    return "".join(lines[:starts[0]] + lines[stops[0] + 1:]), True


def install_block(text: str, plan: Plan, now: datetime | None = None) -> str:
    """`text` with the workspace's block in it: in place of an earlier one, else at the end."""
    lines = text.splitlines(keepends=True)
    begin = _begin(plan.home)
    at = next((i for i, line in enumerate(lines) if line.rstrip("\n") == begin), None)
    rest, _ = remove_block(text, plan.home)
    if at is None:
        return rest + ("" if not rest or rest.endswith("\n") else "\n") + block(plan, now)
    kept = rest.splitlines(keepends=True)
    return "".join(kept[:at]) + block(plan, now) + "".join(kept[at:])


class Crontab:
    """The user's crontab (`crontab -l`/`crontab -`), or a crontab file of its own."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file

    def describe(self) -> str:
        return str(self.file) if self.file else "your crontab"

    def read(self) -> str:
        if self.file is not None:
            return self.file.read_text(encoding="utf-8") if self.file.exists() else ""
        done = subprocess.run([self._command(), "-l"], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            if "no crontab" in done.stderr.lower():
                return ""
            raise ConfigError(f"`crontab -l` failed: {done.stderr.strip()}")
        return done.stdout

    def write(self, text: str) -> None:
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.file.name}.", dir=self.file.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.file)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return
        done = subprocess.run([self._command(), "-"], input=text, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise ConfigError(f"`crontab -` refused the new crontab: {done.stderr.strip()}")

    @staticmethod
    def _command() -> str:
        found = shutil.which("crontab")
        if found is None:
            raise ConfigError("no `crontab` command on this machine: install cron (`apt-get install -y cron`), "
                              "or use `--systemd` for systemd user timers")
        return found
