"""`shoplens schedule`: crontab lines and systemd units that parse, run the right commands in the right
zone, install into and come out of a crontab file or unit folder of the test's own (never the machine's),
and the batch's overlap guard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from shoplens.workspace import cron
from shoplens.workspace.schedule import make_plan, parse_weekly

from test_cli_guidance import invoke

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
BEFORE = "MAILTO=ops@example.com\n# nightly backup\n30 2 * * * /usr/local/bin/backup --all\n"


@pytest.fixture
def home(tmp_path, monkeypatch):
    workspace = tmp_path / "team ws"  # a space: the lines must quote paths
    workspace.mkdir()
    for name in [n for n in os.environ if n.startswith("SHOPLENS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SHOPLENS_HOME", str(workspace))
    return workspace


@pytest.fixture
def machine_zone(monkeypatch):
    """Run as if this machine's clock were in `zone` (cron reads the machine's zone)."""
    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def entries(text: str) -> list[tuple[str, str]]:
    """(time fields, command) of every cron line that is not a comment or a variable."""
    found = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]:
            parts = line.split(None, 5)
            found.append((" ".join(parts[:5]), parts[5]))
    return found


@pytest.mark.parametrize("zone, expected", [("UTC", "0 23 * * 0"), ("Asia/Shanghai", "0 7 * * 1"),
                                            ("Europe/London", "0 23 * * 0")])
def test_crontab_lines_parse_and_fire_in_the_reporting_zone(home, capsys, machine_zone, zone, expected):
    machine_zone(zone)
    code, out, err = invoke(["schedule"], capsys)
    assert code == 0, err
    (sync_when, sync_cmd), (batch_when, batch_cmd) = entries(out)
    assert croniter.is_valid(sync_when) and croniter.is_valid(batch_when)
    start = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    hours = croniter(sync_when, start).all_next(datetime)
    assert [next(hours).minute for _ in range(3)] == [5, 5, 5]
    assert batch_when == expected if zone != "Europe/London" else batch_when in (expected, "0 22 * * 0")
    fired = croniter(batch_when, start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)).get_next(datetime)
    in_reporting_zone = fired.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (in_reporting_zone.weekday(), in_reporting_zone.hour, in_reporting_zone.minute) == (0, 7, 0)
    assert sync_cmd.endswith(f"{SHOPLENS} sync --alerts; }} >> '{home}/logs/sync.log' 2>&1")
    assert f"{SHOPLENS} reports run --lang en --lang zh;" in batch_cmd and f"cd '{home}'" in batch_cmd
    assert "install it: shoplens schedule --install" in err


def test_a_cron_line_runs_as_written(home):
    plan = make_plan(home, weekly=parse_weekly("Mon 07:00", "Asia/Shanghai"))
    (home / "logs").mkdir()
    line = cron.command_line(plan, plan.jobs[0]).replace("\\%", "%")
    done = subprocess.run(["/bin/sh", "-c", line], env={"PATH": "/usr/bin:/bin", "HOME": str(home)}, timeout=120)
    assert done.returncode == 1  # no app key yet: the sync says so, into the log
    log = (home / "logs" / "sync.log").read_text()
    assert "UTC" in log.splitlines()[0] and "error: no app key: set SHOPLENS_APP_KEY" in log


def test_install_and_remove_restore_the_previous_crontab(home, capsys, tmp_path):
    crontab = tmp_path / "crontab"
    crontab.write_text(BEFORE)
    code, out, _ = invoke(["schedule", "--install", "--crontab-file", str(crontab)], capsys)
    assert code == 0 and "installed in" in out and (home / "logs").is_dir()
    installed = crontab.read_text()
    assert installed.startswith(BEFORE) and len(entries(installed)) == 3
    assert invoke(["schedule", "--install", "--crontab-file", str(crontab), "--weekly", "Tue 08:30"], capsys)[0] == 0
    again = crontab.read_text()
    assert again.count("# >>> shoplens schedule") == 1 and "Tue 08:30 Asia/Shanghai" in again
    crontab.write_text(again + "15 4 * * * /usr/bin/later-job\n")  # the user adds a line after ours
    code, out, _ = invoke(["schedule", "--remove", "--crontab-file", str(crontab)], capsys)
    assert code == 0 and "removed the schedule" in out
    assert crontab.read_text() == BEFORE + "15 4 * * * /usr/bin/later-job\n"
    crontab.write_text(BEFORE)
    invoke(["schedule", "--install", "--crontab-file", str(crontab)], capsys)
    invoke(["schedule", "--remove", "--crontab-file", str(crontab)], capsys)
    assert crontab.read_text() == BEFORE
    code, out, _ = invoke(["schedule", "--remove", "--crontab-file", str(crontab)], capsys)
    assert code == 0 and "has no schedule for" in out


def test_two_workspaces_share_a_crontab(home, tmp_path, capsys, monkeypatch):
    crontab = tmp_path / "crontab"
    other = tmp_path / "other"
    other.mkdir()
    invoke(["schedule", "--install", "--crontab-file", str(crontab)], capsys)
    monkeypatch.setenv("SHOPLENS_HOME", str(other))
    invoke(["schedule", "--install", "--crontab-file", str(crontab)], capsys)
    assert len(entries(crontab.read_text())) == 4
    invoke(["schedule", "--remove", "--crontab-file", str(crontab)], capsys)
    text = crontab.read_text()
    assert len(entries(text)) == 2 and str(other) not in text and str(home) in text


def test_systemd_units_verify_and_run_in_the_reporting_zone(home, tmp_path, capsys):
    units = tmp_path / "units"
    code, out, err = invoke(["schedule", "--systemd", "--install", "--unit-dir", str(units)], capsys)
    assert code == 0, err
    assert "not enabled" in out
    files = sorted(units.iterdir())
    assert [p.suffix for p in files] == [".service", ".timer", ".service", ".timer"]
    texts = {p.name: p.read_text() for p in files}
    timer = next(t for n, t in texts.items() if n.endswith("reports.timer"))
    assert "OnCalendar=Mon *-*-* 07:00:00 Asia/Shanghai" in timer and "Persistent=true" in timer
    service = next(t for n, t in texts.items() if n.endswith("reports.service"))
    assert f"ExecStart={SHOPLENS} reports run --lang en --lang zh" in service
    assert f"WorkingDirectory={home}\n" in service and f"StandardOutput=append:{home}/logs/reports.log\n" in service
    analyze = shutil.which("systemd-analyze")
    if analyze:
        done = subprocess.run([analyze, "verify", *map(str, files)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        calendar = subprocess.run([analyze, "calendar", "--iterations=2", "Mon *-*-* 07:00:00 Asia/Shanghai"],
                                  capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, timeout=60)
        assert "23:00:00 UTC" in calendar.stdout
    code, out, _ = invoke(["schedule", "--systemd", "--remove", "--unit-dir", str(units)], capsys)
    assert code == 0 and "removed 4 unit(s)" in out and not list(units.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--install", "--remove"], "give --install or --remove, not both"),
    (["--timezone", "Asia/Shangai"], "unknown time zone 'Asia/Shangai': did you mean Asia/Shanghai"),
    (["--weekly", "Monday at 7"], "--weekly 'Monday at 7': write a weekday and a 24-hour time"),
    (["--lang", "fr"], "unknown language 'fr'"),
])
def test_schedule_mistakes(home, capsys, args, message):
    code, _, err = invoke(["schedule", *args], capsys)
    assert code == 1 and message in err, err


def test_settings_only_in_this_shell_are_named(home, capsys, monkeypatch):
    monkeypatch.setenv("SHOPLENS_APP_KEY", "k")
    monkeypatch.setenv("SHOPLENS_APP_SECRET", "s3cret-value")
    code, out, err = invoke(["schedule"], capsys)
    assert code == 0 and "SHOPLENS_APP_KEY is set in this shell only" in err
    assert "SHOPLENS_APP_SECRET is set in this shell only" in err and "s3cret-value" not in out + err


def test_a_second_report_batch_waits_for_none(synced, capsys, monkeypatch):
    from shoplens.locks import batch_lock

    home, _ = synced
    monkeypatch.setenv("SHOPLENS_HOME", str(home))
    with batch_lock(home):
        code, _, err = invoke(["reports", "run", "--week", "2026-W46", "--report", "shop_report"], capsys)
    assert code == 1 and "another report batch is running in this workspace (pid" in err
    assert not (home / "reports" / "index.html").exists()
