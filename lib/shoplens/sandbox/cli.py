"""`shoplens sandbox serve`: the local API emulator in the foreground (mounted by shoplens.cli).

Mistakes raise ShoplensError, which the main command turns into one line and exit code 1. Like the rest
of the sandbox, it must never import sync, warehouse or reports.
"""

from __future__ import annotations

import os
import secrets

import typer
from rich.console import Console

from shoplens.errors import ShoplensError

sandbox_app = typer.Typer(help="The local TikTok Shop API emulator.", no_args_is_help=True)
console = Console()

@sandbox_app.command("serve")
def sandbox_serve(host: str = typer.Option("127.0.0.1", help="Address to listen on."),
                  port: int = typer.Option(8765, help="Port (0 picks a free one)."),
                  seed: int = typer.Option(42, help="Same seed, same business."),
                  shops: int = typer.Option(3, help="Number of shops (regions TH, GB, US, VN, MY, PH, ID, SG)."),
                  orders_per_day: int = typer.Option(30, help="Average orders per shop per day."),
                  hostile: bool = typer.Option(False, help="Put HTML/JS payloads, RTL marks and emoji into "
                                                           "product titles and creator names."),
                  faults: str = typer.Option("", help="Fault rates, e.g. 429:0.05,5xx:0.02,slow:0.01,drop:0.01,"
                                                      "malformed:0.01,expire:0.001,revoke:0.0001"),
                  fault_seed: int = typer.Option(0, help="Seed for the fault rates."),
                  token_ttl: int = typer.Option(7 * 86_400, help="Access-token lifetime in seconds."),
                  qps: float = typer.Option(50.0, help="Requests per second per shop and endpoint before 429."),
                  clock_skew: float = typer.Option(0.0, help="Seconds the sandbox's clock runs ahead of this "
                                                             "machine's (negative: behind); shows in its Date header "
                                                             "and in the timestamps it accepts."),
                  business_now: str = typer.Option(None, help="The business clock, e.g. 2026-11-16T00:00 (UTC); "
                                                              "default: two days after the last business day.")) -> None:
    """Serve the sandbox API in the foreground (Ctrl-C stops it)."""
    from shoplens.sandbox import SANDBOX_APP_KEY, Faults, make_sandbox
    from shoplens.sandbox.server import serve_forever

    try:
        fault_plan = Faults.parse(faults, seed=fault_seed)
    except ValueError as exc:
        raise ShoplensError(f"--faults: {exc}") from None
    secret = os.environ.get("SHOPLENS_APP_SECRET") or secrets.token_hex(16)
    sandbox = make_sandbox(seed, shops, orders_per_day=orders_per_day, app_secret=secret, hostile=hostile,
                           faults=fault_plan, token_ttl=token_ttl, qps=qps, clock_skew=clock_skew)
    if business_now:
        from datetime import UTC, datetime

        try:
            clock = int(datetime.fromisoformat(business_now).replace(tzinfo=UTC).timestamp())
        except ValueError:
            raise ShoplensError(f"--business-now {business_now!r} is not a time: use e.g. 2026-11-16T00:00") from None
        sandbox.business_now = lambda: clock
    url = f"http://{host}:{port}"

    def say(line: str) -> None:  # unwrapped and literal: these lines are for copying
        console.print(line, soft_wrap=True, markup=False, highlight=False)

    say(f"sandbox: {shops} shops, seed {seed}, on {url}")
    say(f"  export SHOPLENS_API_URL={url} SHOPLENS_AUTH_URL={url} SHOPLENS_CONSENT_URL={url}/open/authorize "
        f"SHOPLENS_APP_KEY={SANDBOX_APP_KEY} SHOPLENS_SERVICE_ID=sandbox")
    if "SHOPLENS_APP_SECRET" not in os.environ:
        say("  the app secret was generated for this run; set SHOPLENS_APP_SECRET before starting the sandbox "
            "to choose it")
    say(f"  consent: the sandbox approves at once and redirects to {sandbox.redirect_uri}?code=CODE; e.g.")
    say('    shoplens auth exchange --code "$(curl -s -o /dev/null -w \'%{redirect_url}\' "$(shoplens auth url)" '
        "| sed 's/.*code=\\([^&]*\\).*/\\1/')\"")
    serve_forever(sandbox, host, port)
