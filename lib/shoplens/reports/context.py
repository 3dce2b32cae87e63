"""What a report notebook calls: open the warehouse read-only for one scope, and display the parts
every report shares (title block, headings, KPI tables, definitions, glossary).

All text from the platform (shop names, product titles) is HTML-escaped here before display. The
report holds no credentials and reads only through the metric API and the warehouse's read-only view.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo
from decimal import Decimal

import pandas as pd

from shoplens import i18n
from shoplens.errors import ReportError
from shoplens.metrics import Policies, QuerySpec, default_catalogue, glossary, parse_period
from shoplens.regions import REGIONS
from shoplens.reports.appendix import Figures, appendix_html
from shoplens.warehouse import Warehouse, open_warehouse
from shoplens.suggest import unknown

_MINOR_DIGITS = {r.currency: r.minor_digits for r in REGIONS.values()}


def format_value(value, fmt: str, currency: str | None = None) -> str:
    """A metric value for people, by the catalogue's display format: thousands separators, the
    currency's own precision, percentages, multiples (ROAS 4.3×), durations (6 min 21 s)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if fmt == "money":
        digits = _MINOR_DIGITS.get(currency or "", 2)
        text = f"{Decimal(value):,.{digits}f}"
        return f"{currency} {text}" if currency else text
    if fmt == "percent":
        return f"{float(value):.1%}"
    if fmt == "multiple":
        return f"{float(value):,.2f}×"
    if fmt == "seconds":
        minutes, seconds = divmod(round(float(value)), 60)
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    if fmt == "integer":
        return f"{int(value):,}"
    if fmt in _UNITS:
        return f"{float(value):,.1f} {_UNITS[fmt]}"
    if fmt == "decimal":
        return f"{float(value):,.2f}"
    return str(value)


_UNITS = {"minutes": "min", "hours": "h", "days": "d"}


def text_value(value) -> str:
    """A dimension value for people: missing values (None, NaN, NA, NaT) are a dash, never "nan"."""
    return "–" if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)) else str(value)


def _stalest_per_shop(freshness: pd.DataFrame) -> pd.DataFrame:
    """Each shop's freshness row that needs attention most: failing first, then the source whose data
    ends earliest (never completed before anything), then the oldest successful sync."""
    if freshness.empty:
        return freshness
    ranked = freshness.assign(
        _failing=freshness.last_status != "ok",
        _covered=pd.to_datetime(freshness.covered_until).fillna(pd.Timestamp.min),
        _synced=pd.to_datetime(freshness.last_ok, utc=True).fillna(pd.Timestamp.min.tz_localize("UTC")))
    ranked = ranked.sort_values(["shop_id", "_failing", "_covered", "_synced"], ascending=[True, False, True, True],
                                kind="stable")
    return ranked.groupby("shop_id", sort=True).head(1)[freshness.columns]


def _display_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


@dataclass(frozen=True)
class Campaign:
    kind: str
    id: str
    title: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def around(self) -> tuple[date, date]:
        """The campaign with as many days before and after it: the window its trend is drawn over."""
        return self.start - timedelta(days=self.days), self.end + timedelta(days=self.days)


@dataclass
class ReportContext:
    """One report's scope: which report, which shop, which days, which language."""

    report_id: str
    shop_id: str | None  # None: a report over every shop (the scorecard)
    period: tuple[date, date]
    lang: str
    warehouse: Warehouse
    shop: dict
    policies: Policies = field(default_factory=Policies)
    #: every figure the report showed, for the appendix that says how each is computed
    figures: Figures = field(default_factory=Figures)

    @classmethod
    def open(cls, report_id: str, *, shop_id: str | None, period: tuple[str, str], lang: str = "en",
             warehouse: Warehouse | None = None) -> ReportContext:
        i18n.t(report_id, lang)  # rejects an unknown language early, with the list
        wh = warehouse or open_warehouse(read_only=True)
        if shop_id is None:
            shop = {"shop_id": None, "name": i18n.t("all_shops", lang), "region": "", "currency": None,
                    "timezone": "UTC"}
            return cls(report_id, None, parse_period(period), lang, wh, shop)
        rows = wh.rows("SELECT shop_id, name, region, currency, timezone FROM shops WHERE shop_id = ?", [shop_id])
        if not rows:
            known = wh.shop_ids()
            raise ReportError(unknown("shop_id", shop_id, known, plural="synced shops",
                                      none_known="no shop is synced yet: run `shoplens sync`"), notebook=report_id)
        shop = dict(zip(("shop_id", "name", "region", "currency", "timezone"), rows[0]))
        return cls(report_id, shop_id, parse_period(period), lang, wh, shop)

    def t(self, key: str) -> str:
        return i18n.t(key, self.lang)

    def label(self, metric_id: str) -> str:
        return default_catalogue().get(metric_id).label[self.lang]

    def last_sync(self) -> datetime | None:
        """When this shop's data was last synced successfully (every resource ok)."""
        rows = self.warehouse.rows(
            "SELECT min(last_ok) FROM (SELECT resource, max(finished_at) AS last_ok FROM sync_runs "
            "WHERE (shop_id = $1 OR $1 IS NULL) AND status = 'ok' GROUP BY shop_id, resource)", [self.shop_id])
        return rows[0][0] if rows and rows[0][0] else None

    def latest_analytics_day(self) -> date | None:
        """The latest day the API had shop analytics for, at the last sync."""
        rows = self.warehouse.rows("SELECT min(latest_available) FROM sync_state WHERE (shop_id = $1 OR $1 IS NULL) "
                                   "AND latest_available IS NOT NULL", [self.shop_id])
        return rows[0][0] if rows else None

    def names(self, kind: str, ids) -> dict:
        """Display names for ids of a dimension: product, video and LIVE titles; other ids stand for themselves."""
        ids = [i for i in ids if i is not None and i == i]
        sql = {"product": "SELECT product_id, title FROM products WHERE list_contains(?, product_id)",
               "live": "SELECT live_id, title FROM live_sessions WHERE list_contains(?, live_id)",
               "content_id": "SELECT live_id, title FROM live_sessions WHERE list_contains($1, live_id) UNION ALL "
                             "SELECT video_id, any_value(title) FROM video_daily WHERE list_contains($1, video_id) "
                             "GROUP BY video_id"}.get(kind)
        if sql is None or not ids:
            return {i: i for i in ids}
        rows = self.warehouse.rows(sql, [list(ids)])
        found = {pid: title for pid, title in rows if title}
        return {i: found.get(i, i) for i in ids}

    def campaign(self, kind: str, campaign_id: str = "") -> Campaign:
        """A promotion or an ad campaign of this shop, with its local days (within the report period for an
        ad campaign); an empty id picks the latest promotion overlapping the period, else the ad campaign
        that spent most in it."""
        if kind not in ("promotion", "ad"):
            raise ReportError(f"campaign_kind {kind!r}: use promotion or ad", notebook=self.report_id)
        zone = ZoneInfo(self.shop["timezone"] if self.policies.timezone == "shop" else self.policies.timezone)
        start, end = self.period
        if kind == "promotion":
            rows = self.warehouse.rows(
                "SELECT promotion_id, coalesce(title, promotion_id), begin_time, end_time FROM promotions "
                "WHERE shop_id = ? AND (promotion_id = ? OR (? = '' AND begin_time < ? AND end_time > ?)) "
                "ORDER BY begin_time DESC LIMIT 1",
                [self.shop_id, campaign_id, campaign_id, datetime.combine(end, datetime.max.time(), zone),
                 datetime.combine(start, datetime.min.time(), zone)])
            if rows:
                cid, title, begin, finish = rows[0]
                last = (finish - timedelta(seconds=1)).astimezone(zone).date()
                return Campaign("promotion", cid, title, begin.astimezone(zone).date(), last)
        else:
            from shoplens import metrics

            daily = metrics.query(["ad_spend"], by=["campaign", "day"], shop=self.shop_id, period=self.period,
                                  where={"campaign": campaign_id} if campaign_id else None, warehouse=self.warehouse)
            daily = daily[daily.campaign.notna() & (daily.ad_spend > 0)]
            if len(daily):
                chosen = campaign_id or daily.groupby("campaign").ad_spend.sum().idxmax()  # the biggest spender
                days = daily[daily.campaign == chosen].day
                title = self.warehouse.rows("SELECT any_value(coalesce(campaign_name, campaign_id)) FROM "
                                            "ad_campaign_daily WHERE campaign_id = ?", [chosen])[0][0]
                return Campaign("ad", chosen, title or chosen, days.min(), days.max())
        raise ReportError(f"no {kind} {campaign_id or '(any)'} for shop {self.shop_id} in {start} – {end}",
                          notebook=self.report_id)

    def peak_day(self, daily: pd.DataFrame, metric: str, within: tuple[date, date]) -> date | None:
        """The day of `daily` (a by=["day"] result) with the highest `metric` inside `within`."""
        inside = daily[(daily.day >= within[0]) & (daily.day <= within[1])]
        if inside.empty or not (inside[metric].astype(float) > 0).any():
            return None
        return inside.loc[inside[metric].astype(float).idxmax(), "day"]

    def new_and_repeat(self, dimension: str, metric: str, where: dict | None = None) -> tuple[list, list]:
        """Values of `dimension` with `metric` above zero in the period, split into those new in it (none
        before the period, as far back as the warehouse goes) and those seen before."""
        from shoplens import metrics

        def seen(period) -> set:
            frame = metrics.query([metric], by=[dimension], shop=self.shop_id, period=period, where=where,
                                  warehouse=self.warehouse)
            return {v for v, x in zip(frame[dimension], frame[metric]) if v is not None and v == v and x}

        now = seen(self.period)
        before = seen((date(2000, 1, 1), date.fromordinal(self.period[0].toordinal() - 1)))
        return sorted(now - before), sorted(now & before)

    # --- display ---------------------------------------------------------------------------
    def title(self, extra: dict[str, str] | None = None) -> None:
        """The title block (report, shop, period, generated, freshness, and `extra` facts such as the
        campaign), then the definitions in force."""
        synced = self.last_sync()
        synced_text = synced.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if synced else self.t("never_synced")
        latest = self.latest_analytics_day()
        e = html.escape
        where = f"{self.shop['name']} ({self.shop['region']}, {self.shop_id})" if self.shop_id else self.shop["name"]
        rows = [(self.t("shop"), where),
                (self.t("period"), f"{self.period[0]} – {self.period[1]}"),
                (self.t("generated"), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
                (self.t("freshness"), synced_text),
                (self.t("analytics_until"), latest.isoformat() if latest else "–"), *(extra or {}).items()]
        facts = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in rows)
        banner = ""
        if latest is None or latest < self.period[1]:
            banner = f'<p class="sl-banner" role="alert">{e(self.t("stale_analytics"))}</p>'
        _display_html(f'<header class="sl-report-title"><h1>{e(self.t(self.report_id))} · {e(self.shop["name"])}'
                      f'</h1><dl class="sl-facts">{facts}</dl>{banner}</header>')
        self.definitions()  # every report opens with what its numbers mean

    def heading(self, key: str) -> None:
        _display_html(f'<h2 id="sl-{html.escape(key)}">{html.escape(self.t(key))}</h2>')

    def subheading(self, key: str) -> None:
        _display_html(f'<h3 id="sl-{html.escape(key)}">{html.escape(self.t(key))}</h3>')

    def note(self, key: str) -> None:
        """A sentence of the report's wording (i18n `key`), set apart: e.g. why a section is empty."""
        _display_html(f'<p class="sl-empty">{html.escape(self.t(key))}</p>')

    def kv_list(self, items: dict[str, str]) -> None:
        """Labelled values (escaped), as a definition list."""
        e = html.escape
        rows = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in items.items())
        _display_html(f'<dl class="sl-facts">{rows}</dl>')

    def kpi_table(self, frame: pd.DataFrame, metric_ids: list[str]) -> None:
        """One row per metric, with the previous period and the change when the frame was queried with
        `compare=`; the exact value rides along in `data-value` for checks and exports, and each value
        links to its entry in the appendix."""
        if len(frame) > 1:
            raise ReportError(f"kpi_table expects one row, got {len(frame)}", notebook=self.report_id)
        catalogue = default_catalogue()
        # a period with no activity has no row: show zeros for measures and a dash for ratios
        row = frame.iloc[0] if len(frame) else {m: (None if catalogue.get(m).is_ratio else 0) for m in metric_ids}
        currency = row.get("currency") or self.shop["currency"]
        compared = f"{metric_ids[0]}_previous" in frame.columns
        e = html.escape
        head = [self.t("metric"), self.t("value")] + ([self.t("previous"), self.t("change")] if compared else [])
        body = []
        for metric_id in metric_ids:
            m = catalogue.get(metric_id)
            money = currency if m.unit == "money" else None
            anchor = self.figures.register(metric_id, self._spec(frame, metric_id), row[metric_id], currency)
            cells = [f'<td><a class="sl-def-link" href="#{anchor}">{e(format_value(row[metric_id], m.format, money))}'
                     "</a></td>"]
            if compared:
                change = row[f"{metric_id}_change"]
                good = "" if change is None or change != change or change == 0 else (
                    "sl-good" if (change > 0) == m.higher_is_better else "sl-bad")
                arrow = "" if not good else ("▲ " if change > 0 else "▼ ")
                cells += [f"<td>{e(format_value(row[f'{metric_id}_previous'], m.format, money))}</td>",
                          f'<td class="{good}" data-change="{e(str(change))}">{arrow}'
                          f'{e(format_value(change, "percent"))}</td>']
            body.append(f'<tr data-metric="{e(metric_id)}" data-value="{e(str(row[metric_id]))}"><th>'
                        f'{e(m.label[self.lang])}</th>{"".join(cells)}</tr>')
        _display_html(f'<table class="sl-kpis"><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead>'
                      f'<tbody>{"".join(body)}</tbody></table>')

    def top(self, frame: pd.DataFrame, key: str, metric_ids: list[str], *, limit: int = 10,
            by: str | None = None) -> pd.DataFrame:
        """The `limit` rows of `frame` with a `key` and some activity, highest `by` (default: the first
        metric) first: what `ranked_table` shows, for a notebook that charts it too."""
        order = by or metric_ids[0]
        active = frame[frame[key].notna()]
        active = active[active[metric_ids].apply(lambda col: col.astype(float).fillna(0) != 0).any(axis=1)]
        return active.sort_values(order, ascending=False, kind="stable", na_position="last").head(limit)

    def ranked_table(self, frame: pd.DataFrame, key: str, metric_ids: list[str], *, limit: int = 10,
                     by: str | None = None, extra: list[str] = (), empty_key: str = "nothing_in_period") -> None:
        """Show the top `limit` rows (see `top`) with display names and the `extra` dimension columns, or
        the sentence `empty_key` when none has any activity."""
        catalogue = default_catalogue()
        top = self.top(frame, key, metric_ids, limit=limit, by=by)
        names = self.names(key, list(top[key]))
        e = html.escape
        head = [e(self.t(key))] + [e(self.t(x)) for x in extra] + [
            f'<a class="sl-def-link" href="#{self.figures.register(m, self._spec(frame, m))}">'
            f'{e(catalogue.get(m).label[self.lang])}</a>' for m in metric_ids]
        body = []
        for _, r in top.iterrows():
            currency = r.get("currency") or self.shop["currency"]
            cells = "".join(
                f'<td data-value="{e(str(r[m]))}">{e(format_value(r[m], catalogue.get(m).format, currency if catalogue.get(m).unit == "money" else None))}</td>'
                for m in metric_ids)
            labels = "".join(f'<td class="sl-text">{e(text_value(r[x]))}</td>' for x in extra)
            body.append(f'<tr data-key="{e(str(r[key]))}"><th>{e(text_value(names.get(r[key], r[key])))}</th>'
                        f'{labels}{cells}</tr>')
        if not body:
            _display_html(f'<p class="sl-empty">{e(self.t(empty_key))}</p>')
            return
        _display_html(f'<table class="sl-ranked"><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead>'
                      f'<tbody>{"".join(body)}</tbody></table>')

    def scorecard_table(self, frame: pd.DataFrame) -> None:
        """Targets against actuals (a `targets.scorecard` frame), attainment coloured."""
        catalogue = default_catalogue()
        shops = {shop_id: (name, currency) for shop_id, name, currency in
                 self.warehouse.rows("SELECT shop_id, name, currency FROM shops")}
        e = html.escape
        head = [self.t(k) for k in ("owner", "role", "shop", "metric", "target", "actual", "attainment")]
        body = []
        for r in frame.itertuples():
            m = catalogue.get(r.metric)
            name, currency = shops.get(r.shop, (r.shop, None))
            money = currency if m.unit == "money" else None
            done = r.attainment is not None and r.attainment == r.attainment
            css = "" if not done else ("sl-good" if r.attainment >= 1 else "sl-bad")
            anchor = self.figures.register(r.metric, QuerySpec((r.metric,), by=("shop",), period=self.period,
                                                               shops=(r.shop,)), r.actual, currency)
            body.append(
                f'<tr data-metric="{e(r.metric)}" data-attainment="{e(str(r.attainment))}"><th>{e(r.owner)}</th>'
                f'<td>{e(self.t(r.role))}</td><td>{e(name)}</td><td>{e(m.label[self.lang])}</td>'
                f'<td>{e(format_value(r.target, m.format, money))}</td>'
                f'<td><a class="sl-def-link" href="#{anchor}">{e(format_value(r.actual, m.format, money))}</a></td>'
                f'<td class="{css}">{e(format_value(r.attainment if done else None, "percent"))}</td></tr>')
        _display_html(f'<table class="sl-ranked"><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr>'
                      f'</thead><tbody>{"".join(body)}</tbody></table>')

    def definitions(self) -> None:
        e = html.escape
        items = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in self.policies.describe(self.lang).items())
        self.heading("definitions")
        _display_html(f'<dl class="sl-definitions">{items}</dl>')

    def glossary(self, metric_ids: list[str]) -> None:
        """The glossary of `metric_ids`, then the appendix: how each figure the report showed is computed."""
        e = html.escape
        items = "".join(f"<div><dt>{e(label)}</dt><dd>{e(text)}</dd></div>"
                        for label, text in glossary(list(dict.fromkeys(metric_ids)), self.lang))
        self.heading("glossary")
        _display_html(f'<dl class="sl-glossary">{items}</dl>')
        shown = {f.metric for f in self.figures.items}
        for metric_id in dict.fromkeys(metric_ids):  # a metric shown only in a chart: over the report's scope
            if metric_id not in shown:
                self.figures.register(metric_id, self._spec(pd.DataFrame(), metric_id))
        self.appendix()

    def appendix(self) -> None:
        """Each figure the report showed (kpi, ranked and scorecard tables link here): its definition,
        scope and SQL, and the records it adds up, collapsed (docs/reports.md). Shown once, at the end."""
        if not self.figures.items:
            return
        self.heading("appendix")
        items = "".join(f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>"
                        for k, v in self.policies.describe(self.lang).items())
        _display_html(f'<section class="sl-appendix"><dl class="sl-facts">{items}</dl>'
                      f'{appendix_html(self.figures, self.warehouse, self.lang, format_value)}</section>')
        self.figures = Figures()

    def _spec(self, frame: pd.DataFrame, metric_id: str) -> QuerySpec:
        """The query behind a frame's figure (the report's scope for a frame made by hand)."""
        spec = frame.attrs.get("spec")
        if spec is not None:
            return spec
        return QuerySpec((metric_id,), by=("shop",) if self.shop_id else (), period=self.period,
                         shops=(self.shop_id,) if self.shop_id else (), policies=self.policies)

    # --- reconciliation with Seller Center exports (docs/imports.md) ----------------------------------
    def reconciliation(self, *, limit: int = 20) -> None:
        """Show the API against imported Seller Center exports for this shop and period: days where they
        differ (orders, GMV, refunds) and the orders that differ; one line when no export covers the period.
        (`shoplens.imports.reconcile.reconcile` returns the same as data.)"""
        from shoplens.imports.reconcile import reconcile

        self.heading("reconciliation")
        result = reconcile(self.warehouse, self.shop_id, *self.period)
        e, t = html.escape, self.t
        if not result.days["export_orders"].sum():
            _display_html(f'<p class="sl-empty">{e(t("recon_none"))}</p>')
            return
        kinds = result.orders["difference"].value_counts().to_dict() if len(result.orders) else {}
        if not kinds:
            _display_html(f'<p class="sl-ok">{e(t("recon_agree"))}</p>')
            return
        summary = t("recon_summary").format(orders=len(result.orders), only_api=kinds.get("only_api", 0),
                                             only_export=kinds.get("only_export", 0), amounts=kinds.get("amounts", 0))

        def money(value) -> str:
            return format_value(value, "money", result.currency)

        differing = result.days[(result.days.only_api + result.days.only_export + result.days.amounts_differ) > 0]
        head = [t("day"), f'{t("recon_api")} · {self.label("orders")}', f'{t("recon_export")} · {self.label("orders")}',
                f'{t("recon_api")} · GMV', f'{t("recon_export")} · GMV', f'{t("recon_api")} · {self.label("refund_amount")}',
                f'{t("recon_export")} · {self.label("refund_amount")}']
        day_rows = "".join(
            f'<tr data-day="{r.day}"><td>{r.day}</td><td>{r.api_orders}</td><td>{r.export_orders}</td>'
            f"<td>{e(money(r.api_gmv))}</td><td>{e(money(r.export_gmv))}</td><td>{e(money(r.api_refunds))}</td>"
            f"<td>{e(money(r.export_refunds))}</td></tr>" for r in differing.itertuples())
        order_rows = "".join(
            f'<tr data-order="{e(r.order_id)}" data-difference="{e(r.difference)}"><td>{e(r.order_id)}</td>'
            f'<td>{r.day}</td><td>{e(t("recon_" + r.difference))}</td><td>{e(money(r.api_gmv))}</td>'
            f"<td>{e(money(r.export_gmv))}</td><td>{e(money(r.api_refunds))}</td><td>{e(money(r.export_refunds))}</td></tr>"
            for r in result.orders.head(limit).itertuples())
        more = (f'<p class="sl-empty">{e(t("recon_more").format(n=len(result.orders) - limit))}</p>'
                if len(result.orders) > limit else "")
        order_head = [t("recon_order"), t("day"), t("recon_difference")] + head[3:]
        _display_html(
            f'<p class="sl-banner" role="alert">{e(summary)}</p>'
            f'<table class="sl-ranked sl-recon-days"><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr>'
            f"</thead><tbody>{day_rows}</tbody></table>"
            f'<table class="sl-ranked sl-recon-orders"><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in order_head)}'
            f"</tr></thead><tbody>{order_rows}</tbody></table>{more}")

    # --- data quality (docs/quality.md) --------------------------------------------------------------
    def quality(self, metrics: list[str] | None = None, *, now: datetime | None = None) -> None:
        """Show the data-quality section for this report's shop and period: freshness per data source (with
        a banner when some data ends before the period does), failing syncs, sync gaps, unusual days of the
        watched metrics (or of `metrics`) and authorization warnings; "no issues found" when clean. A report
        over every shop shows one freshness line per shop (its stalest source) and details only for what is
        stale or failing. (`shoplens.quality.quality_signals` returns the same as data.)"""
        from shoplens.quality import quality_signals

        signals = quality_signals(self.warehouse, period=self.period, shop=self.shop_id, metrics=metrics,
                                  policies=self.policies, now=now)
        e, t = html.escape, self.t
        every_shop = self.shop_id is None  # a report over every shop names the shop on each row

        def resource(name: str) -> str:
            return t(f"q_res_{name}") if f"q_res_{name}" in i18n.TEXT else name

        def when(value) -> str:
            return t("q_never") if pd.isna(value) else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

        def day(value) -> str:
            return "–" if pd.isna(value) else value.isoformat()

        def table(key: str, head: list[str], rows: list[tuple[dict, list[str]]], text: set[int]) -> str:
            """A table whose columns `text` (indexes into `head`) are words, left-aligned and wrapping;
            the others are figures and dates, kept on one line."""
            heads = ([t("shop")] if every_shop else []) + head
            words = ({0} | {i + 1 for i in text}) if every_shop else text
            body = "".join(
                "<tr" + "".join(f' data-{k}="{e(str(v))}"' for k, v in attrs.items()) + ">"
                + "".join(f'<td class="sl-text">{e(str(c))}</td>' if i in words else f"<td>{e(str(c))}</td>"
                          for i, c in enumerate(cells)) + "</tr>" for attrs, cells in rows)
            return (f'<h3 id="sl-{key}">{e(t(key))}</h3><table class="sl-ranked sl-{key}"><thead><tr>'
                    f'{"".join(f"<th>{e(h)}</th>" for h in heads)}</tr></thead><tbody>{body}</tbody></table>')

        def shop_cell(name) -> list[str]:
            return [name] if every_shop else []

        def expected(value: float, fmt: str, currency: str | None) -> str:
            # a median of whole counts can fall between two of them
            return f"{value:,.1f}" if fmt == "integer" and value != int(value) else format_value(value, fmt, currency)

        def status_of(r) -> str:
            return "q_failing" if r.last_status != "ok" else ("q_stale" if r.stale else "q_ok")

        def fresh_row(r) -> tuple[dict, list[str]]:
            status = status_of(r)
            return ({"shop": r.shop_id, "resource": r.resource, "status": status.removeprefix("q_")},
                    shop_cell(r.shop) + [resource(r.resource), when(r.last_ok), day(r.covered_until),
                                         day(r.latest_available), t(status)])

        fresh_head = [t("q_resource"), t("q_last_ok"), t("q_covered_until"), t("q_latest_available"), t("q_status")]
        parts = []
        if every_shop:  # one line per shop, its stalest source; details only for what needs attention
            parts.append(table("q_freshness_by_shop", [t("q_stalest")] + fresh_head[1:],
                               [fresh_row(r) for r in _stalest_per_shop(signals.freshness).itertuples()], {0, 4}))
            attention = signals.freshness[signals.freshness.stale | (signals.freshness.last_status != "ok")]
            if len(attention):
                parts.append(table("q_attention", fresh_head, [fresh_row(r) for r in attention.itertuples()], {0, 4}))
        else:
            parts.append(table("q_freshness", fresh_head, [fresh_row(r) for r in signals.freshness.itertuples()],
                               {0, 4}))
        if len(signals.stale):
            listed = ", ".join((f"{r.shop}: " if every_shop else "") + resource(r.resource)
                               + ("" if pd.isna(r.covered_until) else f" ({r.covered_until})")
                               for r in signals.stale.itertuples())
            parts.append(f'<p class="sl-banner" role="alert">{e(t("q_stale_banner"))} {e(listed)}</p>')
        for r in signals.authorization.itertuples():
            expires = "" if pd.isna(r.expires_at) else f" {t('q_expires')}: {when(r.expires_at)}."
            parts.append(f'<p class="sl-banner sl-auth" role="alert" data-shop="{e(r.shop_id)}" '
                         f'data-kind="{e(r.kind)}"><strong>{e(t("q_authorization"))} · {e(r.shop)} ({e(r.shop_id)})'
                         f'</strong> {e(t("q_" + r.kind))}{e(expires)}</p>')
        if len(signals.failures):
            parts.append(table("q_failures", [t("q_resource"), t("q_failed_runs"), t("q_failing_since"),
                                              t("q_last_ok"), t("q_error")],
                               [({"shop": r.shop_id, "resource": r.resource}, shop_cell(r.shop) + [
                                   resource(r.resource), r.failed_runs, when(r.failing_since), when(r.last_ok),
                                   (r.error or "")[:300]]) for r in signals.failures.itertuples()], {0, 4}))
        if len(signals.gaps):
            parts.append(table("q_gaps", [t("q_resource"), t("day")],
                               [({"shop": r.shop_id, "resource": r.resource, "day": r.day}, shop_cell(r.shop) + [
                                   resource(r.resource), day(r.day)]) for r in signals.gaps.itertuples()], {0}))
        if len(signals.anomalies):
            catalogue = default_catalogue()
            rows = []
            for r in signals.anomalies.itertuples():
                m = catalogue.get(r.metric)
                money = r.currency if m.unit == "money" else None
                change = "–" if r.change is None or r.change != r.change else (
                    ("+" if r.change > 0 else "") + format_value(r.change, "percent"))
                rows.append(({"shop": r.shop_id, "metric": r.metric, "day": r.day, "kind": r.kind,
                              "deviation": round(r.deviation, 2)},
                             shop_cell(r.shop) + [m.label[self.lang], day(r.day), t("q_" + r.kind),
                                                  format_value(r.value, m.format, money),
                                                  expected(r.expected, m.format, money),
                                                  f"{r.deviation:+.1f}", change]))
            parts.append(table("q_anomalies", [t("metric"), t("day"), t("q_kind"), t("value"), t("q_expected"),
                                               t("q_deviation"), t("change")], rows, {0, 2}))
        causes = self._causes_html()
        parts.append(causes)
        if signals.clean and not causes:
            parts.append(f'<p class="sl-ok">{e(t("q_no_issues"))}</p>')
        self.heading("q_title")
        _display_html(f'<section class="sl-quality" data-issues="{signals.issues}">{"".join(parts)}</section>')

    # --- operations (#15): backlog, stock risk, listing health --------------------------------------------
    def _local_time(self, value) -> str:
        if value is None or pd.isna(value):
            return "–"
        return value.astimezone(ZoneInfo(self.shop["timezone"])).strftime("%Y-%m-%d %H:%M")

    def _table(self, css: str, head: list[str], rows: list[tuple[dict, list[str]]], empty_key: str) -> None:
        """An escaped table (a `data-` attribute per row for checks), or one line saying it is empty."""
        e = html.escape
        if not rows:
            _display_html(f'<p class="sl-empty {css}">{e(self.t(empty_key))}</p>')
            return
        body = "".join("<tr" + "".join(f' data-{k}="{e(str(v))}"' for k, v in attrs.items()) + ">"
                       + f"<th>{e(str(cells[0]))}</th>" + "".join(f"<td>{e(str(c))}</td>" for c in cells[1:])
                       + "</tr>" for attrs, cells in rows)
        _display_html(f'<div class="sl-scroll"><table class="sl-ranked {css}"><thead><tr>'
                      f'{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead><tbody>{body}</tbody></table></div>')

    def backlog(self, *, limit: int = 15) -> None:
        """Orders awaiting shipment at the end of the period, by how long they have waited since payment,
        then the ones at risk (due within 24 h of the period's end, or overdue) with their deadlines."""
        day = self.period[1]
        rows = self.warehouse.rows(
            "SELECT order_id, paid_time, rts_sla_time, age_hours, at_risk, overdue FROM backlog_daily "
            "WHERE shop_id = ? AND date = ? ORDER BY rts_sla_time, order_id", [self.shop_id, day])
        buckets = [("< 24 h", 0, 24), ("24–48 h", 24, 48), ("48–72 h", 48, 72), ("≥ 72 h", 72, float("inf"))]
        self.subheading("ops_backlog")
        self._table("sl-backlog", [self.t("ops_age"), self.t("ops_orders"), self.t("ops_of_them_at_risk")],
                    [({"age": label}, [label, f"{sum(lo <= r[3] < hi for r in rows):,}",
                                       f"{sum(bool(r[4]) and lo <= r[3] < hi for r in rows):,}"])
                     for label, lo, hi in buckets] if rows else [], "ops_no_backlog")
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(self.shop["timezone"]))
        risky = []
        for order_id, paid, due, _, at_risk, overdue in rows:
            if not at_risk:
                continue
            hours = (due - end).total_seconds() / 3600
            left = f"{self.t('ops_overdue')} {-hours:,.1f} h" if overdue else f"{hours:,.1f} h"
            risky.append(({"order": order_id, "overdue": bool(overdue)},
                          [order_id, self._local_time(paid), self._local_time(due), left]))
        self.subheading("ops_at_risk")
        self._table("sl-at-risk", [self.t("ops_order_id"), self.t("ops_paid"), self.t("ops_due"), self.t("ops_left")],
                    risky[:limit], "ops_none_at_risk")

    def stock_risk(self, frame: pd.DataFrame, *, limit: int = 15) -> None:
        """SKUs at stockout risk (a `metrics.query` by product and sku with stock_on_hand, trailing_daily_units,
        days_of_cover and stockout_risk_skus), least cover first."""
        risky = frame[frame["stockout_risk_skus"] > 0].copy()
        risky["cover"] = risky["days_of_cover"].astype(float).fillna(0)
        risky = risky.sort_values(["cover", "sku"], kind="stable").head(limit)
        names = self.names("product", list(risky["product"]))
        skus = dict(self.warehouse.rows("SELECT sku_id, seller_sku FROM skus WHERE shop_id = ?", [self.shop_id]))
        leads = dict(self.warehouse.rows("SELECT sku_id, max(lead_days) FROM stock_daily WHERE shop_id = ? AND "
                                         "date = ? GROUP BY 1", [self.shop_id, self.period[1]]))
        label = self.label
        rows = [({"sku": r.sku, "cover": round(float(r.cover), 2)},
                 [names.get(r.product, r.product), skus.get(r.sku) or r.sku,
                  format_value(r.stock_on_hand, "integer"), format_value(r.trailing_daily_units, "decimal"),
                  format_value(r.days_of_cover, "days"), format_value(leads.get(r.sku, 7), "days")])
                for r in risky.itertuples()]
        self._table("sl-stock-risk", [self.t("product"), self.t("ops_sku"), label("stock_on_hand"),
                                      label("trailing_daily_units"), label("days_of_cover"), self.t("ops_lead")],
                    rows, "ops_no_risk")

    def status_changes(self) -> None:
        """Every product status change in the period (shop-local days): from and to, when, and the GMV the
        product had in the 28 days before it stopped being active."""
        rows = self.warehouse.rows("""
            SELECT h.product_id, coalesce(p.title, h.product_id), h.status, h.since,
                   lag(h.status) OVER (PARTITION BY h.product_id ORDER BY h.since) AS before,
                   (SELECT any_value(l.gmv_before) FROM listing_daily l WHERE l.product_id = h.product_id
                      AND l.since = h.since) AS gmv_before
            FROM product_status_history h LEFT JOIN products p USING (product_id)
            WHERE h.shop_id = ? QUALIFY CAST(timezone(?, h.since) AS DATE) BETWEEN ? AND ?
            ORDER BY h.since, h.product_id""", [self.shop_id, self.shop["timezone"], *self.period])

        def status(value) -> str:
            return "–" if value is None else (self.t(f"status_{value}") if f"status_{value}" in i18n.TEXT else value)

        currency = self.shop["currency"]
        self._table("sl-status-changes", [self.t("product"), self.t("ops_from"), self.t("ops_to"),
                                          self.t("ops_when"), self.t("ops_gmv_before")],
                    [({"product": pid, "status": to}, [title, status(before), status(to), self._local_time(since),
                                                       format_value(gmv, "money", currency)])
                     for pid, title, to, since, before, gmv in rows], "ops_no_changes")

    def _causes_html(self) -> str:
        """The drops the data-quality section can explain, as sentences ('' when there are none)."""
        from shoplens.quality.causes import cause_sentence, product_causes

        if self.shop_id is None:
            return ""
        causes = product_causes(self.warehouse, period=self.period, shop=self.shop_id)
        if not len(causes):
            return ""
        e = html.escape
        items = "".join(
            f'<li data-product="{e(r.product_id)}" data-day="{r.day.isoformat()}" data-cause="{e(r.cause)}">'
            f'{e(cause_sentence(r, self.lang, lambda v, r=r: format_value(v, "money", r.currency)))}</li>'
            for r in causes.itertuples())
        return f'<h3 id="sl-q_causes">{e(self.t("q_causes"))}</h3><ul class="sl-causes">{items}</ul>'
