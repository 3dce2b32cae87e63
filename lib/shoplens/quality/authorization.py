"""Authorization status per shop, without secrets: when each shop's authorization lapses, and whether
the seller revoked it.

The sync records the expiries of the token pair that covers each shop in `shop_authorizations`
(`record_authorization`); reports read that table and `sync_runs` (`authorization_problems`). Tokens
live only in the 0600 token store, which this module never opens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from shoplens.sync.authorizations import record_authorization, record_revoked
from shoplens.warehouse import Warehouse

__all__ = ["EXPIRY_WARNING", "authorization_problems", "record_authorization", "record_revoked"]

#: warn when an authorization lapses within this long
EXPIRY_WARNING = timedelta(days=7)
COLUMNS = ["shop_id", "shop", "kind", "expires_at", "days_left", "reason"]
#: how codes.py words a 36009004 that names the access token: the API no longer knows the token
_REJECTED_TOKEN = "access token is invalid"


def authorization_problems(warehouse: Warehouse, *, shop: str | None = None, now: datetime | None = None,
                           warn_within: timedelta = EXPIRY_WARNING) -> pd.DataFrame:
    """One row per shop whose authorization is revoked, has lapsed, or lapses within `warn_within`.

    An authorization lapses when its refresh token expires (the sync renews the 7-day access token by
    itself), or, for a token that cannot be refreshed, when its access token does. A shop counts as
    revoked when it was recorded so, or when the latest run of one of its resources failed because the
    API no longer accepted the access token (36009004).
    kind: "revoked" | "expired" | "expiring"; days_left: whole days until it lapses (negative once it has).
    """
    now = now or datetime.now(UTC)
    recorded = warehouse.rows("""
        SELECT a.shop_id, coalesce(s.name, a.shop_id), coalesce(a.refresh_expires_at, a.access_expires_at),
               a.revoked, a.revoked_reason
        FROM shop_authorizations a LEFT JOIN shops s USING (shop_id)
        WHERE a.shop_id = $1 OR $1 IS NULL ORDER BY a.shop_id
    """, [shop])
    rejected = {shop_id: (name, error) for shop_id, name, error in warehouse.rows("""
        SELECT r.shop_id, coalesce(any_value(s.name), r.shop_id), arg_max(r.error, r.finished_at)
        FROM (SELECT shop_id, resource, arg_max(status, finished_at) AS status, arg_max(error, finished_at) AS error,
                     max(finished_at) AS finished_at
              FROM sync_runs WHERE shop_id = $1 OR $1 IS NULL GROUP BY ALL) r
        LEFT JOIN shops s USING (shop_id)
        WHERE r.status <> 'ok' AND contains(lower(r.error), $2)
        GROUP BY r.shop_id
    """, [shop, _REJECTED_TOKEN])}
    rows = []
    for shop_id, name, lapses, revoked, reason in recorded:
        if revoked:
            rows.append([shop_id, name, "revoked", lapses, _days(lapses, now), reason])
        elif shop_id in rejected:
            continue  # reported below, from the sync's error
        elif lapses is not None and lapses <= now:
            rows.append([shop_id, name, "expired", lapses, _days(lapses, now), None])
        elif lapses is not None and lapses <= now + warn_within:
            rows.append([shop_id, name, "expiring", lapses, _days(lapses, now), None])
    revoked_ids = {r[0] for r in rows if r[2] == "revoked"}
    for shop_id, (name, error) in sorted(rejected.items()):
        if shop_id not in revoked_ids:
            rows.append([shop_id, name, "revoked", None, None, error])
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


def _days(when: datetime | None, now: datetime) -> int | None:
    return None if when is None else (when - now) // timedelta(days=1)
