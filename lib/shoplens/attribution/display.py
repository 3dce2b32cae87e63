"""The attribution report's sections, drawn on a ReportContext: the summary (or the "no tracked clicks"
note), credit tables with every model side by side and TikTok's credit, where the models disagree, the
touch-frequency tables, and how credit is given.

Every piece of text (link codes, creators, campaigns: typed by people or sent by the platform) is
HTML-escaped here; exact values ride along in `data-value`. Functions take the figures they show; the
GMV and order totals next to the credit come from `metrics.query` in the notebook. Nothing here reads
the warehouse or computes credit.
"""

from __future__ import annotations

import html
import statistics

import pandas as pd

from shoplens.attribution.analysis import (CREATOR_BUCKETS, TIME_BUCKETS, TOUCH_BUCKETS, AttributionResult,
                                           disagreement, distribution, frequency, rollup)
from shoplens.attribution.models import MODEL_NAMES
from shoplens.attribution.platform import platform_by_creator
from shoplens.reports.context import ReportContext, format_value, text_value

e = html.escape


def _show(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def _money(report: ReportContext, value) -> str:
    return format_value(value, "money", report.shop["currency"])


def _table(report: ReportContext, css: str, head: list[str], rows: list[str]) -> str:
    """A table whose money cells are plain amounts, its currency said once in the caption."""
    caption = report.t("attr_amounts_in").format(currency=report.shop["currency"] or "")
    return (f'<table class="sl-ranked {css}"><caption class="sl-empty" style="text-align: left">{e(caption)}'
            f'</caption><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _cell(report: ReportContext, value) -> str:
    currency = report.shop["currency"]
    amount = format_value(value, "money", currency).removeprefix(f"{currency} ")
    return f'<td data-value="{e(str(value))}">{e(amount)}</td>'


def _text(value) -> str:
    """A text cell (escaped, left-aligned like the row label, wrapping); a missing value is a dash."""
    return f'<td class="sl-text">{e(text_value(value))}</td>'


def days_text(report: ReportContext, days: float) -> str:
    """'7 days' / '7 天' (no trailing .0)."""
    return report.t("attr_days").format(n=f"{days:g}")


def summary(report: ReportContext, result: AttributionResult, shop_totals: pd.DataFrame) -> None:
    """Clicks, attributed orders and GMV against the shop's (a `metrics.query(["gmv", "orders"], by=["shop"])`
    frame); the "no tracked clicks" note when no order had a touch."""
    t = report.t
    gmv = shop_totals["gmv"].sum() if len(shop_totals) else 0
    orders = int(shop_totals["orders"].sum()) if len(shop_totals) else 0
    share = float(result.attributed_gmv / gmv) if gmv else None
    facts = {t("attr_clicks"): f"{result.clicks.get('clicks', 0):,}",
             t("attr_bot_clicks"): f"{result.clicks.get('bot_clicks', 0):,}",
             t("attr_links_clicked"): f"{result.clicks.get('links', 0):,}",
             t("attr_visitors"): f"{result.clicks.get('visitors', 0):,}",
             t("attr_orders"): f"{len(result.orders):,} / {orders:,}",
             t("attr_gmv"): _money(report, result.attributed_gmv),
             report.label("gmv"): _money(report, gmv),
             t("attr_share"): format_value(share, "percent"),
             t("attr_refunded"): _money(report, result.refunded)}
    report.heading("attr_summary")
    report.kv_list(facts)
    if result.empty:
        _show(f'<p class="sl-empty sl-no-clicks">{e(t("attr_no_clicks"))}</p>')


def model_label(report: ReportContext, model: str) -> str:
    return report.t(f"model_{model}")


def credit_table(report: ReportContext, result: AttributionResult, by: str, *,
                 tiktok_gmv: pd.DataFrame | None = None, limit: int = 15) -> pd.DataFrame:
    """Heading and table of credit per `by` (link, creator, campaign, channel) under every model; for
    creators also TikTok's credit of the same orders and, from `tiktok_gmv` (a `metrics.query(
    ["creator_gmv"], by=["creator"])` frame), TikTok's creator GMV over all the period's orders.
    Returns the rows shown (nothing is shown when no order had a touch)."""
    if result.empty:
        return pd.DataFrame()
    wide = rollup(result.credits, by)
    key = wide.columns[0]
    models = [m for m in MODEL_NAMES if m in wide.columns]
    extra = [c for c in ("creator", "campaign", "channel") if c in wide.columns and c != key]
    platform = platform_by_creator(result.platform) if by == "creator" else {}
    if by == "creator":
        missing = [c for c in platform if c not in set(wide[key])]  # creators only TikTok credits
        if missing:
            filler = pd.DataFrame([[c, *[0] * len(models)] for c in missing], columns=[key, *models])
            wide = pd.concat([wide, filler], ignore_index=True)
        wide["platform"] = [platform.get(c if isinstance(c, str) else None, 0) for c in wide[key]]
        if tiktok_gmv is not None:
            all_orders = {str(c).lower(): v for c, v in zip(tiktok_gmv["creator"], tiktok_gmv["creator_gmv"])
                          if isinstance(c, str)}
            wide["platform_all"] = [all_orders.get(c, 0) if isinstance(c, str) else None for c in wide[key]]
    top = wide.head(limit)
    names = {"code": report.t("attr_link"), "creator": report.t("creator"), "campaign": report.t("campaign"),
             "channel": report.t("channel")}
    head = [names[key], *(names[c] for c in extra), *(model_label(report, m) for m in models)]
    money = list(models)
    for column, label in (("platform", "attr_platform"), ("platform_all", "attr_platform_all")):
        if column in top.columns:
            head.append(report.t(label))
            money.append(column)
    rows = []
    for _, r in top.iterrows():
        label = r[key] if isinstance(r[key], str) else report.t("attr_own")
        cells = "".join(_text(r[c]) for c in extra)
        values = "".join(_cell(report, r[c]) if r[c] is not None else "<td>–</td>" for c in money)
        rows.append(f'<tr data-key="{e(r[key] if isinstance(r[key], str) else "")}"><th>{e(label)}</th>{cells}'
                    f'{values}</tr>')
    report.heading(f"attr_by_{by}")
    _show(_table(report, f"sl-attr-{by}", head, rows))
    return top.reset_index(drop=True)


def disagreement_table(report: ReportContext, result: AttributionResult, *, by: str = "link",
                       limit: int = 10) -> pd.DataFrame:
    """Heading and the `by` rows whose credit differs most between the models (highest minus lowest)."""
    if result.empty:
        return pd.DataFrame()
    report.heading("attr_disagree")
    spread = disagreement(result.credits, by).head(limit)
    if not len(spread):
        _show(f'<p class="sl-empty">{e(report.t("attr_agree"))}</p>')
        return spread
    key = spread.columns[0]
    names = {"code": "attr_link", "creator": "creator", "campaign": "campaign", "channel": "channel"}
    extra = [c for c in ("creator",) if c in spread.columns and c != key]
    head = [report.t(names[key]), *(report.t(names[c]) for c in extra), report.t("attr_highest"), "",
            report.t("attr_lowest"), "", report.t("attr_spread")]
    rows = []
    for _, r in spread.iterrows():
        cells = "".join(_text(r[c]) for c in extra)
        rows.append(f'<tr data-key="{e(str(r[key]))}" data-highest="{e(r["highest"])}" data-lowest="{e(r["lowest"])}">'
                    f'<th>{e(str(r[key]))}</th>{cells}{_text(model_label(report, r["highest"]))}'
                    f'{_cell(report, r[r["highest"]])}{_text(model_label(report, r["lowest"]))}'
                    f'{_cell(report, r[r["lowest"]])}{_cell(report, r["spread"])}</tr>')
    _show(_table(report, "sl-attr-disagree", head, rows))
    return spread


def frequency_tables(report: ReportContext, result: AttributionResult) -> dict[str, pd.DataFrame]:
    """Heading, the median times to order, and paths by touches, by distinct creators and by time from
    first touch to order; returns the three distributions (keys touches, creators, time)."""
    if result.empty:
        return {}
    t = report.t
    per_path = frequency(result.paths)
    tables = {"touches": distribution(per_path, "touches", TOUCH_BUCKETS),
              "creators": distribution(per_path, "creators", CREATOR_BUCKETS),
              "time": distribution(per_path, "first_touch_hours", TIME_BUCKETS)}
    tables["time"]["bucket"] = [t(b) for b in tables["time"]["bucket"]]
    report.heading("attr_frequency")
    report.kv_list({t("attr_median_first"): t("attr_hours").format(
                        n=f"{statistics.median(per_path['first_touch_hours']):,.1f}"),
                    t("attr_median_last"): t("attr_hours").format(
                        n=f"{statistics.median(per_path['last_touch_hours']):,.1f}")})
    for name, title in (("touches", "attr_touches"), ("creators", "attr_creators_per_path"),
                        ("time", "attr_time_to_order")):
        rows = [f'<tr data-key="{e(str(r.bucket))}" data-paths="{r.paths}"><th>{e(str(r.bucket))}</th>'
                f'<td>{r.paths:,}</td><td>{e(format_value(r.share, "percent"))}</td>{_cell(report, r.gmv)}</tr>'
                for r in tables[name].itertuples()]
        report.subheading(title)
        _show(_table(report, f"sl-attr-{name}", [t("attr_bucket"), t("attr_paths"), t("attr_path_share"),
                                         report.label("gmv")], rows))
    return tables


def rules(report: ReportContext, result: AttributionResult) -> None:
    """Heading and how credit is given: each model, the touches, the order value, rounding, TikTok's way."""
    t = report.t
    items = {model_label(report, m): t(f"model_{m}_def") for m in MODEL_NAMES}
    items |= {t("attr_lookback"): days_text(report, result.lookback_days),
              t("attr_half_life"): days_text(report, result.half_life_days)}
    items |= {t(k): t(f"{k}_def") for k in ("attr_rule_joins", "attr_rule_value", "attr_rule_rounding",
                                           "attr_rule_platform")}
    report.heading("attr_models")
    report.kv_list(items)
