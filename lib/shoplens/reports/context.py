"""What a report notebook calls: open the warehouse read-only for one scope, and display the parts
every report shares (title block, headings, KPI tables, definitions, glossary).

All text from the platform (shop names, product titles) is HTML-escaped here before display. The
report holds no credentials and reads only through the metric API and the warehouse's read-only view.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd

from shoplens import i18n
from shoplens.errors import ReportError
from shoplens.metrics import Policies, default_catalogue, glossary, parse_period
from shoplens.regions import REGIONS
from shoplens.warehouse import Warehouse, open_warehouse

_MINOR_DIGITS = {r.currency: r.minor_digits for r in REGIONS.values()}


def format_value(value, unit: str, currency: str | None = None) -> str:
    """A metric value for people: thousands separators, the currency's own precision."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if unit == "money":
        digits = _MINOR_DIGITS.get(currency or "", 2)
        text = f"{Decimal(value):,.{digits}f}"
        return f"{currency} {text}" if currency else text
    if unit == "ratio":
        return f"{float(value):.1%}"
    if unit == "count":
        return f"{int(value):,}"
    return str(value)


def _display_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


@dataclass
class ReportContext:
    """One report's scope: which report, which shop, which days, which language."""

    report_id: str
    shop_id: str
    period: tuple[date, date]
    lang: str
    warehouse: Warehouse
    shop: dict
    policies: Policies = field(default_factory=Policies)

    @classmethod
    def open(cls, report_id: str, *, shop_id: str, period: tuple[str, str], lang: str = "en",
             warehouse: Warehouse | None = None) -> ReportContext:
        i18n.t(report_id, lang)  # rejects an unknown language early, with the list
        wh = warehouse or open_warehouse(read_only=True)
        rows = wh.rows("SELECT shop_id, name, region, currency, timezone FROM shops WHERE shop_id = ?", [shop_id])
        if not rows:
            known = ", ".join(r[0] for r in wh.rows("SELECT shop_id FROM shops ORDER BY shop_id"))
            raise ReportError(f"unknown shop_id {shop_id!r}; synced shops: {known or 'none (run shoplens sync)'}",
                              notebook=report_id)
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
            "WHERE shop_id = ? AND status = 'ok' GROUP BY resource)", [self.shop_id])
        return rows[0][0] if rows and rows[0][0] else None

    # --- display ---------------------------------------------------------------------------
    def title(self) -> None:
        synced = self.last_sync()
        synced_text = synced.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if synced else self.t("never_synced")
        e = html.escape
        rows = [(self.t("shop"), f"{self.shop['name']} ({self.shop['region']}, {self.shop_id})"),
                (self.t("period"), f"{self.period[0]} – {self.period[1]}"),
                (self.t("generated"), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
                (self.t("freshness"), synced_text)]
        facts = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in rows)
        _display_html(f'<header class="sl-report-title"><h1>{e(self.t(self.report_id))} · {e(self.shop["name"])}'
                      f'</h1><dl class="sl-facts">{facts}</dl></header>')

    def heading(self, key: str) -> None:
        _display_html(f'<h2 id="sl-{html.escape(key)}">{html.escape(self.t(key))}</h2>')

    def kpi_table(self, frame: pd.DataFrame, metric_ids: list[str]) -> None:
        """One row per metric; the exact value rides along in `data-value` for checks and exports."""
        if len(frame) > 1:
            raise ReportError(f"kpi_table expects one row, got {len(frame)}", notebook=self.report_id)
        # a period with no activity has no row: show zeros for measures and a dash for ratios
        row = frame.iloc[0] if len(frame) else {m: (None if default_catalogue().get(m).is_ratio else 0)
                                                for m in metric_ids}
        currency = row.get("currency") or self.shop["currency"]
        catalogue = default_catalogue()
        e = html.escape
        body = []
        for metric_id in metric_ids:
            m = catalogue.get(metric_id)
            value = row[metric_id]
            body.append(f'<tr data-metric="{e(metric_id)}" data-value="{e(str(value))}"><th>{e(m.label[self.lang])}'
                        f'</th><td>{e(format_value(value, m.unit, currency if m.unit == "money" else None))}</td></tr>')
        _display_html(f'<table class="sl-kpis"><thead><tr><th>{e(self.t("metric"))}</th><th>{e(self.t("value"))}'
                      f'</th></tr></thead><tbody>{"".join(body)}</tbody></table>')

    def definitions(self) -> None:
        e = html.escape
        items = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in self.policies.describe(self.lang).items())
        self.heading("definitions")
        _display_html(f'<dl class="sl-definitions">{items}</dl>')

    def glossary(self, metric_ids: list[str]) -> None:
        e = html.escape
        items = "".join(f"<div><dt>{e(label)}</dt><dd>{e(text)}</dd></div>"
                        for label, text in glossary(metric_ids, self.lang))
        self.heading("glossary")
        _display_html(f'<dl class="sl-glossary">{items}</dl>')
