"""`shoplens metrics list|query|explain|glossary` (mounted by shoplens.cli): the KPI catalogue from the
terminal, and the policy options every command that computes metrics shares (query, explain, verify).

Values are computed by `metrics.query` and `metrics.explain` (the compiler writes the SQL); this module
only formats them. An unknown metric, dimension or shop raises MetricError with the closest known names.
`explain` prints a readable explanation, or the records as CSV (`--csv`) or everything as JSON (`--json`).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit, parse_date, split_list
from shoplens.errors import ShoplensError
from shoplens.suggest import unknown

metrics_app = typer.Typer(help="The KPI catalogue.", no_args_is_help=True)
console = Console()

# --- the options that choose what a metric means (one definition, used by query, explain and verify) ---
TIMEZONE = typer.Option("Asia/Shanghai", help="IANA zone for days, or 'shop'.")
CURRENCY = typer.Option(None, help="Convert money to this currency (needs FX rates).")
GMV_BASIS = typer.Option("paid", help="paid or placed.")
INCLUDE_CANCELLED = typer.Option(False, help="Count cancelled orders.")
REFUNDS_BY = typer.Option("refund_date", help="refund_date or order_date.")
COMMISSION_DEDUCTED = typer.Option(False, help="Net GMV deducts commission.")
GMV_PRICE = typer.Option("seller", help="seller (platform discounts count) or buyer (what buyers paid).")


def policies_from(*, timezone: str, currency: str | None, gmv_basis: str, include_cancelled: bool, refunds_by: str,
                  commission_deducted: bool, gmv_price: str):
    """The Policies the shared options describe."""
    from shoplens.metrics import Policies

    return Policies(gmv_basis=gmv_basis, include_cancelled=include_cancelled, refunds_by=refunds_by,
                    commission_deducted=commission_deducted, timezone=timezone, currency=currency,
                    gmv_price=gmv_price)


def period_from(since: str | None, until: str | None) -> tuple[date, date] | None:
    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if (start is None) != (end is None):
        raise ShoplensError("give both --since and --until, or neither (all time)")
    return (start, end) if start else None


def where_from(items: list[str] | None) -> dict[str, list[str]]:
    """`--where DIM=V1,V2` options -> {dim: [values]}."""
    filters = {}
    for item in items or []:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ShoplensError(f"--where {item!r}: write DIMENSION=VALUE[,VALUE...], e.g. --where channel=affiliate")
        filters[dim.strip()] = split_list([values])
    return filters



@metrics_app.command("list")
def metrics_list(lang: str = typer.Option("en", help="Labels in en or zh."),
                 output: OutputFormat = Output.table) -> None:
    """Every metric in the catalogue with its definition and the dimensions it breaks down by."""
    from shoplens.i18n import LANGS
    from shoplens.metrics import default_catalogue

    if lang not in LANGS:
        raise ShoplensError(unknown("language", lang, LANGS))
    catalogue = default_catalogue()
    rows = [{"id": m.id, "label": m.label[lang], "unit": m.unit, "definition": m.description[lang],
             "dimensions": list(catalogue.dimensions_of(m.id))} for m in catalogue.metrics]
    emit(output, Listing([Column("id", overflow="fold", min_width=max(len(r["id"]) for r in rows)), Column("label"),
                          Column("unit"), Column("definition"), Column("dimensions")], rows))


@metrics_app.command("query")
def metrics_query(names: list[str] = typer.Argument(..., help="Metric ids (space or comma separated)."),
                  by: list[str] = typer.Option(None, "--by", help="Dimensions, e.g. --by shop,day."),
                  since: str = typer.Option(None, help="First local day (YYYY-MM-DD)."),
                  until: str = typer.Option(None, help="Last local day, included (YYYY-MM-DD)."),
                  shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                  compare: str = typer.Option(None, help="previous or last_year (needs --since/--until)."),
                  where: list[str] = typer.Option(None, "--where", help="Keep only DIM=V1,V2 (repeatable)."),
                  timezone: str = TIMEZONE, currency: str = CURRENCY, gmv_basis: str = GMV_BASIS,
                  include_cancelled: bool = INCLUDE_CANCELLED, refunds_by: str = REFUNDS_BY,
                  commission_deducted: bool = COMMISSION_DEDUCTED, gmv_price: str = GMV_PRICE,
                  lang: str = typer.Option("en", help="Column labels in en or zh."),
                  output: OutputFormat = Output.table,
                  csv: bool = typer.Option(False, "--csv", help="Same as --format csv.")) -> None:
    """Compute metrics from the warehouse, e.g. `shoplens metrics query gmv,orders,aov --by shop,day`."""
    from shoplens import metrics

    policies = policies_from(timezone=timezone, currency=currency, gmv_basis=gmv_basis,
                             include_cancelled=include_cancelled, refunds_by=refunds_by,
                             commission_deducted=commission_deducted, gmv_price=gmv_price)
    frame = metrics.query(split_list(names), by=split_list(by), period=period_from(since, until), shop=shop or None,
                          policies=policies, compare=compare, where=where_from(where), lang=lang)
    records = frame.to_dict("records")
    if csv or output is not Output.table:
        emit(Output.csv if csv else output, Listing([Column(c) for c in frame.columns], records))
        return
    from shoplens.reports.context import format_value

    labels, catalogue = frame.attrs["labels"], metrics.default_catalogue()
    shown = []
    for row in records:  # values formatted like the reports
        cells = {}
        for column, value in row.items():
            base = column.removesuffix("_previous").removesuffix("_change")
            if base not in labels:
                cells[column] = "" if value is None or value != value else str(value)
                continue
            fmt = "percent" if column.endswith("_change") else catalogue.get(base).format
            money = row.get("currency") if fmt == "money" else None
            cells[column] = format_value(value, fmt, money).removeprefix(f"{money} ") if money else format_value(value, fmt)
        shown.append(cells)
    columns = []
    for column in frame.columns:  # every value whole; long headers wrap
        base = column.removesuffix("_previous").removesuffix("_change")
        header = labels.get(column) or ({"previous": "prev.", "change": "Δ"}[column[len(base) + 1:]]
                                        if base in labels else column)
        columns.append(Column(column, header, str, justify="right" if base in labels else "left",
                              min_width=max([len(r[column]) for r in shown] + [min(len(header), 6)])))
    emit(output, Listing(columns, shown, title=" · ".join(f"{k}: {v}" for k, v in policies.describe(lang).items())),
         console=console)


def _plain(value) -> str:
    """A cell for CSV and tables: exact decimals, no 'None' or 'nan'."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@metrics_app.command("explain")
def explain_command(metric: str = typer.Argument(..., help="One metric id, e.g. gmv."),
                    by: list[str] = typer.Option(None, "--by", help="Dimensions, e.g. --by shop,day."),
                    since: str = typer.Option(None, help="First local day (YYYY-MM-DD)."),
                    until: str = typer.Option(None, help="Last local day, included (YYYY-MM-DD)."),
                    shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                    where: list[str] = typer.Option(None, "--where", help="Keep only DIM=V1,V2 (repeatable)."),
                    excluded: bool = typer.Option(False, "--excluded", help="Also list the records that do not "
                                                                            "count, with the reason."),
                    limit: int = typer.Option(25, help="Records shown in the table (--csv and --json give all)."),
                    timezone: str = TIMEZONE, currency: str = CURRENCY, gmv_basis: str = GMV_BASIS,
                    include_cancelled: bool = INCLUDE_CANCELLED, refunds_by: str = REFUNDS_BY,
                    commission_deducted: bool = COMMISSION_DEDUCTED, gmv_price: str = GMV_PRICE,
                    lang: str = typer.Option("en", help="Labels and definitions in en or zh."),
                    csv: bool = typer.Option(False, "--csv", help="The records as CSV on stdout, one row per record; "
                                                                  "`value` is what each contributes."),
                    as_json: bool = typer.Option(False, "--json", help="Definition, policies, SQL, figure and records "
                                                                       "as JSON on stdout.")) -> None:
    """A figure opened down to its records: definition, policies, SQL, figure, and each order (or analytics
    row) it adds up, with the raw archive file and line and the sync run it came from."""
    from shoplens.metrics.explain import explain

    if csv and as_json:
        raise ShoplensError("give --csv or --json, not both")
    if "," in metric:
        raise ShoplensError(f"explain one metric at a time, not {metric}: e.g. `shoplens metrics explain "
                            f"{metric.split(',')[0]}`")
    policies = policies_from(timezone=timezone, currency=currency, gmv_basis=gmv_basis,
                             include_cancelled=include_cancelled, refunds_by=refunds_by,
                             commission_deducted=commission_deducted, gmv_price=gmv_price)
    result = explain(metric, by=split_list(by), period=period_from(since, until), shop=shop or None,
                     policies=policies, where=where_from(where), excluded=excluded, lang=lang)
    if csv:
        sys.stdout.write(result.records.map(_plain).to_csv(index=False))
    elif as_json:
        sys.stdout.write(json.dumps(_as_json(result), ensure_ascii=False, indent=1) + "\n")
    else:
        _print(result, limit)


def _as_json(result) -> dict:
    def rows(frame):  # exact decimals and dates as strings, missing values as null (never NaN)
        return [{k: (None if _plain(v) == "" else _plain(v) if isinstance(v, Decimal | date) else
                     v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in frame.to_dict("records")]

    period = result.spec.period
    return {"metric": result.metric.id, "label": result.label, "definition": result.definition,
            "policies": result.policies, "period": [d.isoformat() for d in period] if period else None,
            "by": list(result.spec.by), "sql": result.sql, "figure": rows(result.figure),
            "totals": rows(result.totals()), "records_sql": result.records_sql, "records": rows(result.records)}


def _print(result, limit: int) -> None:
    from shoplens.metrics import default_catalogue
    from shoplens.reports.context import format_value

    catalogue = default_catalogue()
    say = console.print
    m = result.metric
    say(f"[bold]{result.label}[/bold] ({m.id})", highlight=False)
    say(result.definition, markup=False, highlight=False, soft_wrap=True)
    say("\n[bold]Policies[/bold]")
    for name, value in result.policies.items():
        say(f"  {name}: {value}", markup=False, highlight=False, soft_wrap=True)
    period = result.spec.period
    say(f"  Period: {period[0]} – {period[1]}" if period else "  Period: all time", markup=False, highlight=False)

    def shown(metric_id: str, value, currency) -> str:
        part = catalogue.get(metric_id)
        money = currency if part.unit == "money" and isinstance(currency, str) else None
        return format_value(value, part.format, money)

    say("\n[bold]Figure[/bold]")
    figure = Table(*result.keys, *(catalogue.get(p).label[result.lang] for p in dict.fromkeys([m.id,
                                                                                              *result.parts()])))
    for row in result.figure.to_dict("records"):
        figure.add_row(*(_plain(row[k]) for k in result.keys),
                       *(shown(p, row[p], row.get("currency")) for p in dict.fromkeys([m.id, *result.parts()])))
    say(figure)
    totals = result.totals()
    say(f"The records' values add up to the figure in {int(totals.agrees.sum())} of {len(totals)} "
        f"{'group-parts' if m.kind == 'ratio' else 'groups'}" + (" (converted record by record)" if
                                                                  result.spec.policies.currency else "") + ".",
        markup=False, highlight=False)
    say("\n[bold]SQL the compiler ran for the figure[/bold] (parameters written in)")
    say(result.sql, markup=False, highlight=False, soft_wrap=True)
    records = result.records
    counted = int(records.counted.sum())
    say(f"\n[bold]Records[/bold]: {counted:,} counted" + (f", {len(records) - counted:,} not" if
                                                          len(records) > counted else ""), highlight=False)
    if records.empty:
        say("  none in this period", markup=False)
        return
    single = {c: records[c].dropna().unique() for c in ("shop", "currency")}
    columns = ["record", *(["part"] if m.kind == "ratio" else []),
               *(["term"] if records.term.nunique() > 1 else []), *(["shop"] if len(single["shop"]) > 1 else []),
               "day", *(c for c in result.spec.by if c not in ("shop", "day")), "status", "value",
               *(["reason"] if records.reason.notna().any() else []), "archive", "sync_run"]
    columns = [c for c in columns if c == "archive" or (c in records.columns and records[c].notna().any())]
    all_money = all(catalogue.get(term).unit == "money" for term in records.term.unique())
    one_currency = single["currency"][0] if len(single["currency"]) == 1 and all_money else None
    cells = []
    for row in records.head(limit).to_dict("records"):
        row["archive"] = f"{row['archive_file']}:{row['archive_line']}" if row.get("archive_file") else ""
        value = shown(row["term"], row["value"], row.get("currency"))
        row["value"] = value.removeprefix(f"{one_currency} ") if one_currency else value
        cells.append([_plain(row.get(c)) for c in columns])
    table = Table(box=None, pad_edge=False)
    for i, column in enumerate(columns):  # whole values: a wide table wraps rather than cutting ids
        header = f"value ({one_currency})" if column == "value" and one_currency else column
        table.add_column(header, justify="right" if column == "value" else "left", overflow="fold",
                         min_width=max([len(r[i]) for r in cells] + [len(header)]))
    for row in cells:
        table.add_row(*row)
    say(table, crop=False)
    if len(records) > limit:
        say(f"… {len(records) - limit:,} more: --csv (or --json) writes every record", markup=False,
            highlight=False)


@metrics_app.command("glossary")
def metrics_glossary(lang: str = typer.Option("en", help="en or zh."),
                     fmt: str = typer.Option("md", "--format", help="md or html."),
                     metric: list[str] = typer.Option(None, help="Only these metrics (default: all).")) -> None:
    """The glossary of the catalogue, for report appendices and docs."""
    from shoplens.metrics import glossary_html, glossary_markdown

    if fmt not in ("md", "html"):
        raise ShoplensError(f"--format {fmt!r}: use md or html")
    if lang not in ("en", "zh"):
        raise ShoplensError(f"--lang {lang!r}: use en or zh")
    render = glossary_markdown if fmt == "md" else glossary_html
    sys.stdout.write(render(split_list(metric) or None, lang=lang))
