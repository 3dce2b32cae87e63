"""Likely causes of a product's drop: the same shop-local day its status stopped being active
(deactivated by the platform or the seller, a failed audit, frozen, deleted) or the day after it ran out
of stock, with its GMV that day against its typical day.

GMV comes only through `shoplens.metrics.query` (this module writes no KPI SQL); its own SQL reads the
status history and stock facts the syncs keep (`listing_daily`, `stock_daily`). It only reads.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from shoplens import i18n
from shoplens.metrics import Policies, parse_period, query
from shoplens.warehouse import Warehouse

#: how many previous days make a product's typical day (their median GMV)
TYPICAL_DAYS = 14
#: a day counts as a drop when its GMV is at most this share of the typical day
DROP_SHARE = 0.5
CAUSE_COLUMNS = ["shop_id", "shop", "product_id", "product", "day", "cause", "status", "since", "restocked",
                 "gmv", "typical", "currency"]


def product_causes(warehouse: Warehouse, *, period, shop: str | None = None) -> pd.DataFrame:
    """One row per product and day in `period` whose GMV dropped (to at most half its typical day, or to 0)
    the day its status stopped being active, or the first day after it sold out; newest first."""
    start, end = parse_period(period)
    events = warehouse.rows("""
        SELECT l.shop_id, l.product_id, l.date, 'status' AS cause, l.status, NULL AS restocked
        FROM listing_daily l WHERE NOT l.active AND l.date = l.since_day AND l.date BETWEEN $1 AND $2
          AND ($3 IS NULL OR l.shop_id = $3)
        UNION ALL
        SELECT shop_id, product_id, date + 1, 'stockout', NULL,
               (SELECT min(later.date) FROM (SELECT date, sum(stock) AS stock FROM stock_daily s2
                                             WHERE s2.shop_id = p.shop_id AND s2.product_id = p.product_id
                                             GROUP BY date) later
                WHERE later.date > p.date AND later.stock > 0)
        FROM (SELECT *, lag(stock) OVER (PARTITION BY shop_id, product_id ORDER BY date) AS before
              FROM (SELECT shop_id, product_id, date, sum(stock) AS stock FROM stock_daily
                    WHERE $3 IS NULL OR shop_id = $3 GROUP BY shop_id, product_id, date)) p
        WHERE p.stock = 0 AND p.before > 0 AND p.date + 1 BETWEEN $1 AND $2
    """, [start, end, shop])
    if not events:
        return pd.DataFrame(columns=CAUSE_COLUMNS)
    shops = {s for s, *_ in events}
    gmv = query(["product_gmv"], by=["shop", "product", "day"], shop=sorted(shops),
                period=(start - timedelta(days=TYPICAL_DAYS), end), policies=Policies(timezone="shop"),
                where={"product": sorted({p for _, p, *_ in events})}, warehouse=warehouse)
    by_key = {(r.shop, r.product, r.day): (r.product_gmv, r.currency) for r in gmv.itertuples()}
    names = dict(warehouse.rows("SELECT product_id, title FROM products"))
    shop_names = dict(warehouse.rows("SELECT shop_id, name FROM shops"))
    currencies = dict(warehouse.rows("SELECT shop_id, currency FROM shops"))
    rows = []
    for shop_id, product_id, day, cause, status, restocked in events:
        value = by_key.get((shop_id, product_id, day), (0, None))[0]
        before = [float(by_key.get((shop_id, product_id, day - timedelta(days=k)), (0, None))[0])
                  for k in range(1, TYPICAL_DAYS + 1)]
        typical = float(pd.Series(before).median())
        if typical <= 0 or float(value) > typical * DROP_SHARE:
            continue
        rows.append([shop_id, shop_names.get(shop_id, shop_id), product_id, names.get(product_id) or product_id,
                     day, cause, status, day - timedelta(days=1) if cause == "stockout" else day, restocked,
                     value, typical, currencies.get(shop_id)])
    frame = pd.DataFrame(rows, columns=CAUSE_COLUMNS)
    return frame.sort_values(["day", "shop_id", "product"], ascending=[False, True, True], ignore_index=True)


def cause_sentence(row, lang: str, fmt_money) -> str:
    """The finding in words, e.g. "GMV of Lumi Serum fell to 0 on 2026-11-12; the platform deactivated it
    that day." `fmt_money` formats an amount in the row's currency."""
    def t(key: str) -> str:
        return i18n.t(key, lang)

    if row.cause == "stockout":
        why = t("cause_stockout").format(day=_iso(row.since))
        if isinstance(row.restocked, date):
            why += t("cause_restocked").format(day=_iso(row.restocked))
    else:
        key = f"cause_{str(row.status).lower()}"
        why = t(key) if key in i18n.TEXT else t("cause_status").format(status=row.status)
    return t("cause_finding").format(product=row.product, value=fmt_money(row.gmv), day=_iso(row.day),
                                     typical=fmt_money(row.typical), why=why)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
