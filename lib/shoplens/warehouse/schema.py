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

MIGRATIONS.append((2, "every synced resource, sync state, inserted/updated counts", f"""
    CREATE TABLE sync_state (
        shop_id      VARCHAR NOT NULL,
        resource     VARCHAR NOT NULL,
        -- end (exclusive) of the last window loaded: Unix seconds, or an ISO date for daily analytics
        cursor       VARCHAR NOT NULL,
        -- analytics only: the API's latest available date at that time
        latest_available DATE,
        updated_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, resource)
    );
    ALTER TABLE sync_runs ADD COLUMN rows_inserted INTEGER DEFAULT 0;
    ALTER TABLE sync_runs ADD COLUMN rows_updated INTEGER DEFAULT 0;
    CREATE TABLE cancellations (
        cancel_id      VARCHAR PRIMARY KEY,
        shop_id        VARCHAR NOT NULL,
        order_id       VARCHAR NOT NULL,
        cancel_type    VARCHAR,
        cancel_status  VARCHAR NOT NULL,
        role           VARCHAR,
        create_time    TIMESTAMPTZ NOT NULL,
        update_time    TIMESTAMPTZ NOT NULL,
        currency       VARCHAR,
        refund_total   {MONEY},
        source         VARCHAR NOT NULL,
        synced_at      TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE products (
        product_id   VARCHAR PRIMARY KEY,
        shop_id      VARCHAR NOT NULL,
        title        VARCHAR,
        status       VARCHAR,
        create_time  TIMESTAMPTZ,
        update_time  TIMESTAMPTZ,
        synced_at    TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE skus (
        sku_id       VARCHAR PRIMARY KEY,
        product_id   VARCHAR NOT NULL,
        shop_id      VARCHAR NOT NULL,
        seller_sku   VARCHAR,
        currency     VARCHAR,
        price        {MONEY}
    );
    CREATE TABLE affiliate_order_items (
        item_key              VARCHAR PRIMARY KEY,
        order_id              VARCHAR NOT NULL,
        shop_id               VARCHAR NOT NULL,
        status                VARCHAR NOT NULL,
        create_time           TIMESTAMPTZ NOT NULL,
        delivery_time         TIMESTAMPTZ,
        product_id            VARCHAR,
        quantity              INTEGER NOT NULL,
        currency              VARCHAR NOT NULL,
        price                 {MONEY},
        creator_username      VARCHAR,
        content_type          VARCHAR,
        content_id            VARCHAR,
        commission_rate       DECIMAL(9, 6),
        estimated_commission_base {MONEY},
        estimated_commission  {MONEY},
        actual_commission_base {MONEY},
        actual_commission     {MONEY},
        refunded_quantity     INTEGER,
        returned_quantity     INTEGER,
        synced_at             TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE shop_daily (
        shop_id           VARCHAR NOT NULL,
        date              DATE NOT NULL,
        currency          VARCHAR NOT NULL,
        gmv               {MONEY},
        gmv_video         {MONEY},
        gmv_live          {MONEY},
        gmv_product_card  {MONEY},
        gmv_max_share     DECIMAL(9, 6),
        orders            INTEGER,
        sku_orders        INTEGER,
        items_sold        INTEGER,
        buyers            INTEGER,
        refunds           {MONEY},
        page_views        INTEGER,
        visitors          INTEGER,
        conversion_rate   DECIMAL(9, 6),
        synced_at         TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, date)
    );
    CREATE TABLE product_daily (
        shop_id     VARCHAR NOT NULL,
        date        DATE NOT NULL,
        product_id  VARCHAR NOT NULL,
        currency    VARCHAR,
        gmv         {MONEY},
        items_sold  INTEGER,
        orders      INTEGER,
        synced_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, date, product_id)
    );
    CREATE TABLE video_daily (
        shop_id      VARCHAR NOT NULL,
        date         DATE NOT NULL,
        video_id     VARCHAR NOT NULL,
        title        VARCHAR,
        username     VARCHAR,
        post_time    VARCHAR,
        duration_s   INTEGER,
        views        BIGINT,
        ctr          DECIMAL(9, 6),
        currency     VARCHAR,
        gmv          {MONEY},
        gpm          {MONEY},
        sku_orders   INTEGER,
        items_sold   INTEGER,
        buyers       INTEGER,
        synced_at    TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, date, video_id)
    );
    CREATE TABLE live_sessions (
        live_id             VARCHAR PRIMARY KEY,
        shop_id             VARCHAR NOT NULL,
        title               VARCHAR,
        username            VARCHAR,
        start_time          TIMESTAMPTZ NOT NULL,
        end_time            TIMESTAMPTZ,
        currency            VARCHAR,
        gmv                 {MONEY},
        gmv_24h             {MONEY},
        sku_orders          INTEGER,
        items_sold          INTEGER,
        customers           INTEGER,
        products_sold       INTEGER,
        products_added      INTEGER,
        click_to_order_rate DECIMAL(9, 6),
        views               BIGINT,
        viewers             BIGINT,
        avg_concurrent      INTEGER,
        peak_concurrent     INTEGER,
        avg_viewing_s       INTEGER,
        likes               BIGINT,
        comments            BIGINT,
        shares              BIGINT,
        new_followers       BIGINT,
        product_impressions BIGINT,
        product_clicks      BIGINT,
        click_through_rate  DECIMAL(9, 6),
        synced_at           TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE statements (
        statement_id    VARCHAR PRIMARY KEY,
        shop_id         VARCHAR NOT NULL,
        statement_time  TIMESTAMPTZ NOT NULL,
        currency        VARCHAR NOT NULL,
        revenue         {MONEY},
        fees            {MONEY},
        adjustments     {MONEY},
        shipping_cost   {MONEY},
        net_sales       {MONEY},
        settlement      {MONEY},
        payment_status  VARCHAR,
        payment_time    TIMESTAMPTZ,
        synced_at       TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE promotions (
        promotion_id   VARCHAR PRIMARY KEY,
        shop_id        VARCHAR NOT NULL,
        title          VARCHAR,
        activity_type  VARCHAR,
        status         VARCHAR,
        begin_time     TIMESTAMPTZ,
        end_time       TIMESTAMPTZ,
        create_time    TIMESTAMPTZ,
        update_time    TIMESTAMPTZ,
        synced_at      TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE ad_campaign_daily (
        campaign_id    VARCHAR NOT NULL,
        date           DATE NOT NULL,
        advertiser_id  VARCHAR NOT NULL,
        shop_id        VARCHAR NOT NULL,
        campaign_name  VARCHAR,
        currency       VARCHAR,
        spend          {MONEY},
        impressions    BIGINT,
        clicks         BIGINT,
        conversions    BIGINT,
        roas           DECIMAL(12, 4),
        synced_at      TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (campaign_id, date)
    );
"""))

MIGRATIONS.append((3, "reference data: FX rates and product unit costs", f"""
    -- ECB reference-rate style: units of `currency` per one euro on `date` (no rows at weekends)
    CREATE TABLE fx_rates (
        currency   VARCHAR NOT NULL,
        date       DATE NOT NULL,
        per_eur    DECIMAL(18, 6) NOT NULL,
        source     VARCHAR NOT NULL,
        loaded_at  TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (currency, date)
    );
    CREATE TABLE product_costs (
        shop_id    VARCHAR NOT NULL,
        sku_id     VARCHAR NOT NULL,
        currency   VARCHAR NOT NULL,
        unit_cost  {MONEY} NOT NULL,
        source     VARCHAR NOT NULL,
        loaded_at  TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, sku_id)
    );
"""))

#: Rebuilds the derived fact tables from the synced ones: each order (and line item) once, with what
#: the metric compiler needs precomputed: payment and cancellation flags, a dense integer buyer key,
#: the buyer's first paid order, the order's affiliate attribution, the SKU's unit cost. Stored sorted
#: by shop and time so a period reads only its row groups. Run after every load (sync, replay, cost
#: import); `Warehouse.refresh_facts()` does, in one transaction.
FACTS_REFRESH = f"""
    DELETE FROM order_facts;
    INSERT INTO order_facts
    WITH aff AS (
        SELECT order_id, min(creator_username) AS creator, min(content_type) AS content_type,
               min(content_id) AS content_id
        FROM affiliate_order_items GROUP BY order_id
    )
    SELECT o.order_id, o.shop_id, o.create_time, o.paid_time IS NOT NULL, o.status = 'CANCELLED',
           CASE WHEN o.buyer_id IS NOT NULL THEN dense_rank() OVER (ORDER BY o.shop_id, o.buyer_id) END,
           o.sub_total, o.currency, a.order_id IS NOT NULL, a.creator, a.content_type, a.content_id,
           o.paid_time IS NOT NULL AND o.buyer_id IS NOT NULL AND row_number() OVER (
               PARTITION BY o.shop_id, o.buyer_id, o.paid_time IS NOT NULL ORDER BY o.create_time, o.order_id) = 1,
           CASE WHEN o.paid_time IS NOT NULL AND o.status <> 'CANCELLED' THEN lag(o.create_time) OVER (
               PARTITION BY o.shop_id, o.buyer_id, o.paid_time IS NOT NULL AND o.status <> 'CANCELLED'
               ORDER BY o.create_time, o.order_id) END,
           o.platform_discount
    FROM orders o LEFT JOIN aff a ON a.order_id = o.order_id
    ORDER BY o.shop_id, o.create_time;
    DELETE FROM line_item_facts;
    INSERT INTO line_item_facts
    SELECT li.line_item_id, li.order_id, li.shop_id, o.create_time, o.paid, o.cancelled, li.product_id, li.sku_id,
           li.sale_price, c.unit_cost, li.currency, o.affiliate, o.creator, li.platform_discount
    FROM order_line_items li JOIN order_facts o ON o.order_id = li.order_id
    LEFT JOIN product_costs c ON c.shop_id = li.shop_id AND c.sku_id = li.sku_id
    ORDER BY li.shop_id, o.create_time;
"""

MIGRATIONS.append((4, "derived order and line-item facts for the metric compiler", f"""
    CREATE TABLE order_facts (
        order_id      VARCHAR NOT NULL,
        shop_id       VARCHAR NOT NULL,
        create_time   TIMESTAMPTZ NOT NULL,
        paid          BOOLEAN NOT NULL,
        cancelled     BOOLEAN NOT NULL,
        buyer_key     BIGINT,
        sub_total     {MONEY} NOT NULL,
        currency      VARCHAR NOT NULL,
        affiliate     BOOLEAN NOT NULL,
        creator       VARCHAR,
        content_type  VARCHAR,
        content_id    VARCHAR,
        first_paid    BOOLEAN NOT NULL,
        -- for a paid, not cancelled order: the same buyer's previous such order in the shop
        prev_counted_time TIMESTAMPTZ
    );
    CREATE TABLE line_item_facts (
        line_item_id  VARCHAR NOT NULL,
        order_id      VARCHAR NOT NULL,
        shop_id       VARCHAR NOT NULL,
        create_time   TIMESTAMPTZ NOT NULL,
        paid          BOOLEAN NOT NULL,
        cancelled     BOOLEAN NOT NULL,
        product_id    VARCHAR,
        sku_id        VARCHAR,
        sale_price    {MONEY} NOT NULL,
        unit_cost     {MONEY},
        currency      VARCHAR NOT NULL,
        affiliate     BOOLEAN NOT NULL,
        creator       VARCHAR
    );
"""))  # filled by migration 11's refresh, which knows every column the facts have since gained

#: Seller Center order exports (`shoplens import`) and their reconciliation with the API
#: (`shoplens reconcile`). `export_orders`/`export_line_items` keep every imported order as the export
#: last showed it (one line per SKU row of the file, with its quantity), whatever the API says;
#: `orders`/`order_line_items` get an imported order only when the API has not provided it (API first).
#: `source` is `export:<file name>`; `export_files` remembers each file's content hash per shop, so
#: importing the same file again changes nothing. The reconciliation tables are replaced per shop and
#: day by each run (docs/imports.md).
MIGRATIONS.append((5, "Seller Center order exports and their reconciliation with the API", f"""
    CREATE TABLE export_orders (
        order_id          VARCHAR PRIMARY KEY,
        shop_id           VARCHAR NOT NULL,
        -- the API's status enum, from the file's status and substatus labels (kept as written)
        status            VARCHAR NOT NULL,
        status_label      VARCHAR NOT NULL,
        substatus_label   VARCHAR,
        create_time       TIMESTAMPTZ NOT NULL,
        update_time       TIMESTAMPTZ NOT NULL,
        paid_time         TIMESTAMPTZ,
        cancel_time       TIMESTAMPTZ,
        buyer_username    VARCHAR,
        currency          VARCHAR NOT NULL,
        sub_total         {MONEY} NOT NULL,
        shipping_fee      {MONEY} NOT NULL,
        seller_discount   {MONEY} NOT NULL,
        platform_discount {MONEY} NOT NULL,
        tax               {MONEY} NOT NULL,
        total_amount      {MONEY} NOT NULL,
        refund_amount     {MONEY} NOT NULL,
        source            VARCHAR NOT NULL,
        -- the order's first row in that file, as a spreadsheet numbers it (header = 1)
        source_row        INTEGER NOT NULL
    );
    CREATE TABLE export_line_items (
        order_id          VARCHAR NOT NULL,
        -- the SKU row's position among the order's rows in the file, from 1
        line_no           INTEGER NOT NULL,
        shop_id           VARCHAR NOT NULL,
        sku_id            VARCHAR,
        seller_sku        VARCHAR,
        product_name      VARCHAR,
        sku_name          VARCHAR,
        quantity          INTEGER NOT NULL,
        returned_quantity INTEGER,
        unit_original_price {MONEY},
        seller_discount   {MONEY} NOT NULL,
        platform_discount {MONEY} NOT NULL,
        subtotal          {MONEY} NOT NULL,
        currency          VARCHAR NOT NULL,
        cancel_return_type VARCHAR,
        source            VARCHAR NOT NULL,
        source_row        INTEGER NOT NULL,
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE export_files (
        shop_id      VARCHAR NOT NULL,
        sha256       VARCHAR NOT NULL,
        file_name    VARCHAR NOT NULL,
        rows         INTEGER NOT NULL,
        orders       INTEGER NOT NULL,
        -- DMY, MDY or YMD: how the file wrote its dates (detected, or --date-format)
        date_format  VARCHAR NOT NULL,
        imported_at  TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, sha256)
    );
    CREATE TABLE reconciliation_days (
        shop_id         VARCHAR NOT NULL,
        -- the shop-local day the orders were placed
        day             DATE NOT NULL,
        currency        VARCHAR NOT NULL,
        api_orders      INTEGER NOT NULL,
        export_orders   INTEGER NOT NULL,
        api_gmv         {MONEY} NOT NULL,
        export_gmv      {MONEY} NOT NULL,
        api_refunds     {MONEY} NOT NULL,
        export_refunds  {MONEY} NOT NULL,
        only_api        INTEGER NOT NULL,
        only_export     INTEGER NOT NULL,
        amounts_differ  INTEGER NOT NULL,
        reconciled_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, day)
    );
    CREATE TABLE reconciliation_orders (
        shop_id         VARCHAR NOT NULL,
        order_id        VARCHAR NOT NULL,
        day             DATE NOT NULL,
        -- only_api, only_export or amounts
        difference      VARCHAR NOT NULL,
        -- for amounts: which differ, e.g. 'gmv, refunds'
        fields          VARCHAR,
        api_gmv         {MONEY},
        export_gmv      {MONEY},
        api_total       {MONEY},
        export_total    {MONEY},
        api_refunds     {MONEY},
        export_refunds  {MONEY},
        api_status      VARCHAR,
        export_status   VARCHAR,
        export_source   VARCHAR,
        reconciled_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, order_id)
    );
"""))

#: Tracking links (`shoplens links create`) and their clicks (`shoplens links load`). `links.code` is the
#: short code; `campaign`/`creator`/`channel`/`content` are as given, the utm_* columns as slugged. A
#: click's `click_id` is made once, by the redirect server (or from an imported row's content), so
#: loading the same clicks again changes nothing. `link_click_files` remembers how far each click-log
#: file has been loaded.
MIGRATIONS.append((6, "tracking links, their clicks and the click-log load state", """
    CREATE TABLE links (
        code          VARCHAR PRIMARY KEY,
        shop_id       VARCHAR NOT NULL,
        campaign      VARCHAR NOT NULL,
        creator       VARCHAR NOT NULL,
        channel       VARCHAR NOT NULL,
        content       VARCHAR,
        target_url    VARCHAR NOT NULL,
        -- the target with the UTM parameters merged into its query: where the redirect goes
        tracked_url   VARCHAR NOT NULL,
        short_url     VARCHAR NOT NULL,
        utm_source    VARCHAR NOT NULL,
        utm_medium    VARCHAR NOT NULL,
        utm_campaign  VARCHAR NOT NULL,
        utm_content   VARCHAR,
        utm_term      VARCHAR,
        utm_id        VARCHAR NOT NULL,
        created_at    TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE link_clicks (
        click_id       VARCHAR PRIMARY KEY,
        code           VARCHAR NOT NULL,
        clicked_at     TIMESTAMPTZ NOT NULL,
        -- random id from the redirect server's first-party cookie (or the imported file's column)
        visitor_id     VARCHAR,
        -- a logged-in buyer id when the click carried one (`?buyer=` on the short URL)
        buyer_id       VARCHAR,
        -- keyed hash of the /24 (IPv4) or /48 (IPv6) network; never the address
        ip_hash        VARCHAR,
        is_bot         BOOLEAN NOT NULL,
        device         VARCHAR,
        referrer_host  VARCHAR,
        -- 'redirect', or 'import:<file name>'
        source         VARCHAR NOT NULL
    );
    CREATE TABLE link_click_files (
        file          VARCHAR PRIMARY KEY,
        loaded_bytes  BIGINT NOT NULL,
        loaded_at     TIMESTAMPTZ NOT NULL
    );
"""))

#: What the data-quality section says about each shop's authorization, without reading a secret: the
#: token pair's expiries (absolute, from the token response) and whether the seller revoked it. Written
#: by the sync (`shoplens.sync.authorizations.record_authorization`); never holds a token.
MIGRATIONS.append((7, "non-secret authorization status per shop: token expiries, revocation", """
    CREATE TABLE shop_authorizations (
        shop_id             VARCHAR PRIMARY KEY,
        -- the seller authorization covering the shop: an id, not a credential
        open_id             VARCHAR,
        access_expires_at   TIMESTAMPTZ,
        -- NULL when the authorization cannot be refreshed: it then lapses with its access token
        refresh_expires_at  TIMESTAMPTZ,
        revoked             BOOLEAN NOT NULL DEFAULT false,
        revoked_reason      VARCHAR,
        updated_at          TIMESTAMPTZ NOT NULL
    );
"""))

#: Provenance: every page the sync archived, where it lies in the raw archive (`file` under data/raw,
#: `line` from 1 among the file's complete records, as `RawArchive.read_line` reads it), and on each row of
#: a traced table the page that last loaded it (`page_run`, `page_seq`). A row loaded otherwise (an import,
#: a test) has none. `metrics explain` shows them; nothing reads them to compute a figure.
MIGRATIONS.append((10, "provenance: the raw archive's pages and the page each synced row came from", """
    CREATE TABLE raw_pages (
        run_id      VARCHAR NOT NULL,
        seq         INTEGER NOT NULL,
        shop_id     VARCHAR NOT NULL,
        resource    VARCHAR NOT NULL,
        file        VARCHAR NOT NULL,
        line        INTEGER NOT NULL,
        fetched_at  TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
""" + "".join(f"""
    ALTER TABLE {table} ADD COLUMN page_run VARCHAR;
    ALTER TABLE {table} ADD COLUMN page_seq INTEGER;""" for table in (
    "orders", "order_line_items", "refunds", "cancellations", "products", "skus", "affiliate_order_items",
    "shop_daily", "product_daily", "video_daily", "live_sessions", "statements", "promotions",
    "ad_campaign_daily"))))

#: TikTok-funded discounts next to what buyers paid, so money can be counted at the seller's price or at the
#: buyer's (`Policies.gmv_price`): order and line-item facts carry `platform_discount`; refunds keep the
#: refunded product value (`refund_amount.refund_subtotal`) and the platform discount on the returned
#: products (`discount_amount[].product_platform_discount`), both NULL on rows synced before.
MIGRATIONS.append((11, "platform discounts in the facts; refund subtotal and platform discount on refunds", f"""
    ALTER TABLE order_facts ADD COLUMN platform_discount {MONEY};
    ALTER TABLE line_item_facts ADD COLUMN platform_discount {MONEY};
    ALTER TABLE refunds ADD COLUMN refund_subtotal {MONEY};
    ALTER TABLE refunds ADD COLUMN platform_discount {MONEY};
""" + FACTS_REFRESH))

#: every table a sync fills, with its primary key columns
SYNCED_TABLES = {
    "shops": ("shop_id",),
    "orders": ("order_id",),
    "order_line_items": ("line_item_id",),
    "refunds": ("return_id",),
    "cancellations": ("cancel_id",),
    "products": ("product_id",),
    "skus": ("sku_id",),
    "affiliate_order_items": ("item_key",),
    "shop_daily": ("shop_id", "date"),
    "product_daily": ("shop_id", "date", "product_id"),
    "video_daily": ("shop_id", "date", "video_id"),
    "live_sessions": ("live_id",),
    "statements": ("statement_id",),
    "promotions": ("promotion_id",),
    "ad_campaign_daily": ("campaign_id", "date"),
}
#: synced tables whose rows carry the raw page that loaded them (migration 10)
TRACED_TABLES = tuple(t for t in SYNCED_TABLES if t != "shops")
#: reference data loaded from files (`shoplens fx load`, `shoplens costs load`), not by a sync
REFERENCE_TABLES = {
    "fx_rates": ("currency", "date"),
    "product_costs": ("shop_id", "sku_id"),
}
#: Seller Center exports (`shoplens import`), keyed like the synced tables
IMPORTED_TABLES = {
    "export_orders": ("order_id",),
    "export_line_items": ("order_id", "line_no"),
    "export_files": ("shop_id", "sha256"),
}
TABLE_KEYS = SYNCED_TABLES | REFERENCE_TABLES | IMPORTED_TABLES
#: what no sync writes and a replay from the raw archive must therefore keep: reference data, imports and
#: their reconciliation, the tracking-link registry and its clicks, the authorization record
CARRIED_TABLES = (*REFERENCE_TABLES, *IMPORTED_TABLES, "reconciliation_days", "reconciliation_orders", "links",
                  "link_clicks", "link_click_files", "shop_authorizations")

#: Operations (#15). `order_fulfilment` keeps each order's SLA deadlines and fulfilment times as order
#: search last showed them. Stock is a snapshot API: `inventory_snapshots` keeps one row per SKU,
#: warehouse and shop-local day (the day's last sync wins), so stock over time is history the warehouse
#: builds itself. Product status is only ever current: `product_status_history` records each status
#: from the product's `update_time` when it was first seen until the next one (`until` NULL: still so).
#: `stock_lead_times` is reference data (`shoplens stock lead-time`): days a restock takes, per shop
#: (sku_id '*') or SKU; 7 when unset.
MIGRATIONS.append((8, "operations: fulfilment times, warehouses, stock snapshots, product status history, chat service", f"""
    CREATE TABLE order_fulfilment (
        order_id              VARCHAR PRIMARY KEY,
        shop_id               VARCHAR NOT NULL,
        rts_sla_time          TIMESTAMPTZ,
        tts_sla_time          TIMESTAMPTZ,
        shipping_due_time     TIMESTAMPTZ,
        collection_due_time   TIMESTAMPTZ,
        delivery_sla_time     TIMESTAMPTZ,
        delivery_due_time     TIMESTAMPTZ,
        cancel_order_sla_time TIMESTAMPTZ,
        rts_time              TIMESTAMPTZ,
        collection_time       TIMESTAMPTZ,
        delivery_time         TIMESTAMPTZ,
        cancel_reason         VARCHAR,
        cancellation_initiator VARCHAR,
        synced_at             TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE warehouses (
        warehouse_id   VARCHAR PRIMARY KEY,
        shop_id        VARCHAR NOT NULL,
        name           VARCHAR,
        is_default     BOOLEAN,
        effect_status  VARCHAR,
        type           VARCHAR,
        synced_at      TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE inventory_snapshots (
        sku_id         VARCHAR NOT NULL,
        warehouse_id   VARCHAR NOT NULL,
        date           DATE NOT NULL,
        shop_id        VARCHAR NOT NULL,
        product_id     VARCHAR NOT NULL,
        seller_sku     VARCHAR,
        snapshot_time  TIMESTAMPTZ NOT NULL,
        available      INTEGER NOT NULL,
        committed      INTEGER,
        synced_at      TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (sku_id, warehouse_id, date)
    );
    CREATE TABLE product_status_history (
        product_id     VARCHAR NOT NULL,
        since          TIMESTAMPTZ NOT NULL,
        shop_id        VARCHAR NOT NULL,
        status         VARCHAR NOT NULL,
        audit_status   VARCHAR,
        until          TIMESTAMPTZ,
        PRIMARY KEY (product_id, since)
    );
    CREATE TABLE service_daily (
        shop_id              VARCHAR NOT NULL,
        date                 DATE NOT NULL,
        sessions             INTEGER NOT NULL,
        response_percentage  DECIMAL(18, 6),
        response_minutes     DECIMAL(18, 6),
        satisfaction_percentage DECIMAL(18, 6),
        synced_at            TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, date)
    );
    CREATE TABLE stock_lead_times (
        shop_id    VARCHAR NOT NULL,
        sku_id     VARCHAR NOT NULL,
        lead_days  INTEGER NOT NULL,
        PRIMARY KEY (shop_id, sku_id)
    );
"""))
SYNCED_TABLES |= {"order_fulfilment": ("order_id",), "warehouses": ("warehouse_id",),
                  "inventory_snapshots": ("sku_id", "warehouse_id", "date"),
                  "product_status_history": ("product_id", "since"), "service_daily": ("shop_id", "date")}
REFERENCE_TABLES["stock_lead_times"] = ("shop_id", "sku_id")
TABLE_KEYS = SYNCED_TABLES | REFERENCE_TABLES | IMPORTED_TABLES
CARRIED_TABLES = (*CARRIED_TABLES, "stock_lead_times")

#: Derived operations facts (#15), rebuilt with the order facts after every load. Days are shop-local.
#: - dispatch_facts: paid orders with a ready-to-ship SLA, not cancelled before shipping; `late` once
#:   shipped after the SLA, or still unshipped when the orders were last synced (`as_of`) past it.
#: - backlog_daily: orders paid, not shipped and not cancelled at the end of each shop-local day, with
#:   their age and whether they are due within 24 h of that moment (or overdue).
#: - stock_daily: each SKU's stock per warehouse and day, carried forward from the last snapshot, with the
#:   SKU's average daily units over the trailing 14 days, days of cover and the lead time that applies.
#: - listing_daily: each product's status at the end of each day and, while it is not active, the GMV it
#:   had in the 28 days before the day that status began.
OPS_FACTS_REFRESH = """
    DELETE FROM dispatch_facts;
    INSERT INTO dispatch_facts
    WITH as_of AS (SELECT shop_id, to_timestamp(CAST(cursor AS BIGINT)) AS as_of FROM sync_state
                   WHERE resource = 'orders' AND regexp_full_match(cursor, '[0-9]+'))
    SELECT o.order_id, o.shop_id, o.currency, o.paid_time, f.rts_sla_time, f.rts_time, f.delivery_time,
           o.cancel_time, a.as_of,
           coalesce(f.rts_time > f.rts_sla_time, a.as_of > f.rts_sla_time, false),
           coalesce(f.rts_time <= f.rts_sla_time, false),
           epoch(f.rts_time - o.paid_time) / 3600.0,
           epoch(f.delivery_time - o.paid_time) / 86400.0
    FROM orders o JOIN order_fulfilment f USING (order_id) LEFT JOIN as_of a ON a.shop_id = o.shop_id
    WHERE o.paid_time IS NOT NULL AND f.rts_sla_time IS NOT NULL
      AND NOT (o.status = 'CANCELLED' AND f.rts_time IS NULL)
    ORDER BY o.shop_id, f.rts_sla_time;

    DELETE FROM backlog_daily;
    INSERT INTO backlog_daily
    WITH d AS (
        SELECT o.*, s.timezone, CAST(timezone(s.timezone, o.paid_time) AS DATE) AS paid_day,
               CAST(timezone(s.timezone, coalesce(least(o.rts_time, o.cancel_time), o.rts_time, o.cancel_time,
                                                  o.as_of, o.paid_time + INTERVAL 30 DAY)) AS DATE) AS last_day
        FROM dispatch_facts o JOIN shops s USING (shop_id)
        UNION ALL  -- orders cancelled before they shipped were awaiting shipment until then
        SELECT o.order_id, o.shop_id, o.currency, o.paid_time, f.rts_sla_time, NULL, NULL, o.cancel_time, NULL,
               false, false, NULL, NULL, s.timezone, CAST(timezone(s.timezone, o.paid_time) AS DATE),
               CAST(timezone(s.timezone, o.cancel_time) AS DATE)
        FROM orders o JOIN order_fulfilment f USING (order_id) JOIN shops s ON s.shop_id = o.shop_id
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
    ORDER BY shop_id, date;

    DELETE FROM stock_daily;
    INSERT INTO stock_daily
    WITH span AS (
        SELECT shop_id, min(date) AS first, max(date) AS last FROM inventory_snapshots GROUP BY shop_id
    ), keys AS (
        SELECT DISTINCT i.shop_id, i.sku_id, i.warehouse_id, i.product_id FROM inventory_snapshots i
    ), grid AS (
        SELECT k.*, CAST(g.day AS DATE) AS date
        FROM keys k JOIN span USING (shop_id),
             LATERAL (SELECT unnest(range(CAST(span.first AS TIMESTAMP), CAST(span.last AS TIMESTAMP)
                                          + INTERVAL 1 DAY, INTERVAL 1 DAY)) AS day) g
    ), stock AS (
        SELECT g.*, coalesce(i.available, 0) AS stock
        FROM grid g ASOF LEFT JOIN inventory_snapshots i
          ON i.sku_id = g.sku_id AND i.warehouse_id = g.warehouse_id AND g.date >= i.date
    ), units AS (
        SELECT li.shop_id, li.sku_id, CAST(timezone(s.timezone, li.create_time) AS DATE) AS date, count(*) AS units
        FROM line_item_facts li JOIN shops s USING (shop_id)
        WHERE li.paid AND NOT li.cancelled GROUP BY ALL
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
    ORDER BY st.shop_id, st.date;

    DELETE FROM listing_daily;
    INSERT INTO listing_daily
    WITH product_days AS (
        SELECT li.shop_id, li.product_id, CAST(timezone(s.timezone, li.create_time) AS DATE) AS date,
               sum(li.sale_price) AS gmv, min(li.currency) AS currency
        FROM line_item_facts li JOIN shops s USING (shop_id)
        WHERE li.paid AND NOT li.cancelled GROUP BY ALL
    ), span AS (
        SELECT h.shop_id, min(CAST(timezone(s.timezone, h.since) AS DATE)) AS first,
               greatest(max(CAST(timezone(s.timezone, h.since) AS DATE)),
                        (SELECT max(date) FROM product_days pd WHERE pd.shop_id = h.shop_id)) AS last
        FROM product_status_history h JOIN shops s USING (shop_id) GROUP BY h.shop_id
    ), grid AS (
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
    )
    SELECT st.shop_id, st.date, st.product_id, st.status, st.status = 'ACTIVATE', st.since, st.since_day,
           CASE WHEN st.status <> 'ACTIVATE' THEN CAST(coalesce((
               SELECT sum(pd.gmv) FROM product_days pd WHERE pd.shop_id = st.shop_id AND pd.product_id = st.product_id
                 AND pd.date BETWEEN st.since_day - 28 AND st.since_day - 1), 0) AS DECIMAL(20, 4)) END,
           st.currency
    FROM status st
    ORDER BY st.shop_id, st.date;
"""

MIGRATIONS.append((9, "derived operations facts: dispatch, backlog, stock and listing per day", """
    CREATE TABLE dispatch_facts (
        order_id       VARCHAR NOT NULL,
        shop_id        VARCHAR NOT NULL,
        currency       VARCHAR NOT NULL,
        paid_time      TIMESTAMPTZ NOT NULL,
        rts_sla_time   TIMESTAMPTZ NOT NULL,
        rts_time       TIMESTAMPTZ,
        delivery_time  TIMESTAMPTZ,
        cancel_time    TIMESTAMPTZ,
        as_of          TIMESTAMPTZ,
        late           BOOLEAN NOT NULL,
        on_time        BOOLEAN NOT NULL,
        hours_to_ship  DOUBLE,
        delivery_days  DOUBLE
    );
    CREATE TABLE backlog_daily (
        shop_id        VARCHAR NOT NULL,
        date           DATE NOT NULL,
        order_id       VARCHAR NOT NULL,
        paid_time      TIMESTAMPTZ NOT NULL,
        rts_sla_time   TIMESTAMPTZ,
        age_hours      DOUBLE NOT NULL,
        at_risk        BOOLEAN,
        overdue        BOOLEAN
    );
    CREATE TABLE stock_daily (
        shop_id        VARCHAR NOT NULL,
        date           DATE NOT NULL,
        sku_id         VARCHAR NOT NULL,
        product_id     VARCHAR NOT NULL,
        warehouse_id   VARCHAR NOT NULL,
        stock          INTEGER NOT NULL,
        daily_units    DOUBLE NOT NULL,
        cover_days     DOUBLE,
        lead_days      INTEGER NOT NULL,
        at_risk        BOOLEAN NOT NULL,
        out_of_stock   BOOLEAN NOT NULL
    );
    CREATE TABLE listing_daily (
        shop_id        VARCHAR NOT NULL,
        date           DATE NOT NULL,
        product_id     VARCHAR NOT NULL,
        status         VARCHAR NOT NULL,
        active         BOOLEAN NOT NULL,
        since          TIMESTAMPTZ NOT NULL,
        since_day      DATE NOT NULL,
        gmv_before     DECIMAL(20, 4),
        currency       VARCHAR NOT NULL
    );
"""))

#: Product ratings (#15): the reviews TikTok counts on each shop-local day for each product, by stars, from
#: the product performance API's `ratings` (a day asked as the range [day, day + 1)). A row exists only for
#: a day with reviews; a day read again without any (a review deleted since) loses its row.
MIGRATIONS.append((21, "product ratings per shop-local day: reviews by stars", """
    CREATE TABLE product_ratings_daily (
        shop_id     VARCHAR NOT NULL,
        product_id  VARCHAR NOT NULL,
        date        DATE NOT NULL,
        stars_1     INTEGER NOT NULL,
        stars_2     INTEGER NOT NULL,
        stars_3     INTEGER NOT NULL,
        stars_4     INTEGER NOT NULL,
        stars_5     INTEGER NOT NULL,
        synced_at   TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (shop_id, product_id, date)
    );
"""))
SYNCED_TABLES["product_ratings_daily"] = ("shop_id", "product_id", "date")
TABLE_KEYS = SYNCED_TABLES | REFERENCE_TABLES | IMPORTED_TABLES

#: Alerts (`shoplens alerts check`, docs/alerts.md): the state of each rule for each subject (a shop, or a
#: shop and a target's owner), every message an alert produced (fired, repeat, resolved) with its
#: structured content, and its delivery to each channel: attempts, the outcome, the next retry. No channel
#: secret is ever stored: `recipient` names where a message went without the URL's token or a password.
MIGRATIONS.append((13, "alert state per rule and subject, alert messages and their deliveries", """
    CREATE TABLE alert_state (
        rule_id        VARCHAR NOT NULL,
        subject        VARCHAR NOT NULL,
        shop_id        VARCHAR,
        -- 'firing' or 'ok'
        state          VARCHAR NOT NULL,
        since          TIMESTAMPTZ NOT NULL,
        last_checked   TIMESTAMPTZ NOT NULL,
        -- when the last 'fired' or 'repeat' message was made
        last_sent_at   TIMESTAMPTZ,
        -- the figure as the last message or check showed it
        value          VARCHAR,
        PRIMARY KEY (rule_id, subject)
    );
    CREATE TABLE alert_events (
        event_id    VARCHAR PRIMARY KEY,
        rule_id     VARCHAR NOT NULL,
        subject     VARCHAR NOT NULL,
        shop_id     VARCHAR,
        -- 'fired', 'repeat' or 'resolved'
        kind        VARCHAR NOT NULL,
        created_at  TIMESTAMPTZ NOT NULL,
        language    VARCHAR NOT NULL,
        -- the message's structured content (JSON), rendered for each channel at each attempt
        message     VARCHAR NOT NULL
    );
    CREATE TABLE alert_deliveries (
        event_id         VARCHAR NOT NULL,
        channel          VARCHAR NOT NULL,
        kind             VARCHAR NOT NULL,
        recipient        VARCHAR NOT NULL,
        -- 'pending' (a retry is due at next_attempt_at), 'sent' or 'gave_up'
        status           VARCHAR NOT NULL,
        attempts         INTEGER NOT NULL,
        last_attempt_at  TIMESTAMPTZ,
        next_attempt_at  TIMESTAMPTZ,
        error            VARCHAR,
        PRIMARY KEY (event_id, channel)
    );
"""))

#: TikTok Shop webhooks (`shoplens webhooks serve`, docs/webhooks.md): each accepted notification once
#: (keyed by TikTok's `tts_notification_id`), with what was done about it, and how far the receiver's
#: notification log has been processed.
MIGRATIONS.append((14, "TikTok webhook notifications and the notification-log processing state", """
    CREATE TABLE webhook_notifications (
        notification_id  VARCHAR PRIMARY KEY,
        type             INTEGER NOT NULL,
        event            VARCHAR NOT NULL,
        shop_id          VARCHAR,
        -- the envelope's `timestamp`: when TikTok sent it
        sent_at          TIMESTAMPTZ,
        received_at      TIMESTAMPTZ NOT NULL,
        processed_at     TIMESTAMPTZ NOT NULL,
        -- what the receiver did: e.g. 'sync orders, cancellations', 'authorization revoked', 'ignored'
        action           VARCHAR NOT NULL,
        data             VARCHAR NOT NULL
    );
    CREATE TABLE webhook_log_files (
        file          VARCHAR PRIMARY KEY,
        loaded_bytes  BIGINT NOT NULL,
        loaded_at     TIMESTAMPTZ NOT NULL
    );
"""))

#: alert state and history (13), webhook notifications and how far their log was processed (14)
CARRIED_TABLES += ("alert_state", "alert_events", "alert_deliveries", "webhook_notifications", "webhook_log_files")

#: Incremental facts (#18, shoplens.warehouse.facts): what changed since the facts were last refreshed
#: (`fact_changes`, written in each load's transaction), what the last refresh saw (`fact_state`: each
#: shop's orders cursor and spans), a stable number per buyer (`buyer_keys`, instead of a dense_rank that
#: renumbers every buyer when one is added), and the indexes the refresh reads the changed keys through.
#: The first refresh after it rebuilds every fact ('full').
MIGRATIONS.append((22, "incremental facts: changed keys, refresh state, stable buyer keys, lookup indexes", """
    CREATE TABLE fact_changes (
        -- order, sku, stock, product or full
        kind  VARCHAR NOT NULL,
        key   VARCHAR NOT NULL
    );
    CREATE TABLE fact_state (
        name     VARCHAR NOT NULL,
        shop_id  VARCHAR NOT NULL,
        since    DATE,
        value    VARCHAR
    );
    CREATE TABLE buyer_keys (
        -- shop_id, chr(31), buyer_id
        buyer      VARCHAR PRIMARY KEY,
        buyer_key  BIGINT NOT NULL
    );
    CREATE INDEX buyer_keys_key ON buyer_keys (buyer_key);
    CREATE INDEX orders_buyer ON orders (buyer_id);
    CREATE INDEX order_line_items_order ON order_line_items (order_id);
    CREATE INDEX affiliate_order_items_order ON affiliate_order_items (order_id);
    CREATE INDEX order_facts_order ON order_facts (order_id);
    CREATE INDEX line_item_facts_order ON line_item_facts (order_id);
    CREATE INDEX dispatch_facts_order ON dispatch_facts (order_id);
    CREATE INDEX backlog_daily_order ON backlog_daily (order_id);
    INSERT INTO fact_changes VALUES ('full', '');
"""))

#: Units sold per SKU and shop-local day (#18): what the stock facts' daily sales rate reads. Kept by the
#: refresh from the line items it replaces (their units out, the new ones in), so a sync no longer scans
#: the line items of every day its changes reach. Filled here from the line-item facts as they are (one
#: query, cheaper than the full rebuild it does not need), which keeps it what the facts' SQL gives for
#: them (`facts.SKU_UNITS`).
MIGRATIONS.append((23, "units sold per SKU and shop-local day, for the stock facts", """
    CREATE TABLE sku_units_daily (
        shop_id  VARCHAR NOT NULL,
        sku_id   VARCHAR NOT NULL,
        date     DATE NOT NULL,
        units    BIGINT NOT NULL
    );
    INSERT INTO sku_units_daily
    SELECT li.shop_id, li.sku_id, CAST(timezone(s.timezone, li.create_time) AS DATE) AS date, count(*) AS units
    FROM line_item_facts li JOIN shops s USING (shop_id)
    WHERE li.paid AND NOT li.cancelled AND li.sku_id IS NOT NULL
    GROUP BY ALL ORDER BY shop_id, date;
"""))

#: Rollups (#18): the order and line-item facts summed per shop, currency, 15-minute UTC bucket
#: (`bucket` = epoch seconds // 900) and the values of what the metrics filter on, kept by the facts refresh
#: (`facts.ORDER_ROLLUP_ROWS`, `facts.LINE_ITEM_ROLLUP_ROWS`). Every zone's offset is a multiple of 15
#: minutes, so a bucket lies in one local day of any zone, and the compiler reads these instead of the
#: facts when a query's measures allow (docs/metrics.md). `buyer_gap`: buckets since the buyer's previous
#: counted order, capped at 192 (two days; no local day is longer): whether it lies on the same local day.
#: `n` adds up to the facts' row count, which `Warehouse.facts_are_current` checks. The first refresh after
#: it fills them ('full').
MIGRATIONS.append((24, "order and line-item rollups per shop, currency and 15-minute bucket", """
    CREATE TABLE order_rollup (
        shop_id       VARCHAR NOT NULL,
        currency      VARCHAR NOT NULL,
        bucket        BIGINT NOT NULL,
        paid          BOOLEAN NOT NULL,
        cancelled     BOOLEAN NOT NULL,
        affiliate     BOOLEAN NOT NULL,
        first_paid    BOOLEAN NOT NULL,
        has_buyer     BOOLEAN NOT NULL,
        buyer_gap     BIGINT,
        n             BIGINT NOT NULL,
        value_seller  DECIMAL(38, 4),
        value_buyer   DECIMAL(38, 4) NOT NULL
    );
    CREATE TABLE line_item_rollup (
        shop_id       VARCHAR NOT NULL,
        currency      VARCHAR NOT NULL,
        bucket        BIGINT NOT NULL,
        paid          BOOLEAN NOT NULL,
        cancelled     BOOLEAN NOT NULL,
        n             BIGINT NOT NULL,
        value_seller  DECIMAL(38, 4),
        value_buyer   DECIMAL(38, 4) NOT NULL,
        unit_cost     DECIMAL(38, 4),
        costed        BIGINT NOT NULL
    );
    INSERT INTO fact_changes VALUES ('full', '');
"""))
