"""What happens to accepted notifications, off the request path, on the worker's own thread.

The worker reads the notification log from where it last stopped (`webhook_log_files` in the
warehouse), waits `coalesce` seconds after being woken so that a burst becomes one batch, and then:
- order, cancellation, return, package and address events: one targeted incremental sync of the
  shops and resources they touch (`shoplens.sync.run_sync` with shop and resource selection, under the
  sync lock), however many events each shop had: coalesced;
- product status and audit events: a targeted sync of the shop's products, which extends each product's
  status history (`product_status_history`) from what the API says, archived like every page, so a
  replay rebuilds it; the webhook's own status word is recorded with the notification, never trusted
  as the status;
- deauthorization: the shop's authorization record marked revoked; upcoming expiry: its expiry date
  (`shop_authorizations`), then the built-in alerts (`authorization`, `listing`) are checked;
- every notification, with what was done about it, into `webhook_notifications`, and the log offsets
  into `webhook_log_files`: in the same working copy and publish as the sync, so a crash anywhere
  means the batch is read again and converges (a notification already recorded is skipped).
A sync that finds the lock taken (a scheduled `shoplens sync`) is tried again a moment later.

Cost: each batch is a sync of the touched resources, then the facts its changes reach refreshed and its
log appended to the idle published replica (docs/sync.md; docs/performance.md, "webhooks").

Must never: run on the request path, or lose a notification it has not recorded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pandas as pd

from shoplens.config import Settings, warehouse_path
from shoplens.errors import ShoplensError, SyncError
from shoplens.journal import iter_chunks
from shoplens.warehouse import Warehouse
from shoplens.warehouse.reference import workspace_writer
from shoplens.warehouse.resident import ResidentWriter
from shoplens.webhooks.events import (DEAUTHORIZATION, PRODUCT_TYPES, SYNC_RESOURCES, UPCOMING_EXPIRY, Notification,
                                      parse)
from shoplens.webhooks.receiver import PREFIX, is_notification

log = logging.getLogger("shoplens.webhooks")
#: how often an idle worker looks for a writer waiting for the sync lock; how long it waits after stepping
#: aside (or failing to take the lock) before it takes the lock again
TEND_EVERY_S = 0.25
HOLD_AGAIN_S = 2.0


@dataclass
class Batch:
    """One pass of the worker: what it read, did and published."""

    notifications: int = 0
    recorded: int = 0
    shops: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    sync_errors: list[str] = field(default_factory=list)
    started: float = 0.0
    #: when the sync's API part was done, when the notifications were recorded (then the facts are
    #: refreshed and the warehouse copied), when it was published
    synced: float = 0.0
    recorded_at: float = 0.0
    published: float = 0.0


@dataclass
class _Plan:
    rows: list[list] = field(default_factory=list)
    shops: dict[str, set[str]] = field(default_factory=dict)
    revoked: list[tuple[str, str]] = field(default_factory=list)
    expiring: list[tuple[str, int]] = field(default_factory=list)
    alert_kinds: set[str] = field(default_factory=set)


class Worker:
    """Reads the notification log and acts on it; `start()`, `wake()` (after each logged notification),
    `stop()`. `authorizations` and `transport` are the sync's seams (tests and benches)."""

    def __init__(self, settings: Settings, directory: Path, *, coalesce: float = 2.0, alerts: bool = False,
                 authorizations=None, transport: httpx.AsyncBaseTransport | None = None,
                 client_options: dict | None = None, say: Callable[[str], None] = lambda line: None,
                 retry_pause: float = 1.0) -> None:
        self.settings, self.home, self.directory = settings, settings.home, Path(directory)
        self.coalesce, self.alerts, self.retry_pause = coalesce, alerts, retry_pause
        self._authorizations, self._transport, self._client_options = authorizations, transport, client_options
        self._say = say
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self.offsets: dict[str, int] = {}
        self.batches: list[Batch] = []
        self.idle = threading.Event()
        #: the working copy kept open between batches (docs/webhooks.md, "A writer that stays open")
        self.resident = ResidentWriter(self.home)
        self._hold_after = 0.0

    # --- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> Worker:
        self.offsets = self._saved_offsets()
        self._thread = threading.Thread(target=self._loop, name="shoplens-webhook-worker", daemon=True)
        self._thread.start()
        self.wake()  # whatever the log holds beyond the saved offsets (a crash, a restart)
        return self

    def wake(self) -> None:
        self.idle.clear()
        self._wake.set()

    def stop(self, timeout: float = 120) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _saved_offsets(self) -> dict[str, int]:
        if not warehouse_path(self.home).exists():
            return {}
        with Warehouse(warehouse_path(self.home), read_only=True) as warehouse:
            return dict(warehouse.rows("SELECT file, loaded_bytes FROM webhook_log_files"))

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self._tend()
                if not self._wake.wait(timeout=TEND_EVERY_S):
                    self.idle.set()
                    continue
                if self._stop.wait(self.coalesce):  # a burst within `coalesce` seconds becomes one batch
                    break
                self._wake.clear()
                self._tend()
                try:
                    self.run_once()
                except Exception as exc:  # keep serving; the batch is read again on the next wake
                    log.error("webhook batch failed: %s", exc)
                    self._say(f"batch failed ({type(exc).__name__}: {exc}); it is read again on the next "
                              "notification")
                    self._stop.wait(self.retry_pause)
                    self._wake.set()
                if not self._wake.is_set():
                    self.idle.set()
        finally:
            self.resident.release()

    def _tend(self) -> None:
        """Between batches: step aside for a writer that asked for the sync lock, or, when none waits, open
        the working copy again (its log replayed here, not in the next batch)."""
        try:
            if self.resident.step_aside_if_asked():
                self._say("stepped aside for another writer of the workspace")
                self._hold_after = time.monotonic() + HOLD_AGAIN_S
            elif not self.resident.held and time.monotonic() >= self._hold_after and not self.resident.asked():
                self._hold_after = time.monotonic() + HOLD_AGAIN_S
                self.resident.hold()
        except Exception as exc:  # keep serving: the next batch opens the working copy itself
            log.error("resident writer: %s", exc)

    # --- one batch ---------------------------------------------------------------------------------------
    def run_once(self) -> Batch | None:
        """Read what the log gained since the offsets, act on it and publish; None when there was nothing."""
        chunks = list(iter_chunks(self.directory, PREFIX, self.offsets, valid=is_notification))
        records = [r for chunk in chunks for r in chunk.records]
        offsets = dict(self.offsets) | {chunk.file: chunk.end for chunk in chunks}
        if not records and offsets == self.offsets:
            return None
        batch = Batch(notifications=len(records), started=time.time())
        plan = self._plan(records)
        batch.shops = sorted(plan.shops)
        batch.resources = sorted({r for resources in plan.shops.values() for r in resources})

        def record(warehouse: Warehouse, summary=None) -> None:
            batch.synced = time.time()
            errors = {} if summary is None else {(r.shop_id, r.resource): r.error for r in summary.results if r.error}
            batch.sync_errors = [f"shop {s} {r}: {e}" for (s, r), e in errors.items()]
            batch.recorded = self._record(warehouse, plan, offsets, errors)
            batch.recorded_at = time.time()

        while True:
            try:
                if plan.shops:
                    from shoplens.sync import SyncOptions, run_sync

                    resources = sorted({r for rs in plan.shops.values() for r in rs})
                    run_sync(self.settings, authorizations=self._authorizations, transport=self._transport,
                             client_options=self._client_options, before_publish=record,
                             options=SyncOptions(shops=sorted(plan.shops), resources=resources))
                else:
                    with workspace_writer(self.home, refresh_facts=False) as warehouse:
                        batch.started = time.time()  # no API part: the lock is taken
                        record(warehouse)
                break
            except SyncError as exc:
                if "another sync is running" not in str(exc) or self._stop.is_set():
                    raise
                time.sleep(self.retry_pause)  # a scheduled sync holds the lock: this batch goes after it
        batch.published = time.time()
        self.offsets = offsets
        self.batches.append(batch)
        self._say(f"{batch.notifications} notification(s): "
                  + (f"synced {', '.join(batch.resources)} of {len(batch.shops)} shop(s); " if batch.shops else "")
                  + f"published in {batch.published - batch.started:.1f} s (API {batch.synced - batch.started:.1f} s, "
                    f"record {batch.recorded_at - batch.synced:.1f} s, facts and publish "
                    f"{batch.published - batch.recorded_at:.1f} s)"
                  + (f"; sync errors: {'; '.join(batch.sync_errors)}" if batch.sync_errors else ""))
        self._check_alerts(plan)
        return batch

    def _plan(self, records: list[dict]) -> _Plan:
        plan = _Plan()
        known, revoked, done = set(), set(), set()
        if warehouse_path(self.home).exists():
            with Warehouse(warehouse_path(self.home), read_only=True) as warehouse:
                known = {r[0] for r in warehouse.rows("SELECT shop_id FROM shops")}
                revoked = {r[0] for r in warehouse.rows("SELECT shop_id FROM shop_authorizations WHERE revoked")}
                ids = [r["notification_id"] for r in records]
                done = {r[0] for r in warehouse.rows("SELECT notification_id FROM webhook_notifications WHERE "
                                                     "list_contains(?, notification_id)", [ids])}
        seen = set()
        for record in records:
            nid = record["notification_id"]
            if nid in done or nid in seen:
                continue
            seen.add(nid)
            try:
                n = parse(record["body"])
            except ValueError as exc:  # verified on arrival, so only a damaged line: recorded, never retried
                plan.rows.append([nid, -1, "UNREADABLE", None, None, record["received_at"], f"ignored: {exc}", "{}"])
                continue
            action = self._action(n, known, revoked, plan)
            plan.rows.append([n.id, n.type, n.event, n.shop_id,
                              datetime.fromtimestamp(n.timestamp, UTC) if n.timestamp else None,
                              record["received_at"], action, json.dumps(n.data, ensure_ascii=False)])
        return plan

    def _action(self, n: Notification, known: set, revoked: set, plan: _Plan) -> str:
        if n.type == DEAUTHORIZATION and n.shop_id:
            plan.revoked.append((n.shop_id, str(n.data.get("message") or "the seller deauthorized the app")))
            plan.alert_kinds.add("authorization")
            return "authorization revoked"
        if n.type == UPCOMING_EXPIRY and n.shop_id and isinstance(n.data.get("expiration_time"), int):
            plan.expiring.append((n.shop_id, n.data["expiration_time"]))
            plan.alert_kinds.add("authorization")
            return f"authorization expires {datetime.fromtimestamp(n.data['expiration_time'], UTC):%Y-%m-%d %H:%M} UTC"
        if n.type not in SYNC_RESOURCES and n.type not in PRODUCT_TYPES:
            return f"ignored: shoplens does not use {n.event}"
        if n.shop_id not in known:
            return f"ignored: shop {n.shop_id} is not synced in this workspace"
        if n.shop_id in revoked:
            return "ignored: the shop's authorization is revoked"
        if n.type in PRODUCT_TYPES:
            plan.alert_kinds.add("listing")
            product = str(n.data.get("product_id") or "")
            plan.shops.setdefault(n.shop_id, set()).add("products")
            return f"sync products (product {product})" if product else "sync products"
        resources = SYNC_RESOURCES[n.type]
        plan.shops.setdefault(n.shop_id, set()).update(resources)
        return f"sync {', '.join(resources)}"

    def _record(self, warehouse: Warehouse, plan: _Plan, offsets: dict[str, int], errors: dict) -> int:
        from shoplens.quality import record_revoked

        now = datetime.now(UTC)
        failed_shops = {shop for shop, _ in errors}
        frame = pd.DataFrame([[*row[:6], now, row[6] + (" (the sync failed; the next one reads it)"
                                                        if row[6].startswith("sync") and row[3] in failed_shops else ""),
                               row[7]] for row in plan.rows],
                             columns=["notification_id", "type", "event", "shop_id", "sent_at", "received_at",
                                      "processed_at", "action", "data"])
        with warehouse.transaction() as con:
            if len(frame):  # one statement for the batch: thousands of notifications in a burst
                con.register("batch_notifications", frame)
                try:
                    con.execute("INSERT INTO webhook_notifications SELECT notification_id, type, event, shop_id, "
                                "sent_at, CAST(received_at AS TIMESTAMPTZ), processed_at, action, data "
                                "FROM batch_notifications ON CONFLICT (notification_id) DO NOTHING")
                finally:
                    con.unregister("batch_notifications")
            for name, end in offsets.items():
                con.execute("INSERT OR REPLACE INTO webhook_log_files VALUES (?, ?, ?)", [name, end, now])
            for shop_id, reason in plan.revoked:
                record_revoked(warehouse, [shop_id], reason=f"TikTok: {reason}", now=now)
            for shop_id, expires in plan.expiring:
                con.execute("INSERT INTO shop_authorizations (shop_id, refresh_expires_at, updated_at) VALUES (?, ?, ?) "
                            "ON CONFLICT (shop_id) DO UPDATE SET refresh_expires_at = excluded.refresh_expires_at, "
                            "updated_at = excluded.updated_at", [shop_id, datetime.fromtimestamp(expires, UTC), now])
        return len(plan.rows)

    def _check_alerts(self, plan: _Plan) -> None:
        from shoplens.alerts.rules import alerts_path

        kinds = set(plan.alert_kinds)
        if self.alerts and plan.shops:
            kinds = None  # every rule: the synced figures moved
        if kinds is not None and not kinds or not alerts_path(self.home).exists():
            return
        from shoplens.alerts.check import check_alerts

        try:
            result = check_alerts(self.home, kinds=None if kinds is None else tuple(kinds))
        except ShoplensError as exc:
            self._say(f"alerts not checked: {exc}")
            return
        for (rule, subject), kind in result.events.items():
            self._say(f"alert {rule} {subject}: {kind}")


