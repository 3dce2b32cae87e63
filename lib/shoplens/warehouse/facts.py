"""The derived fact tables the metric compiler reads, rebuilt whole or maintained by the keys that changed.

Every load that touches what a fact depends on records the key in `fact_changes`, in the load's own
transaction (`mark()`; `Warehouse.upsert` does it for the tables in `TRACKED`). `refresh(incremental=True)`
then recomputes only what those keys reach, in one transaction, and empties `fact_changes`:

- order_facts: the changed orders, and for the per-buyer columns (`first_paid`, `prev_counted_time`) every
  order of their buyers (old and new buyer), read through the `orders(buyer_id)` index; `buyer_key` comes
  from `buyer_keys`, a stable mapping (a new buyer gets the next number) instead of a global dense_rank,
  whose numbers would all move with every new buyer;
- line_item_facts: the line items of the changed orders, and of SKUs whose unit cost changed;
- order_rollup and line_item_rollup: the facts removed, written or updated, summed by the rebuild's SQL,
  their difference added to the rollups' rows (`_rollup`);
- dispatch_facts and backlog_daily: the changed orders, and the orders still awaiting shipment in a shop
  whose orders cursor (`as_of`) moved;
- stock_daily: the (shop, SKU, day range)s that a changed snapshot, a changed line item's units (the 14
  days they count in), a lead time or a longer snapshot span reach;
- listing_daily: per shop, the days that entered the 121-day window and the products whose status history
  or 28-day GMV before a status changed; a status's `gmv_before` is carried over when nothing in its 28
  days changed.

Each derived row is computed by the same SQL as the full rebuild, restricted to the keys; the property
tests (tests/test_incremental.py) check that any sequence of loads leaves the tables equal to a rebuild.
A full rebuild runs instead when `fact_changes` holds 'full' (a migration, a replay, a shop's settings),
and after an incremental refresh whose row counts disagree (a write that bypassed the tracking).

Must never: leave `fact_changes` emptied without the facts it named being recomputed (one transaction),
or compute a fact with SQL of its own that the full rebuild does not share.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from shoplens.warehouse.temp import take_like
from shoplens.warehouse.temp import temp as _temp
from shoplens.warehouse.temp import temp_like as _temp_like

SEP = "\x1f"
#: table -> (kind, key columns) recorded by `Warehouse.upsert` for every row it writes
TRACKED = {
    "orders": ("order", ("order_id",)),
    "order_line_items": ("order", ("order_id",)),
    "affiliate_order_items": ("order", ("order_id",)),
    "order_fulfilment": ("order", ("order_id",)),
    "product_costs": ("sku", ("shop_id", "sku_id")),
    "inventory_snapshots": ("stock", ("shop_id", "sku_id", "date")),
    "stock_lead_times": ("sku", ("shop_id", "sku_id")),
}
#: tables where only rows whose content changed are recorded (a sync rewrites every shop each run)
TRACKED_IF_CHANGED = {"shops": ("full", ("shop_id",))}

FAR_PAST, FAR_FUTURE = date(1, 1, 1), date(9999, 12, 31)

# --- the SQL, shared by the full rebuild and the incremental refresh -----------------------------------
# {o} is the orders relation to (re)compute, {aff} the affiliate items of those orders, {win} the per-buyer
# columns of those orders; a full rebuild passes the whole tables.
WINDOWS = """
    SELECT order_id,
           paid AND buyer_id IS NOT NULL AND row_number() OVER (
               PARTITION BY shop_id, buyer_id, paid ORDER BY create_time, order_id) = 1 AS first_paid,
           CASE WHEN paid AND NOT cancelled AND buyer_id IS NOT NULL THEN lag(create_time) OVER (
               PARTITION BY shop_id, buyer_id, paid AND NOT cancelled ORDER BY create_time, order_id) END
             AS prev_counted_time
    FROM (SELECT order_id, shop_id, buyer_id, create_time, paid_time IS NOT NULL AS paid,
                 status = 'CANCELLED' AS cancelled FROM {o})
"""
ORDER_FACTS_ROWS = """
    WITH aff AS (
        SELECT order_id, min(creator_username) AS creator, min(content_type) AS content_type,
               min(content_id) AS content_id
        FROM {aff} GROUP BY order_id
    )
    SELECT o.order_id, o.shop_id, o.create_time, o.paid_time IS NOT NULL, o.status = 'CANCELLED', bk.buyer_key,
           o.sub_total, o.currency, a.order_id IS NOT NULL, a.creator, a.content_type, a.content_id,
           coalesce(w.first_paid, false), w.prev_counted_time, o.platform_discount
    FROM {o} o LEFT JOIN aff a ON a.order_id = o.order_id
    LEFT JOIN {win} w ON w.order_id = o.order_id
    LEFT JOIN {bk} bk ON bk.buyer = o.shop_id || chr(31) || o.buyer_id
    ORDER BY o.shop_id, o.create_time
"""
ORDER_FACTS = f"INSERT INTO order_facts {ORDER_FACTS_ROWS}"
NEW_BUYERS = """
    INSERT INTO buyer_keys
    SELECT shop_id || chr(31) || buyer_id, (SELECT coalesce(max(buyer_key), 0) FROM buyer_keys)
                                           + row_number() OVER (ORDER BY shop_id, buyer_id)
    FROM (SELECT DISTINCT shop_id, buyer_id FROM {o} WHERE buyer_id IS NOT NULL) n
    WHERE shop_id || chr(31) || buyer_id NOT IN (SELECT buyer FROM {bk})
"""
LINE_ITEM_FACTS_ROWS = """
    SELECT li.line_item_id, li.order_id, li.shop_id, o.create_time, o.paid, o.cancelled, li.product_id, li.sku_id,
           li.sale_price, c.unit_cost, li.currency, o.affiliate, o.creator, li.platform_discount
    FROM {li} li JOIN {of} o ON o.order_id = li.order_id
    LEFT JOIN product_costs c ON c.shop_id = li.shop_id AND c.sku_id = li.sku_id
    ORDER BY li.shop_id, o.create_time
"""
LINE_ITEM_FACTS = f"INSERT INTO line_item_facts {LINE_ITEM_FACTS_ROWS}"
#: a fact's 15-minute UTC bucket (schema migration 24): within one local day of every zone
BUCKET = "epoch_us({t}) // 900000000"
_CREATED, _PREVIOUS = BUCKET.format(t="create_time"), BUCKET.format(t="prev_counted_time")
ORDER_ROLLUP_ROWS = f"""
    SELECT shop_id, currency, {_CREATED}, paid, cancelled, affiliate, first_paid,
           buyer_key IS NOT NULL, least({_CREATED} - {_PREVIOUS}, 192),
           count(*), sum(sub_total + platform_discount), sum(sub_total)
    FROM {{facts}} GROUP BY ALL
"""
LINE_ITEM_ROLLUP_ROWS = f"""
    SELECT shop_id, currency, {_CREATED}, paid, cancelled,
           count(*), sum(sale_price + platform_discount), sum(sale_price), sum(unit_cost), count(unit_cost)
    FROM {{facts}} GROUP BY ALL
"""
#: each rollup: the SQL that sums facts into its rows, its grouping columns and its sums and counts
ROLLUPS = {
    "order_rollup": (ORDER_ROLLUP_ROWS, ("shop_id", "currency", "bucket", "paid", "cancelled", "affiliate",
                                         "first_paid", "has_buyer", "buyer_gap"), ("n", "value_seller", "value_buyer")),
    "line_item_rollup": (LINE_ITEM_ROLLUP_ROWS, ("shop_id", "currency", "bucket", "paid", "cancelled"),
                         ("n", "value_seller", "value_buyer", "unit_cost", "costed")),
}
#: a sum of values that can be NULL -> the count of its values
ROLLUP_COUNTED = {"unit_cost": "costed"}
#: `as_of` (when the shop's orders were last synced) only for an order not shipped yet: a shipped order's
#: rows do not depend on it, so they stay as they are when the cursor moves
DISPATCH_FACTS_ROWS = """
    WITH as_of AS (SELECT shop_id, to_timestamp(CAST(cursor AS BIGINT)) AS as_of FROM sync_state
                   WHERE resource = 'orders' AND regexp_full_match(cursor, '[0-9]+'))
    SELECT o.order_id, o.shop_id, o.currency, o.paid_time, f.rts_sla_time, f.rts_time, f.delivery_time,
           o.cancel_time, CASE WHEN f.rts_time IS NULL THEN a.as_of END,
           coalesce(f.rts_time > f.rts_sla_time, a.as_of > f.rts_sla_time, false),
           coalesce(f.rts_time <= f.rts_sla_time, false),
           epoch(f.rts_time - o.paid_time) / 3600.0,
           epoch(f.delivery_time - o.paid_time) / 86400.0
    FROM {o} o JOIN {f} f USING (order_id) LEFT JOIN as_of a ON a.shop_id = o.shop_id
    WHERE o.paid_time IS NOT NULL AND f.rts_sla_time IS NOT NULL
      AND NOT (o.status = 'CANCELLED' AND f.rts_time IS NULL)
    ORDER BY o.shop_id, f.rts_sla_time
"""
DISPATCH_FACTS = f"INSERT INTO dispatch_facts {DISPATCH_FACTS_ROWS}"
BACKLOG_DAILY = """
    INSERT INTO backlog_daily
    WITH d AS (
        SELECT o.*, s.timezone, CAST(timezone(s.timezone, o.paid_time) AS DATE) AS paid_day,
               CAST(timezone(s.timezone, coalesce(least(o.rts_time, o.cancel_time), o.rts_time, o.cancel_time,
                                                  o.as_of, o.paid_time + INTERVAL 30 DAY)) AS DATE) AS last_day
        FROM {df} o JOIN shops s USING (shop_id)
        UNION ALL  -- orders cancelled before they shipped were awaiting shipment until then
        SELECT o.order_id, o.shop_id, o.currency, o.paid_time, f.rts_sla_time, NULL, NULL, o.cancel_time, NULL,
               false, false, NULL, NULL, s.timezone, CAST(timezone(s.timezone, o.paid_time) AS DATE),
               CAST(timezone(s.timezone, o.cancel_time) AS DATE)
        FROM {o} o JOIN {f} f USING (order_id) JOIN shops s ON s.shop_id = o.shop_id
        WHERE o.paid_time IS NOT NULL AND o.status = 'CANCELLED' AND f.rts_time IS NULL AND o.cancel_time IS NOT NULL
    ), days AS (
        SELECT d.*, CAST(g.day AS DATE) AS date,
               timezone(d.timezone, CAST(g.day AS TIMESTAMP) + INTERVAL 1 DAY) AS day_end
        FROM d, LATERAL (SELECT unnest(range(CAST(d.paid_day AS TIMESTAMP), CAST(d.last_day AS TIMESTAMP)
                                             + INTERVAL 1 DAY, INTERVAL 1 DAY)) AS day) g
    )
    SELECT shop_id, date, order_id, paid_time, rts_sla_time, epoch(day_end - paid_time) / 3600.0,
           rts_sla_time < day_end + INTERVAL 24 HOUR, rts_sla_time < day_end
    FROM days
    WHERE paid_time <= day_end AND (rts_time IS NULL OR rts_time > day_end)
      AND (cancel_time IS NULL OR cancel_time > day_end) AND (as_of IS NULL OR day_end <= as_of)
    ORDER BY shop_id, date
"""
#: {scope}: (shop_id, sku_id, lo, hi) ranges of days to compute; {units_since}: the first day units are needed
#: each shop's first and last snapshot day, over every snapshot (a rebuild; an incremental refresh keeps it)
STOCK_SPAN = "(SELECT shop_id, min(date) AS first, max(date) AS last FROM inventory_snapshots GROUP BY ALL)"
STOCK_DAILY = """
    INSERT INTO stock_daily
    WITH span AS (SELECT * FROM {span}),
    ranges AS (  -- the scope's days within the shop's snapshot span: the days computed, never the history
        SELECT sc.shop_id, sc.sku_id, greatest(sc.lo, span.first) AS lo, least(sc.hi, span.last) AS hi
        FROM {scope} sc JOIN span USING (shop_id) WHERE greatest(sc.lo, span.first) <= least(sc.hi, span.last)
    ), bounds AS (
        SELECT shop_id, sku_id, min(lo) AS lo, max(hi) AS hi FROM ranges GROUP BY ALL
    ), snapshots AS (  -- each SKU's snapshots from its first day computed on, and, as one more snapshot the
                       -- day before, the stock `stock_daily` carries there from the ones before (none on a
                       -- rebuild: its first day is the shop's first snapshot), so no history is read
        SELECT i.shop_id, i.sku_id, i.warehouse_id, i.product_id, i.date, i.available
        FROM inventory_snapshots i JOIN bounds b USING (shop_id, sku_id)
        WHERE i.date >= b.lo  -- DuckDB pushes the smallest `lo` into the scan: old row groups are skipped
        UNION ALL
        SELECT d.shop_id, d.sku_id, d.warehouse_id, d.product_id, d.date, d.stock
        FROM stock_daily d JOIN bounds b USING (shop_id, sku_id) WHERE d.date = b.lo - 1
    ), keys AS (
        SELECT DISTINCT i.shop_id, i.sku_id, i.warehouse_id, i.product_id FROM snapshots i
    ), carried AS (  -- the snapshot each place's stock is carried from on its first day computed
        SELECT i.shop_id, i.sku_id, i.warehouse_id, max(i.date) AS since
        FROM snapshots i JOIN bounds b USING (shop_id, sku_id) WHERE i.date <= b.lo GROUP BY ALL
    ), needed AS (  -- the ASOF join below sorts what it reads: the computed days' snapshots, not the history
        SELECT i.* FROM snapshots i JOIN bounds b USING (shop_id, sku_id)
        LEFT JOIN carried c USING (shop_id, sku_id, warehouse_id)
        WHERE i.date <= b.hi AND (c.since IS NULL OR i.date >= c.since)
    ), days AS (  -- ranges of one SKU may overlap
        SELECT DISTINCT r.shop_id, r.sku_id, CAST(g.day AS DATE) AS date
        FROM ranges r, LATERAL (SELECT unnest(range(CAST(r.lo AS TIMESTAMP), CAST(r.hi AS TIMESTAMP)
                                                    + INTERVAL 1 DAY, INTERVAL 1 DAY)) AS day) g
    ), scoped AS (
        SELECT k.*, d.date FROM keys k JOIN days d USING (shop_id, sku_id)
    ), stock AS (
        SELECT g.*, coalesce(i.available, 0) AS stock
        FROM scoped g ASOF LEFT JOIN needed i
          ON i.sku_id = g.sku_id AND i.warehouse_id = g.warehouse_id AND g.date >= i.date
    ), units AS (
        SELECT u.shop_id, u.sku_id, u.date, u.units FROM sku_units_daily u
        WHERE ({units_since}) AND EXISTS (SELECT 1 FROM {scope} sc WHERE sc.shop_id = u.shop_id AND sc.sku_id = u.sku_id)
    ), per_sku AS (
        SELECT st.shop_id, st.sku_id, st.date, sum(st.stock) AS sku_stock, count(*) AS places,
               (SELECT coalesce(sum(u.units), 0) FROM units u WHERE u.shop_id = st.shop_id AND u.sku_id = st.sku_id
                  AND u.date BETWEEN st.date - 13 AND st.date) / 14.0 AS sku_daily
        FROM stock st GROUP BY ALL
    )
    SELECT st.shop_id, st.date, st.sku_id, st.product_id, st.warehouse_id, st.stock,
           p.sku_daily * CASE WHEN p.sku_stock > 0 THEN st.stock / p.sku_stock ELSE 1.0 / p.places END,
           CASE WHEN p.sku_daily > 0 THEN p.sku_stock / p.sku_daily END,
           coalesce(lk.lead_days, ls.lead_days, 7),
           p.sku_daily > 0 AND p.sku_stock / p.sku_daily < coalesce(lk.lead_days, ls.lead_days, 7),
           p.sku_stock = 0
    FROM stock st JOIN per_sku p USING (shop_id, sku_id, date)
    LEFT JOIN stock_lead_times lk ON lk.shop_id = st.shop_id AND lk.sku_id = st.sku_id
    LEFT JOIN stock_lead_times ls ON ls.shop_id = st.shop_id AND ls.sku_id = '*'
    ORDER BY st.shop_id, st.date
"""
#: units sold per (shop, SKU, shop-local day) of the line items {li}: what `sku_units_daily` holds
SKU_UNITS = """
    SELECT li.shop_id, li.sku_id, CAST(timezone(s.timezone, li.create_time) AS DATE) AS date, count(*) AS units
    FROM {li} li JOIN shops s USING (shop_id)
    WHERE li.paid AND NOT li.cancelled AND li.sku_id IS NOT NULL
    GROUP BY ALL
"""
#: each shop's listing window: the 121 days up to its last status change or paid line item
LISTING_SPAN = """
    SELECT h.shop_id, min(CAST(timezone(s.timezone, h.since) AS DATE)) AS first,
           greatest(max(CAST(timezone(s.timezone, h.since) AS DATE)), any_value(pd.last)) AS last
    FROM product_status_history h JOIN shops s USING (shop_id) LEFT JOIN {last_days} pd ON pd.shop_id = h.shop_id
    GROUP BY h.shop_id
"""
LAST_PRODUCT_DAYS = """
    SELECT li.shop_id, max(CAST(timezone(s.timezone, li.create_time) AS DATE)) AS last
    FROM line_item_facts li JOIN shops s USING (shop_id)
    WHERE li.paid AND NOT li.cancelled AND {where} GROUP BY li.shop_id
"""
#: {scope}: (shop_id, product_id, lo, hi) rows to compute ('*': every product); {gmv}: (shop_id, product_id,
#: since, gmv_before) of the statuses whose 28 days before are known
LISTING_DAILY = """
    INSERT INTO listing_daily
    WITH span AS ({span}), grid AS (
        SELECT span.shop_id, CAST(g.day AS DATE) AS date,
               timezone(s.timezone, CAST(g.day AS TIMESTAMP) + INTERVAL 1 DAY) AS day_end, s.timezone, s.currency
        FROM span JOIN shops s USING (shop_id),
             LATERAL (SELECT unnest(range(CAST(greatest(span.first, span.last - 120) AS TIMESTAMP),
                                          CAST(span.last AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY)) AS day) g
    ), status AS (
        SELECT g.shop_id, g.date, g.currency, h.product_id, h.status, h.since,
               CAST(timezone(g.timezone, h.since) AS DATE) AS since_day
        FROM grid g JOIN product_status_history h
          ON h.shop_id = g.shop_id AND h.since < g.day_end AND (h.until IS NULL OR h.until >= g.day_end)
        WHERE EXISTS (SELECT 1 FROM {scope} sc WHERE sc.shop_id = g.shop_id AND sc.product_id IN ('*', h.product_id)
                      AND g.date BETWEEN sc.lo AND sc.hi)
    )
    SELECT st.shop_id, st.date, st.product_id, st.status, st.status = 'ACTIVATE', st.since, st.since_day,
           CASE WHEN st.status <> 'ACTIVATE' THEN gb.gmv_before END, st.currency
    FROM status st LEFT JOIN {gmv} gb ON gb.shop_id = st.shop_id AND gb.product_id = st.product_id
                                      AND gb.since = st.since
    ORDER BY st.shop_id, st.date
"""
#: the GMV of each (shop, product, since) in {need} over the 28 shop-local days before the status began
GMV_BEFORE = """
    SELECT n.shop_id, n.product_id, n.since, CAST(coalesce(sum(li.sale_price), 0) AS DECIMAL(20, 4)) AS gmv_before
    FROM {need} n JOIN shops s USING (shop_id)
    LEFT JOIN (SELECT * FROM line_item_facts WHERE paid AND NOT cancelled AND {where}) li
      ON li.shop_id = n.shop_id AND li.product_id = n.product_id
     AND CAST(timezone(s.timezone, li.create_time) AS DATE)
         BETWEEN CAST(timezone(s.timezone, n.since) AS DATE) - 28 AND CAST(timezone(s.timezone, n.since) AS DATE) - 1
    GROUP BY ALL
"""


def mark(con, kind: str, keys: Iterable) -> None:
    """Record that the facts of `keys` (of `kind`: order, sku, stock, product, full) must be recomputed;
    call inside the transaction that changes them."""
    keys = sorted({str(k) for k in keys})
    if keys:
        con.execute("INSERT INTO fact_changes SELECT ?, unnest(?)", [kind, keys])


def key(*parts) -> str:
    """One fact_changes key from several columns (shop and SKU, ...)."""
    return SEP.join(str(p) for p in parts)


def mark_full(con) -> None:
    con.execute("INSERT INTO fact_changes VALUES ('full', '')")


def refresh(wh, *, incremental: bool = False) -> str:
    """Bring every derived table up to date; returns 'full', 'incremental' or 'current' (nothing changed)."""
    con = wh.con
    with wh.transaction():
        changes: dict[str, set[str]] = {}
        for kind, key in con.execute("SELECT DISTINCT kind, key FROM fact_changes").fetchall():
            changes.setdefault(kind, set()).add(key)
        if not incremental or "full" in changes or not _initialised(con):
            _full(con)
            mode = "full"
        elif not changes and not _moved_as_of(con):
            mode = "current"
        else:
            _incremental(con, changes)
            mode = "incremental"
        if mode != "current":
            con.execute("DELETE FROM fact_changes")
            _save_state(con, "_stock_span" if mode == "incremental" else STOCK_SPAN)
    if mode != "full" and not wh.facts_are_current():  # a write the tracking did not see
        with wh.transaction():
            _full(con)
            con.execute("DELETE FROM fact_changes")
            _save_state(con)
        mode = "full"
    return mode


def _initialised(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM fact_state WHERE name = 'built'").fetchone()[0])


#: what a full rebuild recomputes, in the order it does so (each may read the ones before it)
DERIVED = ("order_facts", "line_item_facts", "order_rollup", "line_item_rollup", "dispatch_facts", "backlog_daily",
           "sku_units_daily", "stock_daily", "listing_daily")


def _full(con) -> None:
    con.execute(NEW_BUYERS.format(o="orders", bk="buyer_keys"))
    indexes = _emptied(con, DERIVED)
    con.execute(ORDER_FACTS.format(o="orders", aff="affiliate_order_items", win=f"({WINDOWS.format(o='orders')})",
                                   bk="buyer_keys"))
    con.execute(LINE_ITEM_FACTS.format(li="order_line_items", of="order_facts"))
    con.execute(f"INSERT INTO order_rollup {ORDER_ROLLUP_ROWS.format(facts='order_facts')}")
    con.execute(f"INSERT INTO line_item_rollup {LINE_ITEM_ROLLUP_ROWS.format(facts='line_item_facts')}")
    con.execute(DISPATCH_FACTS.format(o="orders", f="order_fulfilment"))
    con.execute(BACKLOG_DAILY.format(df="dispatch_facts", o="orders", f="order_fulfilment"))
    con.execute(f"INSERT INTO sku_units_daily {SKU_UNITS.format(li='line_item_facts')} ORDER BY shop_id, date")
    every_sku = "(SELECT DISTINCT shop_id, sku_id, DATE '0001-01-01' AS lo, DATE '9999-12-31' AS hi FROM inventory_snapshots)"
    con.execute(STOCK_DAILY.format(span=STOCK_SPAN, scope=every_sku, units_since="true"))
    last_days = f"({LAST_PRODUCT_DAYS.format(where='true')})"
    con.execute(f"CREATE OR REPLACE TEMP TABLE listing_daily_span AS {LISTING_SPAN.format(last_days=last_days)}")
    need = ("(SELECT DISTINCT shop_id, product_id, since FROM product_status_history WHERE status <> 'ACTIVATE')")
    con.execute(LISTING_DAILY.format(
        span="SELECT * FROM listing_daily_span",
        scope="(SELECT shop_id, '*' AS product_id, DATE '0001-01-01' AS lo, DATE '9999-12-31' AS hi FROM shops)",
        gmv=f"({GMV_BEFORE.format(need=need, where='true')})"))
    for sql in indexes:
        con.execute(sql)


def _emptied(con, tables: Iterable[str]) -> list[str]:
    """Drop `tables` and create them again, empty; returns their indexes' DDL, to run once they are filled.

    Not `DELETE FROM`: deleting every row of tables that hold millions, then inserting as many, made the
    commit take minutes in DuckDB 2.0.1 (160-180 s at 1M orders in a working copy, against 14 s into empty
    tables), and an index built over a filled table is cheaper than one kept row by row."""
    indexes = []
    for table in tables:
        (ddl,) = con.execute("""SELECT sql FROM duckdb_tables() WHERE database_name = current_database()
            AND schema_name = 'main' AND table_name = ?""", [table]).fetchone()
        indexes += [sql for (sql,) in con.execute("""SELECT sql FROM duckdb_indexes() WHERE database_name =
            current_database() AND schema_name = 'main' AND table_name = ? ORDER BY index_name""", [table]).fetchall()]
        con.execute(f"DROP TABLE {table}")
        con.execute(ddl)
    return indexes


def _save_state(con, stock_span: str = STOCK_SPAN) -> None:
    """What the next incremental refresh compares with: each shop's orders cursor and spans."""
    con.execute("DELETE FROM fact_state")
    con.execute("INSERT INTO fact_state VALUES ('built', '', NULL, NULL)")
    con.execute("""INSERT INTO fact_state SELECT 'as_of', shop_id, NULL, cursor FROM sync_state
                   WHERE resource = 'orders' AND regexp_full_match(cursor, '[0-9]+')""")
    con.execute(f"INSERT INTO fact_state SELECT 'stock_span', shop_id, first, CAST(last AS VARCHAR) FROM {stock_span}")
    con.execute("""INSERT INTO fact_state SELECT 'listing_span', shop_id, first, CAST(last AS VARCHAR)
                   FROM (SELECT DISTINCT shop_id, first, last FROM listing_daily_span)""")


def _moved_as_of(con) -> list[str]:
    return [r[0] for r in con.execute("""
        SELECT s.shop_id FROM sync_state s LEFT JOIN fact_state f ON f.name = 'as_of' AND f.shop_id = s.shop_id
        WHERE s.resource = 'orders' AND regexp_full_match(s.cursor, '[0-9]+') AND f.value IS DISTINCT FROM s.cursor
        UNION SELECT f.shop_id FROM fact_state f WHERE f.name = 'as_of' AND NOT EXISTS (
            SELECT 1 FROM sync_state s WHERE s.shop_id = f.shop_id AND s.resource = 'orders' AND s.cursor = f.value)
    """).fetchall()]


def _incremental(con, changes: dict[str, set[str]]) -> None:
    orders = sorted(changes.get("order", set()))
    cost_skus = [tuple(k.split(SEP)) for k in changes.get("sku", set())]
    # line items of SKUs whose unit cost changed (reference data: rare, so a scan is fine)
    if cost_skus:
        _temp(con, "_cost_skus", "shop_id VARCHAR, sku_id VARCHAR", cost_skus)
        extra = [r[0] for r in con.execute("SELECT DISTINCT order_id FROM line_item_facts li SEMI JOIN _cost_skus c "
                                           "USING (shop_id, sku_id)").fetchall()]
        orders = sorted(set(orders) | set(extra))
    touched_units = _order_facts(con, orders)
    moved = _moved_as_of(con)
    _dispatch(con, orders, moved)
    _stock(con, changes, touched_units, cost_skus)
    _listing(con, changes, touched_units)


def _order_facts(con, orders: list[str]) -> list[tuple]:
    """order_facts and line_item_facts of `orders` (and the per-buyer columns of their buyers' other
    orders); returns (shop_id, sku_id, product_id, day) of every line item removed or written.

    Each key list goes through an index once (at 10M orders a lookup of 2,000 keys costs 0.1-0.4 s): the
    changed orders (`_o`), their new facts (`_of`) and line items (`_lif`) are kept in temp tables for what
    follows, the rows replaced are moved into temp tables (`take_like`) for what the refresh needs of them."""
    if not orders:
        return []
    params = [orders]
    con.execute("CREATE OR REPLACE TEMP TABLE _o AS SELECT * FROM orders WHERE list_contains(?, order_id)", params)
    # buyers before (from the facts, deleted here) and now (from the orders): both sequences change
    buyers = {r[0] for r in con.execute(
        "SELECT shop_id || chr(31) || buyer_id FROM _o WHERE buyer_id IS NOT NULL").fetchall()}
    con.execute("CREATE OR REPLACE TEMP TABLE _bk AS SELECT * FROM buyer_keys WHERE list_contains(?, buyer)",
                [sorted(buyers)])
    take_like(con, "_of_removed", "order_facts", "list_contains(?, order_id)", params)
    # an order's buyer before: nearly always its buyer now, whose key `_bk` holds; any other looked up
    old_keys = [r[0] for r in con.execute("SELECT DISTINCT buyer_key FROM _of_removed WHERE buyer_key IS NOT NULL "
                                          "AND buyer_key NOT IN (SELECT buyer_key FROM _bk) ORDER BY 1").fetchall()]
    if old_keys:
        con.execute("INSERT INTO _bk SELECT * FROM buyer_keys WHERE list_contains(?, buyer_key)", [old_keys])
        buyers |= {r[0] for r in con.execute("SELECT buyer FROM _bk WHERE list_contains(?, buyer_key)",
                                             [old_keys]).fetchall()}
    buyer_ids = sorted({b.split(SEP, 1)[1] for b in buyers})
    _temp(con, "_buyers", "buyer VARCHAR", [(b,) for b in buyers])
    # every order of those buyers, narrow: what the per-buyer columns need
    con.execute("""CREATE OR REPLACE TEMP TABLE _buyer_orders AS
                   SELECT order_id, shop_id, buyer_id, create_time, paid_time, status FROM orders
                   WHERE list_contains(?, buyer_id)""", [buyer_ids])
    con.execute("DELETE FROM _buyer_orders WHERE shop_id || chr(31) || buyer_id NOT IN (SELECT buyer FROM _buyers)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _win AS {WINDOWS.format(o='_buyer_orders')}")
    first_new = con.execute("SELECT coalesce(max(buyer_key), 0) FROM buyer_keys").fetchone()[0]
    con.execute(NEW_BUYERS.format(o="_o", bk="_bk"))
    con.execute("INSERT INTO _bk SELECT * FROM buyer_keys WHERE buyer_key > ?", [first_new])
    aff = "(SELECT * FROM affiliate_order_items WHERE list_contains($orders, order_id))"
    _rows_of(con, "_of", "order_facts", ORDER_FACTS_ROWS.format(o="_o", win="_win", bk="_bk", aff=aff), {"orders": orders})
    # the buyers' other orders: only the per-buyer columns can have changed
    others = [r[0] for r in con.execute("SELECT order_id FROM _win WHERE NOT list_contains($orders, order_id)",
                                        {"orders": orders}).fetchall()]
    _temp_like(con, "_others_before", "order_facts", [])
    _temp_like(con, "_others_after", "order_facts", [])
    if others:
        con.execute("INSERT INTO _others_before SELECT * FROM order_facts WHERE list_contains(?, order_id)",
                    [others])
        con.execute("""INSERT INTO _others_after
                       SELECT b.* REPLACE (w.first_paid AS first_paid, w.prev_counted_time AS prev_counted_time)
                       FROM _others_before b JOIN _win w USING (order_id)
                       WHERE b.first_paid IS DISTINCT FROM w.first_paid
                          OR b.prev_counted_time IS DISTINCT FROM w.prev_counted_time""")
        con.execute("DELETE FROM _others_before WHERE order_id NOT IN (SELECT order_id FROM _others_after)")
        for row in con.execute("SELECT first_paid, prev_counted_time, order_id FROM _others_after").fetchall():
            con.execute("UPDATE order_facts SET first_paid = ?, prev_counted_time = ? WHERE order_id = ?", row)
    _rollup(con, "order_rollup", added="(SELECT * FROM _of UNION ALL SELECT * FROM _others_after)",
            removed="(SELECT * FROM _of_removed UNION ALL SELECT * FROM _others_before)")
    # line items of the changed orders: the ones there before, and the ones written now
    take_like(con, "_lif_removed", "line_item_facts", "list_contains(?, order_id)", params)
    lines = "(SELECT * FROM order_line_items WHERE list_contains($orders, order_id))"
    _rows_of(con, "_lif", "line_item_facts", LINE_ITEM_FACTS_ROWS.format(li=lines, of="_of"), {"orders": orders})
    _units(con)
    _rollup(con, "line_item_rollup", added="_lif", removed="_lif_removed")
    day = "CAST(timezone(s.timezone, li.create_time) AS DATE)"
    return con.execute(f"SELECT li.shop_id, li.sku_id, li.product_id, {day} FROM _lif_removed li JOIN shops s USING "
                       f"(shop_id) UNION ALL SELECT li.shop_id, li.sku_id, li.product_id, {day} FROM _lif li "
                       "JOIN shops s USING (shop_id)").fetchall()


def _rollup(con, table: str, *, added: str, removed: str) -> None:
    """Bring `table` (a rollup) up to date with the facts `added` and `removed` (relations of the facts'
    columns): both summed by the rebuild's SQL, their difference added to the rows of the same groups (a
    group left with no rows dropped). It costs the changed rows, not the buckets they fall in (re-summing
    those read the whole facts table once late changes spread over the history: 0.2-0.6 s at 10M orders).
    Exact: counts and decimal sums add up; the facts' money is never NULL (it comes from NOT NULL
    columns), but for unit costs, summed with their count (`costed`), NULL when that is 0."""
    rows_sql, keys, sums = ROLLUPS[table]
    columns = ", ".join((*keys, *sums))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _delta AS
        SELECT {", ".join(keys)}, {", ".join(f"sum({c}) AS {c}" for c in sums)} FROM (
            SELECT * FROM ({rows_sql.format(facts=added)}) a({columns})
            UNION ALL SELECT {", ".join(keys)}, {", ".join(f"-{c}" for c in sums)}
            FROM ({rows_sql.format(facts=removed)}) r({columns}))
        GROUP BY ALL HAVING {" OR ".join(f"coalesce(sum({c}), 0) <> 0" for c in sums)}""")
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM d.{c}" for c in keys)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _old AS SELECT t.rowid AS row_id, t.* FROM {table} t "
                f"SEMI JOIN _delta d ON {same}")
    con.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT row_id FROM _old)")
    merged = {c: f"coalesce(t.{c}, 0) + coalesce(d.{c}, 0)" for c in sums}
    for total, count in ROLLUP_COUNTED.items():
        if total in merged:
            merged[total] = f"CASE WHEN {merged[count]} > 0 THEN {merged[total]} END"
    con.execute(f"INSERT INTO {table} SELECT {', '.join(f'd.{c}' for c in keys)}, {', '.join(merged.values())} "
                f"FROM _delta d LEFT JOIN _old t ON {same} WHERE {merged['n']} > 0")


def _rows_of(con, name: str, table: str, rows_sql: str, params=None) -> None:
    """Compute rows of `table` into the temp table `name` (same columns), then add them to `table`: what
    follows reads them there instead of looking their keys up again."""
    _temp_like(con, name, table, [])
    con.execute(f"INSERT INTO {name} {rows_sql}", params or [])
    con.execute(f"INSERT INTO {table} SELECT * FROM {name}")


def _units(con) -> None:
    """`sku_units_daily` after the line items of the changed orders were replaced: the units of the ones
    removed (`_lif_removed`) out, of the new ones (`_lif`) in, computed by the rebuild's SQL; a day left
    with none is dropped."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _units_delta AS
                    SELECT shop_id, sku_id, date, sum(units) AS units FROM (
                        SELECT shop_id, sku_id, date, -units AS units FROM ({SKU_UNITS.format(li='_lif_removed')})
                        UNION ALL {SKU_UNITS.format(li='_lif')})
                    GROUP BY ALL HAVING sum(units) <> 0""")
    if not con.execute("SELECT count(*) FROM _units_delta").fetchall()[0][0]:
        return
    con.execute("""CREATE OR REPLACE TEMP TABLE _units_new AS
                   SELECT d.shop_id, d.sku_id, d.date, coalesce(u.units, 0) + d.units AS units
                   FROM _units_delta d LEFT JOIN sku_units_daily u USING (shop_id, sku_id, date)""")
    con.execute("""DELETE FROM sku_units_daily u WHERE EXISTS (SELECT 1 FROM _units_delta d WHERE d.shop_id = u.shop_id
                   AND d.sku_id = u.sku_id AND d.date = u.date)""")
    con.execute("INSERT INTO sku_units_daily SELECT * FROM _units_new WHERE units <> 0")


def _dispatch(con, orders: list[str], moved: list[str]) -> None:
    """dispatch_facts and backlog_daily of the changed orders, and of the orders awaiting shipment in shops
    whose orders cursor moved: when it moved forward, their `as_of` and `late` are updated in place and only
    the days that ended since are added to the backlog (the rows already there stay true)."""
    cursors = {r[0]: (r[1], r[2]) for r in con.execute("""
        SELECT s.shop_id, CAST(f.value AS BIGINT), CAST(s.cursor AS BIGINT) FROM sync_state s
        JOIN fact_state f ON f.name = 'as_of' AND f.shop_id = s.shop_id
        WHERE s.resource = 'orders' AND regexp_full_match(s.cursor, '[0-9]+')""").fetchall()}
    forward = sorted(s for s in moved if s in cursors and cursors[s][1] > cursors[s][0])
    other = sorted(set(moved) - set(forward))
    waiting = [r[0] for r in con.execute(
        "SELECT order_id FROM dispatch_facts WHERE rts_time IS NULL AND list_contains(?, shop_id)", [other]
    ).fetchall()] if other else []
    scope = sorted(set(orders) | set(waiting))
    o = "(SELECT * FROM orders WHERE list_contains($ids, order_id))"
    f = "(SELECT * FROM order_fulfilment WHERE list_contains($ids, order_id))"
    if scope:
        # the orders and fulfilment of the scope read once: `_o` holds the changed orders already
        if scope == orders:
            con.execute("CREATE OR REPLACE TEMP TABLE _do AS SELECT * FROM _o")
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _do AS SELECT * FROM {o}", {"ids": scope})
        con.execute(f"CREATE OR REPLACE TEMP TABLE _df AS SELECT * FROM {f}", {"ids": scope})
        con.execute("DELETE FROM dispatch_facts WHERE list_contains(?, order_id)", [scope])
        _rows_of(con, "_dispatched", "dispatch_facts", DISPATCH_FACTS_ROWS.format(o="_do", f="_df"))
        con.execute("DELETE FROM backlog_daily WHERE list_contains(?, order_id)", [scope])
        con.execute(BACKLOG_DAILY.format(df="_dispatched", o="_do", f="_df"))
    if not forward:
        return
    _temp(con, "_moved", "shop_id VARCHAR, old_as_of TIMESTAMPTZ, as_of TIMESTAMPTZ",
          [(s, *(to_time(v) for v in cursors[s])) for s in forward])
    _temp(con, "_scope", "order_id VARCHAR", [(o,) for o in scope])
    # the waiting rows found first, then updated by rowid: a condition on every row (`NOT list_contains` of
    # the scope) read the whole table, 0.36-0.47 s at 10M orders against 0.01 s
    con.execute("""UPDATE dispatch_facts SET as_of = w.as_of,
                          late = coalesce(dispatch_facts.rts_time > dispatch_facts.rts_sla_time,
                                          w.as_of > dispatch_facts.rts_sla_time, false)
                   FROM (SELECT d.rowid AS row_id, m.as_of FROM dispatch_facts d JOIN _moved m USING (shop_id)
                         WHERE d.rts_time IS NULL AND d.order_id NOT IN (SELECT order_id FROM _scope)) w
                   WHERE dispatch_facts.rowid = w.row_id""")
    # the backlog gains a day for each order still waiting when a shop-local day ended between the cursors
    zones = dict(con.execute("SELECT shop_id, timezone FROM shops").fetchall())
    crossed = [s for s in forward if s in zones and _local_day(cursors[s][0], zones[s]) != _local_day(cursors[s][1], zones[s])]
    if not crossed:
        return
    con.execute("""CREATE OR REPLACE TEMP TABLE _waiting AS
                   SELECT d.*, m.old_as_of FROM dispatch_facts d JOIN _moved m USING (shop_id)
                   WHERE d.rts_time IS NULL AND list_contains($crossed, d.shop_id)
                     AND d.order_id NOT IN (SELECT order_id FROM _scope)""", {"crossed": crossed})
    # no orders for the backlog's second part (cancelled before they shipped): dispatch_facts never holds those
    con.execute(BACKLOG_DAILY.replace("WHERE paid_time <= day_end",
                                      "WHERE day_end > (SELECT old_as_of FROM _waiting w WHERE w.order_id = "
                                      "days.order_id) AND paid_time <= day_end").format(
        df="(SELECT * EXCLUDE (old_as_of) FROM _waiting)", o="(SELECT * FROM orders LIMIT 0)",
        f="(SELECT * FROM order_fulfilment LIMIT 0)"))


def _shift(day: date, days: int) -> date:
    """`day` moved by `days`, kept within FAR_PAST..FAR_FUTURE."""
    if day <= FAR_PAST + timedelta(days=30):
        return FAR_PAST
    if day >= FAR_FUTURE - timedelta(days=30):
        return FAR_FUTURE
    return day + timedelta(days=days)


def time_ranges(column: str, days: list[tuple[date, date]], literal: str = "TIMESTAMPTZ") -> str:
    """`column` within any of the day ranges (merged; a day's bounds widened by one on each side for time
    zones), as constants DuckDB can skip row groups with; `literal` DATE for a date column (comparing a
    date with a TIMESTAMPTZ casts every row through the time zone: 3 s over 3M rows)."""
    merged: list[list[date]] = []
    for lo, hi in sorted(days):
        if merged and (merged[-1][1] == FAR_FUTURE or lo <= merged[-1][1] + timedelta(days=1)):
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if not merged:
        return "false"
    if merged[0][0] == FAR_PAST or merged[-1][1] == FAR_FUTURE:
        return "true" if len(merged) == 1 and merged[0] == [FAR_PAST, FAR_FUTURE] else "(" + " OR ".join(
            _between(column, lo, hi, literal) for lo, hi in merged) + ")"
    return "(" + " OR ".join(_between(column, lo, hi, literal) for lo, hi in merged) + ")"


def _between(column: str, lo: date, hi: date, literal: str) -> str:
    parts = [] if lo == FAR_PAST else [f"{column} >= {literal} '{_shift(lo, -1)}'"]
    parts += [] if hi == FAR_FUTURE else [f"{column} < {literal} '{_shift(hi, 2)}'"]
    return "(" + (" AND ".join(parts) or "true") + ")"


def _local_day(seconds: int, zone: str) -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(seconds, ZoneInfo(zone)).date()


def to_time(seconds: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def _stock(con, changes: dict[str, set[str]], touched: list[tuple], cost_skus: list[tuple]) -> None:
    """stock_daily for the (shop, SKU, days) that changed snapshots, units, lead times or spans reach."""
    scope: list[tuple] = []
    for shop_id, sku_id, _, day in touched:  # units count in the 14 days from the item's day
        if sku_id is not None:
            scope.append((shop_id, sku_id, day, day + timedelta(days=13)))
    for key in changes.get("stock", ()):
        shop_id, sku_id, day = key.split(SEP)
        scope.append((shop_id, sku_id, date.fromisoformat(day), FAR_FUTURE))
    scope += [(shop_id, sku_id, FAR_PAST, FAR_FUTURE) for shop_id, sku_id in cost_skus]  # lead times: every day
    before = {r[0]: (r[1], date.fromisoformat(r[2])) for r in con.execute(
        "SELECT shop_id, since, value FROM fact_state WHERE name = 'stock_span'").fetchall()}
    spans = _stock_spans(con, changes, before)
    for shop_id, (first, last) in spans.items():
        old = before.get(shop_id)
        if old is None or old[0] != first:
            scope.append((shop_id, "*", FAR_PAST, FAR_FUTURE))
        elif old[1] != last:  # days added at the end: every SKU of the shop from there
            scope.append((shop_id, "*", old[1] + timedelta(days=1), FAR_FUTURE))
    # what `stock_daily` knows: every (SKU, place) of a shop has a row on the shop's last day computed
    # (days before a place's first snapshot hold 0), so the places and SKUs known are read on that day
    # alone, not from every snapshot (3.6M rows at 10M orders and 900 days)
    _temp(con, "_stock_last", "shop_id VARCHAR, last DATE", [(shop_id, last) for shop_id, (_, last) in before.items()])
    loaded = sorted({tuple(k.split(SEP)) for k in changes.get("stock", ())})
    _temp(con, "_stock_loaded", "shop_id VARCHAR, sku_id VARCHAR, date DATE", loaded)
    # a SKU in a warehouse (or product) never seen before: every day of the SKU
    scope += [(r[0], r[1], FAR_PAST, FAR_FUTURE) for r in con.execute("""
        SELECT DISTINCT i.shop_id, i.sku_id FROM inventory_snapshots i SEMI JOIN _stock_loaded USING (shop_id, sku_id, date)
        WHERE NOT EXISTS (SELECT 1 FROM stock_daily d JOIN _stock_last l ON l.shop_id = d.shop_id AND d.date = l.last
                          WHERE d.shop_id = i.shop_id AND d.sku_id = i.sku_id AND d.warehouse_id = i.warehouse_id
                            AND d.product_id = i.product_id)""").fetchall()] if loaded else []
    if not scope:
        return
    _temp(con, "_stock_scope0", "shop_id VARCHAR, sku_id VARCHAR, lo DATE, hi DATE", scope)
    unknown = sorted(set(spans) - set(before))  # a shop with no span saved: its snapshots read
    con.execute("""CREATE OR REPLACE TEMP TABLE _stock_scope AS
                   SELECT s.shop_id, k.sku_id, s.lo, s.hi FROM _stock_scope0 s
                   JOIN (SELECT d.shop_id, d.sku_id FROM stock_daily d JOIN _stock_last l
                           ON l.shop_id = d.shop_id AND d.date = l.last
                         UNION SELECT shop_id, sku_id FROM _stock_loaded
                         UNION SELECT shop_id, sku_id FROM inventory_snapshots WHERE list_contains(?, shop_id)) k
                     ON k.shop_id = s.shop_id AND s.sku_id IN ('*', k.sku_id)""", [unknown])
    con.execute("""DELETE FROM stock_daily WHERE rowid IN (SELECT d.rowid FROM stock_daily d JOIN _stock_scope sc
                   ON sc.shop_id = d.shop_id AND sc.sku_id = d.sku_id AND d.date BETWEEN sc.lo AND sc.hi)""")
    con.execute(STOCK_DAILY.format(span="_stock_span", scope="_stock_scope", units_since=time_ranges(
        "u.date", [(_shift(lo, -14), _shift(hi, 1)) for _, _, lo, hi in scope], "DATE")))


def _stock_spans(con, changes: dict[str, set[str]],
                 saved: dict[str, tuple[date, date]]) -> dict[str, tuple[date, date]]:
    """Each shop's snapshot span as `_stock_span` (shop_id, first, last), without reading the snapshots: the
    span the last refresh saved (`saved`), widened by the days of the snapshots loaded since (every one is
    recorded, and snapshots are never deleted: a snapshot API keeps each day's rows). Only a shop with no span saved
    is read (its snapshots alone). At 10M orders and 900 days, reading every snapshot took 3.6M rows a
    refresh, three times over."""
    spans = dict(saved)
    loaded: dict[str, list[date]] = {}
    for key in changes.get("stock", ()):
        shop_id, _, day = key.split(SEP)
        loaded.setdefault(shop_id, []).append(date.fromisoformat(day))
    if unknown := sorted(set(loaded) - set(spans)):
        spans |= {r[0]: (r[1], r[2]) for r in con.execute(
            "SELECT shop_id, min(date), max(date) FROM inventory_snapshots WHERE list_contains(?, shop_id) GROUP BY ALL",
            [unknown]).fetchall()}
    for shop_id, days in loaded.items():
        first, last = spans[shop_id]
        spans[shop_id] = (min(first, *days), max(last, *days))
    _temp(con, "_stock_span", "shop_id VARCHAR, first DATE, last DATE", [(s, *span) for s, span in spans.items()])
    return spans


def _listing(con, changes: dict[str, set[str]], touched: list[tuple]) -> None:
    """listing_daily: days that entered a shop's window, and products whose statuses or GMV before changed."""
    shops = {r[0] for r in con.execute("SELECT DISTINCT shop_id FROM product_status_history").fetchall()}
    if not shops:
        con.execute("DELETE FROM listing_daily")
        con.execute("CREATE OR REPLACE TEMP TABLE listing_daily_span (shop_id VARCHAR, first DATE, last DATE)")
        return
    before = {r[0]: (r[1], date.fromisoformat(r[2])) for r in con.execute(
        "SELECT shop_id, since, value FROM fact_state WHERE name = 'listing_span'").fetchall()}
    # each shop's last paid day: read among recent line items; a shop with none there, over all of its own
    recent = min((last for _, last in before.values()), default=FAR_PAST + timedelta(days=2)) - timedelta(days=2)
    lp = dict(con.execute(LAST_PRODUCT_DAYS.format(where="li.create_time >= CAST(? AS TIMESTAMPTZ)"), [recent])
              .fetchall())
    unknown = [s for s in shops if s not in lp]
    if unknown:
        lp |= dict(con.execute(LAST_PRODUCT_DAYS.format(where="list_contains(?, li.shop_id)"), [unknown]).fetchall())
    _temp(con, "_last_days", "shop_id VARCHAR, last DATE", list(lp.items()))
    con.execute(f"CREATE OR REPLACE TEMP TABLE listing_daily_span AS {LISTING_SPAN.format(last_days='_last_days')}")
    spans = {r[0]: (r[1], r[2]) for r in con.execute("SELECT shop_id, first, last FROM listing_daily_span").fetchall()}
    products = {tuple(k.split(SEP)) for k in changes.get("product", ())}
    # a changed line item moves the GMV before every status of its product that began within 28 days after it
    items = sorted({(s, p, d) for s, _, p, d in touched if p is not None and s in shops})
    if items:
        _temp(con, "_items", "shop_id VARCHAR, product_id VARCHAR, day DATE", items)
        products |= {(r[0], r[1]) for r in con.execute("""
            SELECT DISTINCT h.shop_id, h.product_id FROM product_status_history h JOIN shops s USING (shop_id)
            JOIN _items i ON i.shop_id = h.shop_id AND i.product_id = h.product_id
            WHERE h.status <> 'ACTIVATE' AND i.day BETWEEN CAST(timezone(s.timezone, h.since) AS DATE) - 28
                                               AND CAST(timezone(s.timezone, h.since) AS DATE) - 1""").fetchall()}
    # GMV before each status: kept from the rows there now unless its product changed
    _temp(con, "_dirty_products", "shop_id VARCHAR, product_id VARCHAR", sorted(products))
    con.execute("""CREATE OR REPLACE TEMP TABLE _gmv AS
                   SELECT DISTINCT shop_id, product_id, since, gmv_before FROM listing_daily
                   WHERE NOT active AND NOT EXISTS (SELECT 1 FROM _dirty_products p WHERE p.shop_id = listing_daily.shop_id
                                                    AND p.product_id = listing_daily.product_id)""")
    scope: list[tuple] = []
    window = {s: (max(first, last - timedelta(days=120)), last) for s, (first, last) in spans.items()}
    for shop_id, (lo, hi) in window.items():
        old = before.get(shop_id)
        if old is None:
            scope.append((shop_id, "*", FAR_PAST, FAR_FUTURE))
            continue
        old_lo, old_hi = max(old[0], old[1] - timedelta(days=120)), old[1]
        if (lo, hi) != (old_lo, old_hi):
            con.execute("DELETE FROM listing_daily WHERE shop_id = ? AND (date < ? OR date > ?)", [shop_id, lo, hi])
            if hi > old_hi:
                scope.append((shop_id, "*", max(old_hi + timedelta(days=1), lo), hi))
            if lo < old_lo:
                scope.append((shop_id, "*", lo, min(old_lo - timedelta(days=1), hi)))
    for shop_id in set(before) - set(window):
        con.execute("DELETE FROM listing_daily WHERE shop_id = ?", [shop_id])
    scope += [(s, p, FAR_PAST, FAR_FUTURE) for s, p in products]
    if not scope:
        return
    _temp(con, "_listing_scope", "shop_id VARCHAR, product_id VARCHAR, lo DATE, hi DATE", scope)
    con.execute("""DELETE FROM listing_daily d WHERE EXISTS (SELECT 1 FROM _listing_scope sc WHERE sc.shop_id = d.shop_id
                   AND sc.product_id IN ('*', d.product_id) AND d.date BETWEEN sc.lo AND sc.hi)""")
    # ... and computed for the statuses in the windows that have none (new, or their product changed)
    con.execute("""CREATE OR REPLACE TEMP TABLE _need AS
                   SELECT DISTINCT h.shop_id, h.product_id, h.since FROM product_status_history h
                   JOIN listing_daily_span sp USING (shop_id) JOIN shops s USING (shop_id)
                   WHERE h.status <> 'ACTIVATE'
                     AND (h.until IS NULL OR CAST(timezone(s.timezone, h.until) AS DATE) >= sp.last - 121)
                     AND NOT EXISTS (SELECT 1 FROM _gmv g WHERE g.shop_id = h.shop_id AND g.product_id = h.product_id
                                     AND g.since = h.since)""")
    first = con.execute("SELECT min(since) - INTERVAL 30 DAY FROM _need").fetchone()[0]
    if first is not None:
        con.execute(f"INSERT INTO _gmv {GMV_BEFORE.format(need='_need', where='create_time >= ?')}", [first])
    con.execute(LISTING_DAILY.format(span="SELECT * FROM listing_daily_span", scope="_listing_scope", gmv="_gmv"))
