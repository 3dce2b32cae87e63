"""Converting paths: each counted order of a shop and period, with the tracked-link clicks that led to it
within the look-back window, read from the warehouse.

Conversions are the orders the metric catalogue's `gmv` counts for the shop and period under the
policies in force (paid or placed, cancelled or not, days in the reporting time zone, the GMV price),
valued at their GMV (`sub_total`, plus `platform_discount` at the seller's price), gross of refunds; what
was refunded later (`refund_total`) rides along in `refunded`.

Touches are clicks on the shop's own links that are not flagged as bots. A click joins an order when
it names the order's buyer: through its own `buyer_id`, or through its `visitor_id` when clicks of that
visitor carry exactly one buyer id (a visitor seen with two buyers is a shared device: only its clicks
that name a buyer join). It must lie in [order time − look-back, order time]. Every order is its own
path: one click can touch two orders of the same buyer.

This module only reads (its own SQL over orders, refunds, links and link_clicks). It must never write
to the warehouse, never compute a KPI total (GMV figures for reports come from `metrics.query`), and
never let another shop's link or order into a shop's paths.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from shoplens.attribution.models import check_days
from shoplens.metrics import Policies
from shoplens.metrics.catalogue import REFUND_DONE
from shoplens.warehouse import Warehouse

DEFAULT_LOOKBACK_DAYS = 7

#: counted orders of one shop placed on the period's local days; $zone is the reporting time zone
_CONVERSIONS = f"""
    SELECT f.order_id, o.buyer_id, f.create_time AS order_time,
           f.sub_total + CASE WHEN $seller_price THEN coalesce(f.platform_discount, 0) ELSE 0 END AS value, f.currency,
           coalesce(r.refunded, 0) AS refunded
    FROM order_facts f JOIN orders o ON o.order_id = f.order_id
    LEFT JOIN (SELECT order_id, sum(refund_total) AS refunded FROM refunds
               WHERE shop_id = $shop AND return_status IN ({', '.join(repr(s) for s in REFUND_DONE)})
               GROUP BY order_id) r ON r.order_id = f.order_id
    WHERE f.shop_id = $shop AND CAST(timezone($zone, f.create_time) AS DATE) BETWEEN $start AND $end
      AND ($placed OR f.paid) AND ($cancelled OR NOT f.cancelled)
"""

#: people's clicks (not bots) on the shop's links, each with the buyer it names, directly or by visitor
_TOUCHES = """
    WITH people AS (SELECT click_id, code, clicked_at, visitor_id, buyer_id FROM link_clicks WHERE NOT is_bot),
    known AS (
        SELECT visitor_id, min(buyer_id) AS buyer_id FROM people
        WHERE visitor_id IS NOT NULL AND buyer_id IS NOT NULL
        GROUP BY visitor_id HAVING count(DISTINCT buyer_id) = 1
    ),
    resolved AS (
        SELECT p.click_id, p.code, p.clicked_at, coalesce(p.buyer_id, k.buyer_id) AS buyer_id,
               CASE WHEN p.buyer_id IS NOT NULL THEN 'buyer_id' ELSE 'visitor_id' END AS joined_by,
               l.campaign, lower(l.creator) AS creator, l.channel, l.content
        FROM people p JOIN links l ON l.code = p.code AND l.shop_id = $shop
        LEFT JOIN known k ON p.buyer_id IS NULL AND k.visitor_id = p.visitor_id
    ),
    conv AS ({conversions})
    SELECT c.order_id, c.buyer_id, c.order_time, c.value, c.currency, c.refunded, r.click_id, r.code,
           r.clicked_at, r.campaign, r.creator, r.channel, r.content, r.joined_by
    FROM conv c JOIN resolved r ON r.buyer_id = c.buyer_id AND r.clicked_at <= c.order_time
         AND r.clicked_at >= c.order_time - to_microseconds(CAST($window_us AS BIGINT))
    ORDER BY c.order_time, c.order_id, r.clicked_at, r.code, r.click_id
"""

TOUCH_COLUMNS = ("order_id", "buyer_id", "order_time", "value", "currency", "refunded", "touch_index", "click_id",
                 "code", "clicked_at", "campaign", "creator", "channel", "content", "joined_by")


def _params(warehouse: Warehouse, shop_id: str, period: tuple[date, date], policies: Policies | None) -> dict:
    policies = policies or Policies()
    zone = policies.timezone
    if zone == "shop":
        rows = warehouse.rows("SELECT timezone FROM shops WHERE shop_id = ?", [shop_id])
        zone = rows[0][0] if rows else "UTC"
    return {"shop": shop_id, "zone": zone, "start": period[0], "end": period[1],
            "placed": policies.gmv_basis == "placed", "cancelled": policies.include_cancelled,
            "seller_price": policies.gmv_price == "seller"}


def conversions(warehouse: Warehouse, shop_id: str, period: tuple[date, date], *,
                policies: Policies | None = None) -> pd.DataFrame:
    """Every counted order of the shop placed in the period: order_id, buyer_id, order_time, value
    (GMV, gross), currency, refunded (completed refunds, for information)."""
    sql = _CONVERSIONS + " ORDER BY f.create_time, f.order_id"
    return warehouse.frame(sql, _params(warehouse, shop_id, period, policies))


def touches(warehouse: Warehouse, shop_id: str, period: tuple[date, date], *,
            lookback_days: float = DEFAULT_LOOKBACK_DAYS, policies: Policies | None = None) -> pd.DataFrame:
    """One row per touch of each converting path (TOUCH_COLUMNS), in path order; `touch_index` counts
    from 0 within an order. Orders without a touch in their window are not here."""
    window_us = round(check_days(lookback_days, "lookback_days") * 86_400 * 10**6)
    params = _params(warehouse, shop_id, period, policies) | {"window_us": window_us}
    frame = warehouse.frame(_TOUCHES.format(conversions=_CONVERSIONS), params)
    frame.insert(6, "touch_index", frame.groupby("order_id", sort=False).cumcount() if len(frame) else [])
    return frame[list(TOUCH_COLUMNS)]


def click_counts(warehouse: Warehouse, shop_id: str, period: tuple[date, date], *,
                 policies: Policies | None = None) -> dict[str, int]:
    """Clicks on the shop's links made on the period's local days: people, bots, links clicked, visitors."""
    params = _params(warehouse, shop_id, period, policies)
    people, bots, links, visitors = warehouse.rows(
        "SELECT count(*) FILTER (WHERE NOT c.is_bot), count(*) FILTER (WHERE c.is_bot), "
        "count(DISTINCT c.code) FILTER (WHERE NOT c.is_bot), count(DISTINCT c.visitor_id) FILTER (WHERE NOT c.is_bot) "
        "FROM link_clicks c JOIN links l ON l.code = c.code AND l.shop_id = $shop "
        "WHERE CAST(timezone($zone, c.clicked_at) AS DATE) BETWEEN $start AND $end",
        {k: params[k] for k in ("shop", "zone", "start", "end")})[0]
    return {"clicks": people, "bot_clicks": bots, "links": links, "visitors": visitors}
