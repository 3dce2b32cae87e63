"""`shoplens schedule`: the jobs a team runs by themselves, and when.

Two jobs per workspace: `sync` every hour (alerts join it once they exist: add their command to its
`commands`) and the weekly report batch (`reports run` for the latest full week) on Monday morning in the
reporting time zone. Each runs the workspace's own `shoplens` with the workspace as its folder and
SHOPLENS_HOME, appends its output to `logs/<job>.log`, and cannot overlap itself: `sync` holds the sync lock
and `reports run` the batch lock (shoplens.locks). `cron.py` and `systemd.py` write the plan as crontab
lines or systemd user timers. Nothing here runs a job, nor writes a secret into a schedule.
"""

from __future__ import annotations

import os
import shutil
import sys
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from shoplens.config import FILE_KEYS
from shoplens.errors import ConfigError
from shoplens.suggest import unknown

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: the reporting time zone the metric catalogue defaults to
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_WEEKLY = "Mon 07:00"
SYNC_MINUTE = 5


@dataclass(frozen=True)
class Weekly:
    """A weekday and a time of day in a time zone."""

    day: int  # Monday = 0
    hour: int
    minute: int
    zone: str

    def next_after(self, moment: datetime) -> datetime:
        """The next such moment after `moment` (aware), in the job's zone."""
        local = moment.astimezone(zoneinfo.ZoneInfo(self.zone))
        candidate = local.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        candidate += timedelta(days=(self.day - candidate.weekday()) % 7)
        return candidate if candidate > local else candidate + timedelta(days=7)

    def describe(self) -> str:
        return f"{DAYS[self.day]} {self.hour:02d}:{self.minute:02d} {self.zone}"


@dataclass(frozen=True)
class Job:
    name: str
    about: str
    #: shoplens argument lists, run one after the other while each succeeds
    commands: list[list[str]]
    #: None: hourly at SYNC_MINUTE; else weekly
    weekly: Weekly | None = None


@dataclass(frozen=True)
class Plan:
    home: Path
    executable: str
    #: PATH for the jobs: the one `shoplens schedule` ran with, so Chromium and Quarto are found as here
    path: str
    jobs: list[Job] = field(default_factory=list)

    def log(self, job: Job) -> Path:
        return self.home / "logs" / f"{job.name}.log"

    def environment(self) -> dict[str, str]:
        return {"SHOPLENS_HOME": str(self.home), "PATH": self.path}

    def argv(self, command: list[str]) -> list[str]:
        return [self.executable, *command]


def parse_weekly(text: str, zone: str) -> Weekly:
    """"Mon 07:00" in `zone`; a mistake names the option."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError("--timezone: " + unknown("time zone", zone, sorted(zoneinfo.available_timezones()))
                          + " (an IANA name such as Asia/Shanghai)") from None
    day, _, clock = text.strip().partition(" ")
    hour, _, minute = clock.strip().partition(":")
    days = [d.lower() for d in DAYS]
    if day[:3].lower() not in days or not (hour.isdigit() and minute.isdigit()) \
            or not (0 <= int(hour) < 24 and 0 <= int(minute) < 60):
        raise ConfigError(f"--weekly {text!r}: write a weekday and a 24-hour time, e.g. \"Mon 07:00\"")
    return Weekly(days.index(day[:3].lower()), int(hour), int(minute), zone)


def shoplens_executable() -> str:
    """This environment's `shoplens` (absolute): a schedule must not depend on cron's PATH."""
    beside = Path(sys.executable).with_name("shoplens")
    found = str(beside) if beside.exists() else shutil.which("shoplens")
    if not found:
        raise ConfigError("cannot find the `shoplens` command of this environment: run `make setup` "
                          "(or `pip install -e .`) first")
    return str(Path(found).absolute())


def make_plan(home: Path, *, weekly: Weekly, langs: tuple[str, ...] = ("en", "zh"),
              executable: str | None = None, path: str | None = None) -> Plan:
    """The hourly sync and the weekly batch for the workspace at `home`."""
    batch = ["reports", "run"] + [arg for lang in langs for arg in ("--lang", lang)]
    jobs = [Job("sync", "hourly sync of every authorized shop, then its alerts", [["sync", "--alerts"]]),
            Job("reports", "weekly report batch", [batch], weekly)]
    path = path or os.environ.get("PATH") or "/usr/bin:/bin"
    return Plan(home.resolve(), executable or shoplens_executable(), ":".join(dict.fromkeys(path.split(":"))), jobs)


def unseen_settings(home: Path, env: dict[str, str] | None = None) -> list[str]:
    """Warnings for settings only this shell has: a scheduled job does not see its environment."""
    from shoplens.config import read_private_json, read_settings_file

    env = os.environ if env is None else env
    in_file = read_settings_file(home)
    warnings = [f"{variable} is set in this shell only: put `{key} = ...` in shoplens.toml so scheduled runs use it"
                for key, variable in FILE_KEYS.items() if env.get(variable) and key not in in_file]
    if env.get("SHOPLENS_APP_SECRET") and not read_private_json(home / ".shoplens" / "credentials.json").get("app_secret"):
        warnings.append('SHOPLENS_APP_SECRET is set in this shell only: write {"app_secret": "..."} to '
                        f"{home / '.shoplens' / 'credentials.json'} (mode 0600) so scheduled runs can sync")
    return warnings
