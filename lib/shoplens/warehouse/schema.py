"""The warehouse schema as an ordered list of migrations.

Money is DECIMAL(20, 4), never a float; times are TIMESTAMPTZ (instants, shown in UTC); ids are strings.
Each migration runs once, in a transaction, and is recorded in `schema_migrations`.
"""

from __future__ import annotations

MONEY = "DECIMAL(20, 4)"

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "shops, orders, line items, refunds, sync runs", f"""
        CREATE TABLE shops (
            shop_id       VARCHAR PRIMARY KEY,
            name          VARCHAR NOT NULL,
            region        VARCHAR NOT NULL,
            seller_type   VARCHAR,
            code          VARCHAR,
            currency      VARCHAR NOT NULL,
            timezone      VARCHAR NOT NULL,
            source        VARCHAR NOT NULL,
            updated_at    TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE orders (
            order_id          VARCHAR PRIMARY KEY,
            shop_id           VARCHAR NOT NULL,
            status            VARCHAR NOT NULL,
            create_time       TIMESTAMPTZ NOT NULL,
            update_time       TIMESTAMPTZ NOT NULL,
            paid_time         TIMESTAMPTZ,
            cancel_time       TIMESTAMPTZ,
            buyer_id          VARCHAR,
            currency          VARCHAR NOT NULL,
            sub_total         {MONEY} NOT NULL,
            shipping_fee      {MONEY} NOT NULL,
            seller_discount   {MONEY} NOT NULL,
            platform_discount {MONEY} NOT NULL,
            tax               {MONEY} NOT NULL,
            total_amount      {MONEY} NOT NULL,
            source            VARCHAR NOT NULL,
            synced_at         TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE order_line_items (
            line_item_id      VARCHAR PRIMARY KEY,
            order_id          VARCHAR NOT NULL,
            shop_id           VARCHAR NOT NULL,
            product_id        VARCHAR,
            product_name      VARCHAR,
            sku_id            VARCHAR,
            sku_name          VARCHAR,
            seller_sku        VARCHAR,
            original_price    {MONEY} NOT NULL,
            sale_price        {MONEY} NOT NULL,
            seller_discount   {MONEY} NOT NULL,
            platform_discount {MONEY} NOT NULL,
            currency          VARCHAR NOT NULL,
            display_status    VARCHAR
        );
        CREATE TABLE refunds (
            return_id      VARCHAR PRIMARY KEY,
            shop_id        VARCHAR NOT NULL,
            order_id       VARCHAR NOT NULL,
            return_type    VARCHAR,
            return_status  VARCHAR NOT NULL,
            create_time    TIMESTAMPTZ NOT NULL,
            update_time    TIMESTAMPTZ NOT NULL,
            currency       VARCHAR NOT NULL,
            refund_total   {MONEY} NOT NULL,
            source         VARCHAR NOT NULL,
            synced_at      TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE sync_runs (
            run_id       VARCHAR NOT NULL,
            shop_id      VARCHAR NOT NULL,
            resource     VARCHAR NOT NULL,
            started_at   TIMESTAMPTZ NOT NULL,
            finished_at  TIMESTAMPTZ,
            status       VARCHAR NOT NULL,
            pages        INTEGER NOT NULL DEFAULT 0,
            rows_loaded  INTEGER NOT NULL DEFAULT 0,
            retries      INTEGER NOT NULL DEFAULT 0,
            error        VARCHAR,
            PRIMARY KEY (run_id, shop_id, resource)
        );
    """),
]

#: the tables a sync fills, with their primary key, in load order
TABLE_KEYS = {
    "shops": "shop_id",
    "orders": "order_id",
    "order_line_items": "line_item_id",
    "refunds": "return_id",
}
