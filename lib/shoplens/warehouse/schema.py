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
               ORDER BY o.create_time, o.order_id) END
    FROM orders o LEFT JOIN aff a ON a.order_id = o.order_id
    ORDER BY o.shop_id, o.create_time;
    DELETE FROM line_item_facts;
    INSERT INTO line_item_facts
    SELECT li.line_item_id, li.order_id, li.shop_id, o.create_time, o.paid, o.cancelled, li.product_id, li.sku_id,
           li.sale_price, c.unit_cost, li.currency, o.affiliate, o.creator
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
""" + FACTS_REFRESH))

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
#: alert state and history (13), webhook notifications and how far their log was processed (14)
CARRIED_TABLES += ("alert_state", "alert_events", "alert_deliveries", "webhook_notifications", "webhook_log_files")
