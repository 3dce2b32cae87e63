"""A CLI that guides: every command and sub-command, found by walking the app (so commands added later
are covered too), answers a typo, a missing argument and a bad option value with one `error:` line and
exit 2, never a traceback; help groups commands in the order a user meets them; unknown names get the
closest known ones."""

from __future__ import annotations

import os
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
import typer

from shoplens.cli import app
from shoplens.commandline import PANELS
from shoplens.commandline.help import ORDER
from shoplens.commandline.errors import run
from shoplens.suggest import closest, unknown

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
ROOT = typer.main.get_command(app)


def walk(group, path=()):
    """(path, command) for every command and group under `group`, found in the app itself."""
    for name in group.list_commands(None):
        command = group.commands[name]
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from walk(command, (*path, name))


COMMANDS = list(walk(ROOT))
IDS = [" ".join(path) for path, _ in COMMANDS]


def invoke(args, capsys) -> tuple[int, str, str]:
    """`shoplens ARGS` in this process (as main() runs it): exit code, stdout, stderr."""
    try:
        run(app, list(args))
        code = 0
    except SystemExit as stopped:
        code = stopped.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_guided(code, err, *named):
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: "), err
    assert len(err.strip().splitlines()) <= 2, err
    for text in named:
        assert text in err, (text, err)


def options(command):
    return [p for p in command.params if p.param_type_name == "option" and p.name != "help"]


def takes_value(option) -> bool:
    return not option.is_flag and not getattr(option, "count", False)


def typed(option) -> bool:
    """An option whose value the parser itself checks (a number, a choice...), not free text."""
    annotation = option.type_descriptor.annotation
    if typing.get_origin(annotation) in (list, tuple, typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return takes_value(option) and annotation not in (str, Path, bool)


def required_args(command) -> list[str]:
    """Stand-in values for every required parameter, so only the planted mistake can fail."""
    args = []
    for param in command.params:
        if param.required and param.param_type_name == "argument":
            args.append("x")
        elif param.required:
            args += [param.opts[0], "x"]
    return args


def test_the_walk_finds_every_area():
    assert len(COMMANDS) >= 25
    for expected in ("demo", "sync status", "metrics query", "links serve", "reports run", "sandbox serve"):
        assert expected in IDS


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_a_typo_in_the_command_name_suggests_it(path, command, capsys):
    typo = path[-1] + path[-1][-1]
    code, _, err = invoke([*path[:-1], typo], capsys)
    assert_guided(code, err, f"unknown command '{typo}'", f"did you mean {path[-1]}")


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_a_missing_argument_is_named(path, command, capsys):
    required = [p for p in command.params if p.required]
    valued = [o for o in options(command) if takes_value(o)]
    if hasattr(command, "commands") and not getattr(command, "invoke_without_command", False):
        pytest.skip("a group alone shows its help")
    if required:
        code, _, err = invoke(path, capsys)
        assert_guided(code, err, "Missing", " ".join(["shoplens", *path]))
    elif valued:
        code, _, err = invoke([*path, valued[-1].opts[0]], capsys)
        assert_guided(code, err, f"Option '{valued[-1].opts[0]}' requires an argument")
    elif any(p.param_type_name == "argument" for p in command.params):
        pytest.skip("nothing can be missing: its only argument is optional")
    else:
        code, _, err = invoke([*path, "surplus"], capsys)
        assert_guided(code, err, "unexpected extra argument")


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_a_bad_option_value_or_a_mistyped_option_is_named(path, command, capsys):
    checked = [o for o in options(command) if typed(o)]
    if checked:
        option = checked[0]
        code, _, err = invoke([*path, *required_args(command), option.opts[0], "not-a-value"], capsys)
        assert_guided(code, err, f"Invalid value for '{option.opts[0]}'")
        return
    if options(command):
        real = options(command)[0].opts[0]
        code, _, err = invoke([*path, real + "x"], capsys)
        assert_guided(code, err, f"unknown option '{real}x'", f"did you mean {real}")
    else:
        code, _, err = invoke([*path, "--nosuch"], capsys)
        assert_guided(code, err, "unknown option '--nosuch'", "takes no options")


def test_help_groups_commands_in_the_order_a_user_meets_them(capsys):
    code, out, _ = invoke(["--help"], capsys)
    assert code == 0
    panels = [p for p in PANELS if f"─ {p} ─" in out]
    assert panels == list(PANELS)
    positions = [out.index(f"─ {p} ─") for p in PANELS]
    assert positions == sorted(positions)
    names = [line.split()[1] for line in out.splitlines() if line.startswith("│ ") and line[2] != " "
             and not line.split()[1].startswith("-")]
    assert names == ROOT.list_commands(None)
    ordered = [n for n in names if n in ORDER]
    assert ordered == sorted(ordered, key=ORDER.index) and len(ordered) >= 13
    for name, command in ROOT.commands.items():
        assert command.rich_help_panel in PANELS, f"give `{name}` a help panel (shoplens.commandline.Panel)"


@pytest.mark.parametrize("name, known, expected", [
    ("gmvv", ["gmv", "net_gmv", "orders"], "unknown metric 'gmvv': did you mean gmv"),
    ("GMV", ["gmv", "orders"], "did you mean gmv?"),
    ("planet", ["shop", "day"], "unknown metric 'planet'; known metrics: shop, day"),
    ("zzz", [f"m{i}" for i in range(40)], "`shoplens metrics list` lists all 40"),
])
def test_unknown_names_get_the_closest_known_ones(name, known, expected):
    assert expected in unknown("metric", name, known, listed_by="shoplens metrics list")


def test_several_unknown_names_and_none_known():
    message = unknown("shop id", ["7494000000000042011", "nope"], ["7494000000000042001", "7494000000000042002"])
    assert message.startswith("unknown shop ids '7494000000000042011', 'nope'")
    assert "did you mean 7494000000000042001" in message and "for '7494000000000042011'" in message
    assert unknown("shop id", "x", [], none_known="run `shoplens sync` first").endswith("run `shoplens sync` first")
    assert closest("snyc", ["sync", "shops"]) == ["sync"]


def clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    return env | {"SHOPLENS_HOME": str(home)}


@pytest.mark.parametrize("args, expected", [
    (["nosuchcmd"], "unknown command 'nosuchcmd'"),
    (["metrics", "qurey"], "did you mean query?"),
    (["metrics", "query", "gmvv"], "unknown metric 'gmvv': did you mean gmv"),
])
def test_the_console_script_never_prints_a_traceback(tmp_path, args, expected):
    done = subprocess.run([SHOPLENS, *args], capture_output=True, text=True, env=clean_env(tmp_path), timeout=120)
    assert done.returncode in (1, 2) and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2


TABLE_COMMANDS = ["auth status", "shops", "sync status", "metrics list", "metrics query", "links list", "import",
                  "reconcile"]


@pytest.mark.parametrize("name", TABLE_COMMANDS)
def test_every_table_command_prints_csv_or_json_for_scripts(name):
    command = dict(zip(IDS, (c for _, c in COMMANDS)))[name]
    formats = [p for p in command.params if "--format" in p.opts]
    assert formats, f"`shoplens {name}` prints a table: give it `output: OutputFormat = Output.table`"
    assert [o.value for o in formats[0].type_descriptor.annotation] == ["table", "csv", "json"]


def test_metrics_list_as_json_csv_and_table(tmp_path, capsys, monkeypatch):
    import csv
    import io
    import json

    from shoplens.metrics import default_catalogue

    monkeypatch.setenv("SHOPLENS_HOME", str(tmp_path))
    code, out, _ = invoke(["metrics", "list", "--format", "json"], capsys)
    listed = json.loads(out)
    assert code == 0 and [m["id"] for m in listed] == [m.id for m in default_catalogue().metrics]
    assert "shop" in listed[0]["dimensions"] and isinstance(listed[0]["dimensions"], list)
    code, out, _ = invoke(["metrics", "list", "--format", "CSV", "--lang", "zh"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and rows[0]["label"] == default_catalogue().get(rows[0]["id"]).label["zh"]
    code, _, err = invoke(["metrics", "list", "--format", "xml"], capsys)
    assert_guided(code, err, "Invalid value for '--format'", "xml")
    code, _, err = invoke(["metrics", "list", "--lang", "fr"], capsys)
    assert code == 1 and "unknown language 'fr'" in err


def test_sync_status_and_metrics_query_as_json(synced, capsys, monkeypatch):
    import json

    home, sandbox = synced
    monkeypatch.setenv("SHOPLENS_HOME", str(home))
    code, out, _ = invoke(["sync", "status", "--format", "json"], capsys)
    status = json.loads(out)
    assert code == 0 and {r["resource"] for r in status} >= {"orders", "products"}
    assert all(r["last_ok"] and r["rows"] >= 0 for r in status)
    code, out, _ = invoke(["metrics", "query", "gmv,orders", "--by", "shop", "--since", "2026-11-09",
                           "--until", "2026-11-15", "--format", "json"], capsys)
    rows = json.loads(out)
    assert code == 0 and sorted(r["shop"] for r in rows) == sorted(s.id for s in sandbox.business.shops)
    assert all(isinstance(r["gmv"], (int, float)) and isinstance(r["orders"], int) for r in rows)
