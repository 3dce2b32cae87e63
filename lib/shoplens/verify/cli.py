"""`shoplens verify` (mounted by shoplens.cli): recompute from the raw archive, compare with the
compiler, print any difference with its records, exit 1 when there is one. Must never print a
traceback for a user's mistake, nor write to the workspace.
"""

from __future__ import annotations

import typer
from rich.console import Console

from shoplens.errors import ShoplensError
from shoplens.metrics.cli import GMV_BASIS, GMV_PRICE, INCLUDE_CANCELLED, REFUNDS_BY, TIMEZONE, period_from

console = Console()


def verify_command(since: str = typer.Option(None, help="First local day (YYYY-MM-DD); default: the archive's "
                                                         "first day with orders."),
                   until: str = typer.Option(None, help="Last local day, included; default: the archive's last."),
                   shop: list[str] = typer.Option(None, help="Only these shop ids (repeatable)."),
                   timezone: str = TIMEZONE, gmv_basis: str = GMV_BASIS, include_cancelled: bool = INCLUDE_CANCELLED,
                   refunds_by: str = REFUNDS_BY, gmv_price: str = GMV_PRICE,
                   limit: int = typer.Option(10, help="Records listed per differing figure.")) -> None:
    """Recompute GMV, orders, units, buyers and refunds per shop and day from the raw archive alone and
    compare them with the metric compiler's; print any difference with the records involved."""
    from shoplens.config import load_settings
    from shoplens.metrics import Policies
    from shoplens.verify.check import verify
    from shoplens.warehouse import open_warehouse

    policies = Policies(timezone=timezone, gmv_basis=gmv_basis, include_cancelled=include_cancelled,
                        refunds_by=refunds_by, gmv_price=gmv_price)
    with open_warehouse() as warehouse:
        result = verify(load_settings().home, warehouse, period=period_from(since, until), shops=shop or [],
                        policies=policies)
    say = console.print
    for d in result.differences:
        def shown(value, d=d) -> str:
            return _shown(value, d.currency if d.metric in ("gmv", "refund_amount") else None)

        say(f"differs: shop {d.shop} {d.day} {d.metric}: compiler {shown(d.compiler)}, archive {shown(d.archive)} "
            f"({len(d.records)} record(s))", markup=False, highlight=False, soft_wrap=True)
        for r in d.records[:limit]:
            what = r.key if r.key == r.order_id else f"{r.key} (order {r.order_id})"
            say(f"  {what}: compiler {shown(r.compiler)}, archive {shown(r.archive)}"
                + (f"; archived at {r.place}" if r.place else ""), markup=False, highlight=False, soft_wrap=True)
        if len(d.records) > limit:
            say(f"  … {len(d.records) - limit} more (--limit)", markup=False, highlight=False)
    say(result.summary(), markup=False, highlight=False, soft_wrap=True)
    if not result.ok:
        raise ShoplensError(f"{len(result.differences)} figure(s) differ from the raw archive (listed above): "
                            "`shoplens sync --replay` rebuilds the warehouse from the archive")


def _shown(value, currency: str | None) -> str:
    from shoplens.reports.context import format_value

    if value is None:
        return "missing"
    return format_value(value, "money", currency) if currency else f"{int(value):,}"
