"""A schedule as systemd user units: a oneshot service and a timer per job.

Timers take the reporting time zone as it is (`OnCalendar=Mon *-*-* 07:00:00 Asia/Shanghai`) and catch
up a run missed while the machine was off (`Persistent=true`); a service that is still running is not
started twice. Output is appended to the workspace's logs, each run after a `date -u` line. Units are
named after the workspace (folder name and a hash of its path), so workspaces do not collide. Units go
to `~/.config/systemd/user` (enabled with `systemctl --user`), or to a folder of their own (`unit_dir`,
for tests; nothing is enabled there). Never a secret in a unit.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from shoplens.config import workspace_home
from shoplens.errors import ConfigError
from shoplens.workspace.schedule import SYNC_MINUTE, Job, Plan


def default_unit_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"


def unit_prefix(home: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", home.name).strip("-") or "workspace"
    return f"shoplens-{slug}-{hashlib.sha1(str(home).encode()).hexdigest()[:6]}"


def _quote(word: str) -> str:
    """A word of an Exec line or an Environment assignment, quoted when it must be; % doubled (specifiers)."""
    word = word.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def calendar(job: Job) -> str:
    if job.weekly is None:
        return f"*-*-* *:{SYNC_MINUTE:02d}:00"
    w = job.weekly
    return f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[w.day]} *-*-* {w.hour:02d}:{w.minute:02d}:00 {w.zone}"


def units(plan: Plan) -> dict[str, str]:
    """File name -> text, a service and a timer per job."""
    prefix, date = unit_prefix(plan.home), shutil.which("date") or "/bin/date"
    env = " ".join(_quote(f"{k}={v}") for k, v in plan.environment().items())
    files = {}
    for job in plan.jobs:
        name, log = f"{prefix}-{job.name}", str(plan.log(job)).replace("%", "%%")  # the rest of the line, as is
        description = f"shoplens: {job.about} of {plan.home}".replace("%", "%%")
        execs = "\n".join(f"ExecStart={' '.join(_quote(w) for w in plan.argv(c))}" for c in job.commands)
        files[f"{name}.service"] = (
            f"[Unit]\nDescription={description}\n\n"
            f"[Service]\nType=oneshot\nWorkingDirectory={str(plan.home).replace('%', '%%')}\nEnvironment={env}\n"
            f"ExecStartPre={_quote(date)} -u\n{execs}\n"
            f"StandardOutput=append:{log}\nStandardError=append:{log}\n")
        files[f"{name}.timer"] = (
            f"[Unit]\nDescription={description}\n\n"
            f"[Timer]\nOnCalendar={calendar(job)}\nPersistent=true\n\n"
            "[Install]\nWantedBy=timers.target\n")
    return files


def _systemctl(*args: str, check: bool = True) -> None:
    found = shutil.which("systemctl")
    if found is None:
        raise ConfigError("no `systemctl` on this machine: use the crontab (leave out --systemd)")
    done = subprocess.run([found, "--user", *args], capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise ConfigError(f"`systemctl --user {' '.join(args)}` failed: {done.stderr.strip()[-300:]}. Is a user "
                          "session running? On a server, `loginctl enable-linger $USER` lets timers run logged out")


def install(plan: Plan, unit_dir: Path | None = None) -> list[Path]:
    """Write the units (replacing this workspace's); enable the timers when they are in the user's unit folder.
    When systemd cannot enable them, the units written are taken out again and the error says why."""
    folder = unit_dir or default_unit_dir()
    if unit_dir is None:
        _systemctl("show-environment")  # is there a user manager to talk to? (before writing anything)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units(plan).items():
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    if unit_dir is None:
        try:
            _systemctl("daemon-reload")
            _systemctl("enable", "--now", *(p.name for p in written if p.suffix == ".timer"))
        except ConfigError:
            for path in written:
                path.unlink(missing_ok=True)
            _systemctl("daemon-reload", check=False)
            raise
    return written


def remove(home: Path | None = None, unit_dir: Path | None = None) -> list[Path]:
    """Disable and delete this workspace's units; the paths that were removed."""
    folder = unit_dir or default_unit_dir()
    prefix = unit_prefix((home or workspace_home()).resolve())
    found = sorted(folder.glob(f"{prefix}-*.service")) + sorted(folder.glob(f"{prefix}-*.timer"))
    if found and unit_dir is None:
        _systemctl("disable", "--now", *(p.name for p in found if p.suffix == ".timer"), check=False)
    for path in found:
        path.unlink()
    if found and unit_dir is None:
        _systemctl("daemon-reload", check=False)
    return found
