"""`shoplens --help` in the order a user meets the commands: start, data, reports, metrics, links, alerts,
admin.

A top-level command or sub-app names its panel (`rich_help_panel=Panel.DATA`); `PanelOrderedGroup` lists
commands panel by panel, in `PANELS` order, and within a panel in `ORDER`, then in the order they were
added (typer adds plain commands before sub-apps), so a command added later lands in its panel wherever
it is registered. A command without a panel would show
first under "Commands": tests/test_cli_guidance.py refuses that.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup


class Panel:
    START = "Start"
    DATA = "Data"
    REPORTS = "Reports"
    METRICS = "Metrics"
    LINKS = "Links"
    ALERTS = "Alerts"
    ADMIN = "Admin"


PANELS = (Panel.START, Panel.DATA, Panel.REPORTS, Panel.METRICS, Panel.LINKS, Panel.ALERTS, Panel.ADMIN)
#: within a panel, these first, in this order (the order of issue #19)
ORDER = ("init", "demo", "doctor", "auth", "shops", "sync", "import", "reconcile", "reports", "render", "metrics",
         "links", "alerts", "webhooks", "schedule", "fx", "costs", "sandbox")


class PanelOrderedGroup(TyperGroup):
    """The root group: commands listed panel by panel (help, completion, did-you-mean)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = super().list_commands(ctx)

        def rank(name: str) -> tuple[int, int]:
            panel = getattr(self.commands[name], "rich_help_panel", None)
            return (PANELS.index(panel) if panel in PANELS else -1,
                    ORDER.index(name) if name in ORDER else len(ORDER))

        return sorted(names, key=rank)  # stable: registration order for the rest
