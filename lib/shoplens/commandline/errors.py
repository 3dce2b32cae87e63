"""Running the app so that no mistake a user can type ends in a traceback.

A `ShoplensError` becomes `error: <message>` and exit 1. A usage mistake (unknown command or option,
missing argument, bad option value) becomes `error: <message>` with the closest known names
(`shoplens.suggest`), one line naming the help to read, and exit 2. Typer raises its own vendored
`typer._click` exceptions (and `click` may be installed beside it), so both trees are handled here, and
`typer.Exit` codes are passed on (typer returns them instead of exiting when not standalone).
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from shoplens.errors import ShoplensError
from shoplens.suggest import unknown

err = Console(stderr=True)
_NO_SUCH_COMMAND = re.compile(r"^No such command '(?P<name>.*?)'\.")


def _click_classes(name: str) -> tuple[type, ...]:
    """`name` from typer's vendored click and, when installed, from click itself."""
    found = []
    try:
        from typer._click import exceptions as vendored

        found.append(getattr(vendored, name))
    except (ImportError, AttributeError):
        pass
    try:
        import click.exceptions

        found.append(getattr(click.exceptions, name))
    except (ImportError, AttributeError):
        pass
    return tuple(found)


CLICK_EXCEPTION = _click_classes("ClickException")
USAGE_ERROR = _click_classes("UsageError")
NO_SUCH_OPTION = _click_classes("NoSuchOption")
NO_ARGS_IS_HELP = _click_classes("NoArgsIsHelpError")
ABORT = (typer.Abort, *_click_classes("Abort"))
EXIT = (typer.Exit, *_click_classes("Exit"))


def say_error(message: str, hint: str | None = None) -> None:
    """`error: message` on stderr, literal (no markup read from it), and an optional hint line."""
    err.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        err.print(hint, markup=False, highlight=False, soft_wrap=True)


def command_path(root, args: list[str], prog: str = "shoplens") -> str:
    """The command `args` name, as far as it exists ("shoplens sync" for `sync --since`)."""
    path, command = [prog], root
    for arg in args:
        if arg.startswith("-") or not hasattr(command, "commands") or arg not in command.commands:
            break
        command = command.commands[arg]
        path.append(arg)
    return " ".join(path)


def usage_message(exc: Exception, path: str) -> tuple[str, str | None]:
    """A usage error's message, with did-you-mean for commands and options, and the help to read."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else path
    message = exc.format_message()
    match = _NO_SUCH_COMMAND.match(getattr(exc, "message", ""))
    if match and ctx is not None and hasattr(ctx.command, "list_commands"):
        commands = [n for n in ctx.command.list_commands(ctx) if not ctx.command.get_command(ctx, n).hidden]
        return unknown("command", match["name"], commands, listed_by=f"{path} --help"), None
    if isinstance(exc, NO_SUCH_OPTION) and ctx is not None:
        options = [o for p in ctx.command.get_params(ctx) for o in [*p.opts, *p.secondary_opts]
                   if o.startswith("-") and o != "--help"]
        return unknown("option", exc.option_name, options, listed_by=f"{path} --help",
                       none_known=f"`{path}` takes no options"), None
    return f"{path}: {message}", f"  see `{path} --help`"


def run(app: typer.Typer, args: list[str] | None = None) -> None:
    """Run `app` and exit with its code; mistakes end in one readable message, never a traceback."""
    args = sys.argv[1:] if args is None else list(args)
    try:
        code: Any = app(args=args, prog_name="shoplens", standalone_mode=False)
    except ShoplensError as exc:
        say_error(str(exc))
        sys.exit(1)
    except NO_ARGS_IS_HELP as exc:  # a group named alone: typer printed its help when raising this
        sys.exit(exc.exit_code)
    except USAGE_ERROR as exc:
        message, hint = usage_message(exc, command_path(typer.main.get_command(app), args))
        say_error(message, hint)
        sys.exit(exc.exit_code)
    except CLICK_EXCEPTION as exc:  # e.g. a file click could not open
        say_error(exc.format_message())
        sys.exit(exc.exit_code)
    except EXIT as exc:
        sys.exit(exc.exit_code)
    except ABORT:
        say_error("aborted")
        sys.exit(1)
    if isinstance(code, int) and not isinstance(code, bool):  # typer.Exit(code), --help: typer returns the code
        sys.exit(code)
