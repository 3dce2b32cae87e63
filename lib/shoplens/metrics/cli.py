"""`shoplens metrics list|query|glossary` (mounted by shoplens.cli): the KPI catalogue from the terminal.

Values are computed by `metrics.query` (the compiler writes the SQL); this module only formats them. An
unknown metric, dimension or shop raises MetricError with the closest known names.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from shoplens.commandline import Column, Listing, Output, OutputFormat, emit, parse_date, split_list
from shoplens.errors import ShoplensError
from shoplens.suggest import unknown

metrics_app = typer.Typer(help="The KPI catalogue.", no_args_is_help=True)
console = Console()

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
                  timezone: str = typer.Option("Asia/Shanghai", help="IANA zone for days, or 'shop'."),
                  currency: str = typer.Option(None, help="Convert money to this currency (needs FX rates)."),
                  gmv_basis: str = typer.Option("paid", help="paid or placed."),
                  include_cancelled: bool = typer.Option(False, help="Count cancelled orders."),
                  refunds_by: str = typer.Option("refund_date", help="refund_date or order_date."),
                  commission_deducted: bool = typer.Option(False, help="Net GMV deducts commission."),
                  lang: str = typer.Option("en", help="Column labels in en or zh."),
                  output: OutputFormat = Output.table,
                  csv: bool = typer.Option(False, "--csv", help="Same as --format csv.")) -> None:
    """Compute metrics from the warehouse, e.g. `shoplens metrics query gmv,orders,aov --by shop,day`."""
    from shoplens import metrics
    from shoplens.metrics import Policies

    start, end = parse_date(since, "--since"), parse_date(until, "--until")
    if (start is None) != (end is None):
        raise ShoplensError("give both --since and --until, or neither (all time)")
    policies = Policies(gmv_basis=gmv_basis, include_cancelled=include_cancelled, refunds_by=refunds_by,
                        commission_deducted=commission_deducted, timezone=timezone, currency=currency)
    filters = {}
    for item in where or []:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ShoplensError(f"--where {item!r}: write DIMENSION=VALUE[,VALUE...], e.g. --where channel=affiliate")
        filters[dim.strip()] = split_list([values])
    frame = metrics.query(split_list(names), by=split_list(by), period=(start, end) if start else None, shop=shop or None,
                          policies=policies, compare=compare, where=filters, lang=lang)
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
