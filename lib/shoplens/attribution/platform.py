"""TikTok's own attribution of the same orders: the creator and content the affiliate API names on them.

TikTok credits an affiliate order whole to one creator (its `creator_username`) and one piece of content
(`content_type`, `content_id`); orders it names no creator for are the shop's own. We read that exactly
as the metric catalogue does (`order_facts`, one creator per order, from `affiliate_order_items`), so
the numbers here add up to the catalogue's `creator_gmv` over the same orders.

This module only reads. It must never change or re-weight TikTok's credit, and never read orders other
than the ones it is given (one shop's converting paths).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from shoplens.warehouse import Warehouse

PLATFORM_COLUMNS = ("order_id", "creator", "content_type", "content_id", "credit")


def platform_credit(warehouse: Warehouse, shop_id: str, orders: pd.DataFrame) -> pd.DataFrame:
    """For each order of `orders` (columns order_id, value): TikTok's creator (lower case; None for the
    shop's own orders), content type and id, and the whole order value as its credit."""
    order_ids = list(dict.fromkeys(orders["order_id"])) if len(orders) else []
    if not order_ids:
        return pd.DataFrame(columns=list(PLATFORM_COLUMNS))
    named = {order_id: (creator, content_type, content_id) for order_id, creator, content_type, content_id in
             warehouse.rows("SELECT order_id, CASE WHEN affiliate THEN lower(creator) END, "
                            "CASE WHEN affiliate THEN content_type END, CASE WHEN affiliate THEN content_id END "
                            "FROM order_facts WHERE shop_id = ? AND list_contains(?, order_id)", [shop_id, order_ids])}
    values = dict(zip(orders["order_id"], orders["value"]))
    rows = [(order_id, *named.get(order_id, (None, None, None)), values[order_id]) for order_id in order_ids]
    return pd.DataFrame(rows, columns=list(PLATFORM_COLUMNS))


def platform_by_creator(platform: pd.DataFrame) -> dict[str | None, Decimal]:
    """TikTok's credit per creator (None: no creator, the shop's own), exact."""
    totals: dict[str | None, Decimal] = {}
    for creator, amount in zip(platform["creator"], platform["credit"]):
        key = creator if isinstance(creator, str) else None
        totals[key] = totals.get(key, Decimal(0)) + amount
    return totals

