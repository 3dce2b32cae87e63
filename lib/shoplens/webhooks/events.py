"""TikTok Shop webhook notifications: the signature, the envelope, the event types, and what each one
makes shoplens do (docs/webhooks.md; facts: the shared API notes, section 8).

- Signature: the `Authorization` header is the lowercase hex HMAC-SHA256, keyed by the app secret, of
  the app key followed by the raw request body. No timestamp is signed, so duplicates are dropped by
  `tts_notification_id`.
- Envelope: {"type": int, "tts_notification_id": str, "shop_id": str, "timestamp": Unix s, "data": {...}}.

Must never: log or return the app secret; trust a body it has not verified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

#: type number -> event name (TikTok Shop webhook types)
TYPES = {1: "ORDER_STATUS_CHANGE", 2: "REVERSE_ORDER_STATUS_UPDATE", 3: "RECIPIENT_ADDRESS_UPDATE",
         4: "PACKAGE_UPDATE", 5: "PRODUCT_STATUS_CHANGE", 6: "SELLER_DEAUTHORIZATION",
         7: "UPCOMING_AUTHORIZATION_EXPIRATION", 11: "CANCELLATION_STATUS_CHANGE", 12: "RETURN_STATUS_CHANGE",
         13: "NEW_CONVERSATION", 14: "NEW_MESSAGE", 36: "INVOICE_STATUS_CHANGE", 37: "PRODUCT_AUDIT_STATUS_CHANGE"}
#: order-side events: the shop's resources a targeted incremental sync reads again
SYNC_RESOURCES = {1: ("orders",), 2: ("orders", "returns"), 3: ("orders",), 4: ("orders",),
                  11: ("orders", "cancellations"), 12: ("orders", "returns")}
PRODUCT_TYPES = (5, 37)
DEAUTHORIZATION, UPCOMING_EXPIRY = 6, 7
MAX_BODY = 1024 * 1024


def signature(app_key: str, app_secret: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 (key: the app secret) of the app key followed by the raw body."""
    return hmac.new(app_secret.encode("utf-8"), app_key.encode("utf-8") + body, hashlib.sha256).hexdigest()


def verify(app_key: str, app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether the `Authorization` header carries the body's signature (compared in constant time)."""
    if not header:
        return False
    return hmac.compare_digest(signature(app_key, app_secret, body), header.strip().lower())


@dataclass(frozen=True)
class Notification:
    id: str
    type: int
    shop_id: str | None
    timestamp: int | None
    data: dict

    @property
    def event(self) -> str:
        return TYPES.get(self.type, f"TYPE_{self.type}")


def parse(body: bytes | str) -> Notification:
    """The envelope, checked; ValueError saying what is wrong with it."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(envelope, dict):
        raise ValueError("the body is not a JSON object")
    kind, nid = envelope.get("type"), envelope.get("tts_notification_id")
    if not isinstance(kind, int) or isinstance(kind, bool):
        raise ValueError("`type` is missing or not a number")
    if not isinstance(nid, str | int) or isinstance(nid, bool) or not str(nid).strip():
        raise ValueError("`tts_notification_id` is missing")
    shop = envelope.get("shop_id")
    if shop is not None and not isinstance(shop, str | int):
        raise ValueError("`shop_id` is not an id")
    stamp = envelope.get("timestamp")
    if stamp is not None and (not isinstance(stamp, int) or isinstance(stamp, bool)):
        raise ValueError("`timestamp` is not Unix seconds")
    data = envelope.get("data", {})
    if not isinstance(data, dict):
        raise ValueError("`data` is not an object")
    return Notification(str(nid), kind, None if shop is None else str(shop), stamp, data)
