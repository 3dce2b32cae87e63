"""`shoplens alerts ...`: check, list, history. Errors are AlertError/ShoplensError, which the main
command turns into one line and exit code 1. Platform text (shop names) is printed literally, never
as rich markup."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shoplens.config import load_settings, warehouse_path
from shoplens.errors import AlertError

alerts_app = typer.Typer(help="Alert rules (alerts.toml): check them, their state, what was sent.",
                         no_args_is_help=True)
console = Console()


def _say(line: str, style: str | None = None) -> None:
    console.print(Text(line, style=style or ""), soft_wrap=True)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AlertError(f"--now {value!r} is not a time: use e.g. 2026-11-16T09:00 (UTC unless it has an offset)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _table(columns: list[str], rows: list[list[str]], as_csv: bool, *, shown: list[str] | None = None) -> None:
    """CSV of every column, or a table of the `shown` ones (default all) that fits a terminal."""
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return
    keep = [columns.index(c) for c in shown or columns]
    table = Table(*(columns[i] for i in keep), caption="times in UTC" if {"since", "made"} & set(columns) else None)
    for row in rows:
        table.add_row(*(Text(row[i]) for i in keep))
    console.print(table, crop=False)


def run_check(home: Path, *, now: datetime | None = None, rule_ids: list[str] | None = None,
              dry_run: bool = False) -> None:
    """Check the alerts and say what happened (also what `shoplens sync --alerts` runs after a sync)."""
    from shoplens.alerts.check import check_alerts

    result = check_alerts(home, now=now, rule_ids=rule_ids or None, dry_run=dry_run)
    if not result.findings and not result.deliveries and not _has_rules(home):
        _say(f"no alerts checked: {home / 'alerts.toml'} has no [[rule]] yet (docs/alerts.md shows how)")
        return
    rows, unknown = [], []
    for f in result.findings:
        who = f.shop_name or f.subject
        if "owner" in f.facts:
            who = f"{who} / {f.facts['owner']}"
        event = result.events.get((f.rule.id, f.subject), "")
        rows.append([f.rule.id, who, f.state, f.shown or "–", f.limit_shown or "–", event])
        if f.reason:
            unknown.append(f"{f.rule.id} · {who}: {f.reason}")
    _table(["rule", "shop", "state", "figure", "threshold", "message" if not dry_run else "message (dry run: none)"],
           rows, False)
    for line in unknown:
        _say(f"unknown: {line}", "dim")
    for d in result.deliveries:
        if d.status == "sent":
            _say(f"sent {d.kind} {d.rule_id} {d.subject} to {d.channel}")
        else:
            retry = "gave up" if d.status == "gave_up" else f"will retry (attempt {d.attempts})"
            _say(f"not delivered: {d.kind} {d.rule_id} {d.subject} to {d.channel}: {d.error}; {retry}", "yellow")
    firing = sum(f.state == "firing" for f in result.findings)
    _say(f"{len(result.findings)} checked, {firing} firing, {len(result.events)} message(s) made, "
         f"{sum(d.status == 'sent' for d in result.deliveries)} delivered, {len(result.failed)} not delivered")


def _has_rules(home: Path) -> bool:
    from shoplens.alerts.rules import alerts_path, load_config

    return bool(load_config(alerts_path(home)).rules)


@alerts_app.command("check")
def alerts_check(rule: list[str] = typer.Option(None, help="Only these rule ids (repeatable)."),
                 now: str = typer.Option(None, help="Evaluate as at this time, e.g. 2026-11-16T09:00 (UTC): "
                                                    "to try rules on past data."),
                 dry_run: bool = typer.Option(False, "--dry-run", help="Evaluate only: change no state, send "
                                                                       "nothing.")) -> None:
    """Evaluate every rule of alerts.toml; send what fired, repeats and resolved; retry failed deliveries."""
    run_check(load_settings().home, now=_parse_now(now), rule_ids=rule, dry_run=dry_run)


def _condition(rule) -> str:
    if rule.kind in ("threshold", "change"):
        return f"{rule.metric} {rule.direction} {rule.limit:g}"
    if rule.kind == "anomaly":
        return f"{rule.metric} anomaly"
    if rule.kind == "target":
        return f"{rule.metric} target_below {rule.limit:g}"
    unit = {"sync_stale": " h", "authorization": " d"}.get(rule.kind, "")
    return f"{rule.kind} {rule.limit:g}{unit}"


@alerts_app.command("list")
def alerts_list(as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table.")) -> None:
    """The rules of alerts.toml and each one's state per shop: firing or ok, since when, the last message."""
    from shoplens.alerts.rules import alerts_path, load_config
    from shoplens.warehouse import Warehouse

    home = load_settings().home
    config = load_config(alerts_path(home))
    if not config.rules:
        _say(f"{alerts_path(home)} has no [[rule]] yet: docs/alerts.md shows how to add one")
        return
    states: dict[str, list[tuple]] = {}
    names: dict[str, str] = {}
    if warehouse_path(home).exists():
        with Warehouse(warehouse_path(home), read_only=True) as warehouse:
            for row in warehouse.rows("SELECT rule_id, subject, shop_id, state, since, last_sent_at, value "
                                      "FROM alert_state ORDER BY rule_id, subject"):
                states.setdefault(row[0], []).append(row[1:])
            names = dict(warehouse.rows("SELECT shop_id, name FROM shops"))
    rows = []
    for rule in config.rules:
        common = [rule.id, _condition(rule), rule.window if rule.kind in ("threshold", "change", "anomaly", "target")
                  else "", ", ".join(rule.channels), rule.language]
        for subject, shop_id, state, since, sent, value in states.get(rule.id, []) or [(None,) * 6]:
            if subject is None:
                rows.append(common + ["", "", "not checked yet", "", "", ""])
                continue
            shop = names.get(shop_id, shop_id or "")
            rows.append(common + [shop + (f" / {subject.split('/', 1)[1]}" if "/" in subject else ""), subject,
                                  state, _when(since), _when(sent), value or ""])
    _table(["rule", "condition", "window", "channels", "lang", "shop", "subject", "state", "since", "last message",
            "figure"], rows, as_csv, shown=["rule", "condition", "window", "shop", "state", "since", "figure"])
    if not as_csv:
        for rule in config.rules:
            _say(f"{rule.id}: tells {', '.join(rule.channels)} in {rule.language}", "dim")


def _when(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value is not None else ""


@alerts_app.command("history")
def alerts_history(rule: str = typer.Option(None, help="Only this rule id."),
                   shop: str = typer.Option(None, help="Only this shop id."),
                   limit: int = typer.Option(50, help="The latest this many deliveries."),
                   as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table.")) -> None:
    """What was sent, when, to whom, and whether it was delivered (attempts, the last error, the next retry)."""
    from shoplens.warehouse import Warehouse

    home = load_settings().home
    if limit < 1:
        raise AlertError(f"--limit {limit}: give a number of at least 1")
    with Warehouse(warehouse_path(home), read_only=True) as warehouse:
        rows = warehouse.rows("""
            SELECT e.created_at, e.rule_id, coalesce(s.name, e.shop_id), e.subject, e.kind, d.channel, d.recipient,
                   d.status, d.attempts, d.last_attempt_at, d.next_attempt_at, d.error
            FROM alert_events e JOIN alert_deliveries d USING (event_id) LEFT JOIN shops s ON s.shop_id = e.shop_id
            WHERE ($1 IS NULL OR e.rule_id = $1) AND ($2 IS NULL OR e.shop_id = $2)
            ORDER BY e.created_at DESC, e.rule_id, e.subject, d.channel LIMIT $3
        """, [rule, shop, limit])
    table = [[_when(made), rule_id, name or "", subject, kind, channel, recipient, status, str(attempts),
              _when(last), _when(retry), error or ""]
             for made, rule_id, name, subject, kind, channel, recipient, status, attempts, last, retry, error in rows]
    _table(["made", "rule", "shop", "subject", "message", "channel", "to", "delivery", "attempts", "last attempt",
            "next retry", "error"], table, as_csv,
           shown=["made", "rule", "shop", "message", "channel", "to", "delivery", "attempts"])
    if not as_csv:
        for row in table:
            if row[11]:
                _say(f"{row[0]} {row[1]} to {row[5]}: {row[11]}"
                     + (f"; next retry {row[10]}" if row[10] else "; given up"), "yellow")
