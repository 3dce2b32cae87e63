"""`shoplens metrics explain`, and the policy options every command that computes metrics shares.

`cli.py` mounts `explain_command` on the `metrics` group. Output is a readable explanation, or the
records as CSV (`--csv`) or everything as JSON (`--json`). Mistakes are ShoplensErrors (one line, exit 1).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from shoplens.errors import ShoplensError

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


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ShoplensError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


def period_from(since: str | None, until: str | None) -> tuple[date, date] | None:
    start, end = parse_day(since, "--since"), parse_day(until, "--until")
    if (start is None) != (end is None):
        raise ShoplensError("give both --since and --until, or neither (all time)")
    return (start, end) if start else None


def split_values(values: list[str] | None) -> list[str]:
    """Repeatable options that also take comma-separated values: ["a,b", "c"] -> ["a", "b", "c"]."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def where_from(items: list[str] | None) -> dict[str, list[str]]:
    filters = {}
    for item in items or []:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ShoplensError(f"--where {item!r}: write DIMENSION=VALUE[,VALUE...], e.g. --where channel=affiliate")
        filters[dim.strip()] = split_values([values])
    return filters


def _plain(value) -> str:
    """A cell for CSV and tables: exact decimals, no 'None' or 'nan'."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


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
    result = explain(metric, by=split_values(by), period=period_from(since, until), shop=shop or None,
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

