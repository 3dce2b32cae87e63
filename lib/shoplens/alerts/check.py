"""`shoplens alerts check`: evaluate every rule, move each alert's state, send what is due, record it.

State lives in the warehouse (`alert_state`, `alert_events`, `alert_deliveries`; migration 13), written
under the sync lock into the working copy and published like a sync (no fact refresh). Per rule and
subject:
- the condition becomes true: a "fired" message;
- it stays true: a "repeat" message once `repeat` has passed since the last one (never with "never");
- it was true and is not any more: a "resolved" message;
- the figure cannot be judged now (data not synced yet, no figure): nothing changes.
Each message goes to each of the rule's channels as its own delivery. A delivery that fails is kept
"pending" with the next attempt after a growing pause (`BACKOFF`), retried by the next check that
comes after it, and given up after `MAX_ATTEMPTS`. Channels are sent to at the same time; one channel's
messages go in the order they were made.

Must never: send a message twice for one state change (a delivery is recorded as sent in the same
transaction as its attempt), or let a missing secret or a bad alerts.toml half-run a check.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from shoplens.aio import run_coroutine
from shoplens.alerts.channels import Sender, deliver_all, senders
from shoplens.alerts.conditions import Finding, evaluate
from shoplens.alerts.messages import Message, compose
from shoplens.alerts.rules import AlertConfig, alerts_path, load_config
from shoplens.config import warehouse_path
from shoplens.errors import AlertError
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import workspace_writer

#: pause before each retry of a failed delivery (the last one repeats until MAX_ATTEMPTS)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1),
           timedelta(hours=3), timedelta(hours=6), timedelta(hours=12))
MAX_ATTEMPTS = 8


@dataclass
class Delivery:
    event_id: str
    channel: str
    kind: str
    rule_id: str
    subject: str
    status: str
    attempts: int
    error: str | None = None


@dataclass
class CheckResult:
    """What a check found and did: every finding, the events it made (kind per rule and subject) and
    every delivery attempted."""

    findings: list[Finding] = field(default_factory=list)
    events: dict[tuple[str, str], str] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status != "sent"]


def check_alerts(home: Path, *, now: datetime | None = None, rule_ids: list[str] | None = None,
                 kinds: tuple[str, ...] | None = None, env: dict | None = None, dry_run: bool = False,
                 transport: httpx.AsyncBaseTransport | None = None) -> CheckResult:
    """Evaluate the workspace's rules (all, or `rule_ids`, or those of built-in `kinds`) at `now`, move
    their state, send what is due (new messages and retries) and publish. `dry_run` evaluates on the
    published warehouse and changes and sends nothing."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if dry_run:
        with Warehouse(warehouse_path(home), read_only=True) as warehouse:
            config = _config(home, warehouse)
            return CheckResult([f for rule in _selected(config, rule_ids, kinds)
                                for f in evaluate(rule, warehouse, now=now, home=home)])
    if not warehouse_path(home).exists():
        raise AlertError(f"no warehouse at {warehouse_path(home)}: run `shoplens sync` first")
    with workspace_writer(home, refresh_facts=False) as warehouse:
        config = _config(home, warehouse)
        rules = _selected(config, rule_ids, kinds)
        ready = senders({name: config.channels[name] for rule in rules for name in rule.channels}, home, env)
        result = CheckResult()
        for rule in rules:
            for finding in evaluate(rule, warehouse, now=now, home=home):
                result.findings.append(finding)
                kind = _transition(warehouse, finding, now)
                if kind:
                    result.events[(rule.id, finding.subject)] = kind
                    _record_event(warehouse, finding, kind, now, home, config, ready)
        result.deliveries = _deliver_due(warehouse, config, now, transport, env, home)
    return result


def _config(home: Path, warehouse: Warehouse) -> AlertConfig:
    known = {r[0] for r in warehouse.rows("SELECT shop_id FROM shops")}
    return load_config(alerts_path(home), known_shops=known)


def _selected(config: AlertConfig, rule_ids: list[str] | None, kinds: tuple[str, ...] | None):
    rules = [config.rule(r) for r in rule_ids] if rule_ids else list(config.rules)
    return [r for r in rules if kinds is None or r.kind in kinds]


def _transition(warehouse: Warehouse, finding: Finding, now: datetime) -> str | None:
    """Move the state of (rule, subject) for `finding`; the event kind to send, or None."""
    rule = finding.rule
    found = warehouse.rows("SELECT state, last_sent_at FROM alert_state WHERE rule_id = ? AND subject = ?",
                           [rule.id, finding.subject])
    state, last_sent = found[0] if found else (None, None)
    kind = None
    if finding.state == "firing" and state != "firing":
        kind = "fired"
    elif finding.state == "firing" and rule.repeat is not None and (last_sent is None or now - last_sent >= rule.repeat):
        kind = "repeat"
    elif finding.state == "ok" and state == "firing":
        kind = "resolved"
    with warehouse.transaction() as con:
        if finding.state == "unknown":
            if found:
                con.execute("UPDATE alert_state SET last_checked = ? WHERE rule_id = ? AND subject = ?",
                            [now, rule.id, finding.subject])
            return None
        since = now if state != finding.state else None
        con.execute("""
            INSERT INTO alert_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (rule_id, subject) DO UPDATE SET state = excluded.state,
                since = coalesce(?, since), last_checked = excluded.last_checked,
                last_sent_at = coalesce(excluded.last_sent_at, last_sent_at), value = excluded.value
        """, [rule.id, finding.subject, finding.shop_id, finding.state, now, now,
              now if kind in ("fired", "repeat") else None, finding.shown or None, since])
    return kind


def _record_event(warehouse: Warehouse, finding: Finding, kind: str, now: datetime, home: Path,
                  config: AlertConfig, ready: dict[str, Sender]) -> None:
    message = compose(finding, kind, home=home, reports_url=config.reports_url)
    event_id = uuid.uuid4().hex
    with warehouse.transaction() as con:
        con.execute("INSERT INTO alert_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [event_id, finding.rule.id, finding.subject, finding.shop_id, kind, now, message.lang,
                     json.dumps(message.to_json(), ensure_ascii=False)])
        for name in finding.rule.channels:
            con.execute("INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, 'pending', 0, NULL, ?, NULL)",
                        [event_id, name, config.channels[name].kind, ready[name].recipient(), now])


def _deliver_due(warehouse: Warehouse, config: AlertConfig, now: datetime,
                 transport: httpx.AsyncBaseTransport | None, env: dict | None, home: Path) -> list[Delivery]:
    """Send every pending delivery whose time has come (new ones and retries), oldest first per channel."""
    due = warehouse.rows("""
        SELECT d.event_id, d.channel, e.kind, e.rule_id, e.subject, d.attempts, e.message
        FROM alert_deliveries d JOIN alert_events e USING (event_id)
        WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY e.created_at, d.event_id, d.channel
    """, [now])
    gone = [row for row in due if row[1] not in config.channels]
    with warehouse.transaction() as con:
        for event_id, channel, *_ in gone:
            con.execute("UPDATE alert_deliveries SET status = 'gave_up', error = ? WHERE event_id = ? AND channel = ?",
                        [f"channel {channel!r} is no longer in alerts.toml", event_id, channel])
    due = [row for row in due if row[1] in config.channels]
    if not due:
        return []
    ready = senders({row[1]: config.channels[row[1]] for row in due}, home, env)
    jobs = [(ready[channel], Message.from_json(json.loads(message))) for _, channel, _, _, _, _, message in due]
    errors = run_coroutine(lambda: deliver_all(jobs, transport=transport))
    out = []
    with warehouse.transaction() as con:
        for (event_id, channel, kind, rule_id, subject, attempts, _), error in zip(due, errors):
            attempts += 1
            if error is None:
                status, retry = "sent", None
            elif attempts >= MAX_ATTEMPTS:
                status, retry = "gave_up", None
            else:
                status, retry = "pending", now + BACKOFF[min(attempts, len(BACKOFF)) - 1]
            con.execute("UPDATE alert_deliveries SET status = ?, attempts = ?, last_attempt_at = ?, "
                        "next_attempt_at = ?, error = ? WHERE event_id = ? AND channel = ?",
                        [status, attempts, now, retry, error, event_id, channel])
            out.append(Delivery(event_id, channel, kind, rule_id, subject, status, attempts, error))
    return out
