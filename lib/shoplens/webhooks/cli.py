"""`shoplens webhooks serve`: the TikTok webhook receiver and its worker, in the foreground."""

from __future__ import annotations

import typer
from rich.console import Console

from shoplens.config import load_settings

webhooks_app = typer.Typer(help="TikTok Shop webhooks: receive pushes, keep the warehouse minutes fresh.",
                           no_args_is_help=True)
console = Console()


def _say(line: str) -> None:  # literal and unwrapped
    console.print(line, markup=False, highlight=False, soft_wrap=True)


@webhooks_app.command("serve")
def webhooks_serve(host: str = typer.Option("127.0.0.1", help="Address to listen on (put an HTTPS proxy in "
                                                               "front: docs/webhooks.md)."),
                   port: int = typer.Option(8790, help="Port (0 picks a free one)."),
                   coalesce: float = typer.Option(2.0, help="Seconds to gather notifications into one sync."),
                   alerts: bool = typer.Option(False, "--alerts", help="Check every alert rule after each sync "
                                                                       "(authorization and listing rules are "
                                                                       "checked after their events anyway).")) -> None:
    """Receive TikTok's pushes at /webhooks/tiktok: verify, log durably, answer 200; then sync what changed."""
    from shoplens.errors import WebhookError
    from shoplens.webhooks.receiver import Receiver, log_dir, serve_forever
    from shoplens.webhooks.worker import Worker

    settings = load_settings()
    app_key, app_secret = settings.require_app()
    if not 0 <= coalesce <= 60:
        raise WebhookError(f"--coalesce {coalesce}: give seconds from 0 to 60")
    worker = Worker(settings, log_dir(settings.home), coalesce=coalesce, alerts=alerts, say=_say)
    receiver = Receiver(app_key, app_secret, log_dir(settings.home), on_logged=worker.wake)
    serve_forever(receiver, host, port, say=_say, started=worker.start, stopped=worker.stop)
