"""The sandbox pushes TikTok-style webhooks as its business clock moves, signed like TikTok's, so the
whole webhook path runs locally.

`WebhookPusher(sandbox, address)`:
- `notifications_between(t0, t1)`: the pushes for what changed in (t0, t1] of business time: an order
  status change (type 1) for each step of an order's life, a cancellation (11) when it is cancelled, a
  return status change (12) for each step of a return. A change is pushed when the API shows it: an
  order is only visible 1-2 hours after it was placed, so what happened before is pushed then, once,
  with the state at that moment.
- `advance(to)`: move the business clock to `to` and push everything in between; `push_at(rate)` the
  same paced in real time (the bench).
- `deauthorize(shop_id)` (revokes every token, pushes type 6), `announce_expiry(shop_id, when)` (type
  7) and `set_product_status(shop_id, product_id, status)` (the API then shows that status; type 5).

The signature is computed here with `hmac` directly (the receiver's own `webhooks.events.signature` is
not used), so each side checks the other; both are pinned to a worked example in the tests.

Must never: import sync, warehouse or the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator

import httpx

from shoplens.sandbox.app import Sandbox

ORDER_STATUS = {"CANCELLED": "CANCEL"}  # the webhook docs spell it CANCEL


class WebhookPusher:
    def __init__(self, sandbox: Sandbox, address: str, *, start: int | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 10.0) -> None:
        self.sandbox, self.address = sandbox, address
        #: the business clock the sandbox answers with; changes up to `pushed_until` are pushed. The clock
        #: runs a second ahead, so a change pushed at t is inside a sync window that ends (open) at the clock
        self.pushed_until = sandbox.now() if start is None else start
        self.clock = self.pushed_until + 1
        sandbox.business_now = lambda: self.clock
        self._ids = itertools.count(int(time.time() * 1000) % 10**12 * 1000)
        self._http = httpx.Client(transport=transport, timeout=timeout)
        #: what was pushed: (notification, HTTP status, seconds the receiver took)
        self.pushed: list[tuple[dict, int, float]] = []

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WebhookPusher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- what to push -----------------------------------------------------------------------------------
    def notifications_between(self, t0: int, t1: int) -> list[tuple[int, dict]]:
        """(business time, notification) for every change shown in (t0, t1], in time order."""
        out = []
        for shop in self.sandbox.business.shops:
            for order in self.sandbox.business.orders[shop.id]:
                shown = order.create_time + order.visible_after
                if shown > t1:
                    continue
                pushed_at = {}
                for at, status in order.events:  # changes before the order is visible are pushed when it is
                    pushed_at[max(at, shown)] = (at, status)
                for at, (changed, status) in pushed_at.items():
                    if t0 < at <= t1:
                        out.append((at, self._envelope(1, shop.id, at, {
                            "order_id": order.id, "order_status": ORDER_STATUS.get(status, status),
                            "is_on_hold_order": False, "update_time": changed})))
                        if status == "CANCELLED":
                            out.append((at, self._envelope(11, shop.id, at, {
                                "order_id": order.id, "cancellations_role": "BUYER" if order.paid_time else "SYSTEM",
                                "cancel_status": "CANCELLATION_REQUEST_COMPLETE", "cancel_id": "5" + order.id[1:],
                                "create_time": changed})))
            for ret in self.sandbox.business.returns[shop.id]:
                for at, status in ret.events:
                    if t0 < at <= t1:
                        out.append((at, self._envelope(12, shop.id, at, {
                            "order_id": ret.order.id, "return_role": "BUYER", "return_type": ret.return_type,
                            "return_status": status, "return_id": ret.id, "create_time": ret.create_time,
                            "update_time": at})))
        out.sort(key=lambda pair: pair[0])
        return out

    def _envelope(self, kind: int, shop_id: str, at: int, data: dict) -> dict:
        return {"type": kind, "tts_notification_id": str(next(self._ids)), "shop_id": shop_id, "timestamp": at,
                "data": data}

    # --- pushing ------------------------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        gate = self.sandbox.gate
        return hmac.new(gate.app_secret.encode(), gate.app_key.encode() + body, hashlib.sha256).hexdigest()

    def encode(self, notification: dict) -> tuple[bytes, dict]:
        body = json.dumps(notification, separators=(",", ":")).encode()
        return body, {"content-type": "application/json", "authorization": self.sign(body)}

    def push(self, notification: dict) -> int:
        """POST one notification as TikTok does; returns the HTTP status."""
        body, headers = self.encode(notification)
        started = time.perf_counter()
        response = self._http.post(self.address, content=body, headers=headers)
        self.pushed.append((notification, response.status_code, time.perf_counter() - started))
        return response.status_code

    def advance(self, to: int) -> list[dict]:
        """Move the business clock to `to` and push every change in between; returns what was pushed."""
        due = self.notifications_between(self.pushed_until, to)
        self.pushed_until, self.clock = to, to + 1
        for _, notification in due:
            self.push(notification)
        return [n for _, n in due]

    def upcoming(self, limit: int) -> Iterator[tuple[int, dict]]:
        """The next `limit` changes after the clock, in time order (scanning ahead a day at a time)."""
        t, given = self.pushed_until, 0
        while given < limit and t < self.sandbox.business.end_time:
            for at, notification in self.notifications_between(t, t + 86_400):
                if given == limit:
                    return
                given += 1
                yield at, notification
            t += 86_400

    def deauthorize(self, shop_id: str) -> int:
        """The seller deauthorizes the app: every token stops working, and TikTok says so."""
        self.sandbox.gate.revoke_all()
        return self.push(self._envelope(6, shop_id, self.clock, {"message": "The seller has deauthorized the app"}))

    def announce_expiry(self, shop_id: str, expiration_time: int) -> int:
        return self.push(self._envelope(7, shop_id, self.clock, {
            "message": "The authorization will expire soon", "expiration_time": expiration_time}))

    def set_product_status(self, shop_id: str, product_id: str, status: str) -> int:
        """The platform changes a product's status: the API shows it from now on, and TikTok pushes it."""
        at = self.pushed_until = self.clock
        self.clock += 1
        self.sandbox.product_status[product_id] = (status, at)
        return self.push(self._envelope(5, shop_id, at, {"product_id": product_id, "status": status,
                                                         "update_time": at}))
