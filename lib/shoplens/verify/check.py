"""The compiler's figures against the raw archive's (`recompute`), per shop, day and metric; where they
differ, the records that make the difference, each side's value and the archive line.

The compiler's side is `metrics.query` for the figures and `metrics.explain` for its records, on the
published warehouse, read-only. This module never writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from shoplens.errors import ShoplensError
from shoplens.metrics import Policies, query
from shoplens.metrics.explain import explain
from shoplens.sync.archive import ARCHIVE_DIR, RawArchive
from shoplens.verify.recompute import METRICS, ArchiveFigures, archive_figures
from shoplens.warehouse import Warehouse


@dataclass(frozen=True)
class RecordDifference:
    key: str
    order_id: str
    compiler: Decimal | int | None
    archive: Decimal | int | None
    place: str | None


@dataclass(frozen=True)
class Difference:
    shop: str
    day: date
    metric: str
    currency: str | None
    compiler: Decimal | int
    archive: Decimal | int
    records: tuple[RecordDifference, ...]


@dataclass
class Verification:
    period: tuple[date, date]
    policies: Policies
    shops: list[str]
    figures: ArchiveFigures
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        """One line: what was checked against what, and the outcome."""
        scope = (f"{len(self.shops)} shop(s), {self.period[0]} – {self.period[1]}, {', '.join(METRICS)}; "
                 f"{self.figures.orders:,} orders and {self.figures.returns:,} returns in "
                 f"{self.figures.pages:,} archived pages")
        if self.ok:
            return f"verify: {self.checked:,} of {self.checked:,} figures agree with the raw archive ({scope})"
        return f"verify: {len(self.differences):,} of {self.checked:,} figures differ from the raw archive ({scope})"


def verify(home: Path, warehouse: Warehouse, *, period: tuple[date, date] | None = None, shops: list[str] = (),
           policies: Policies | None = None) -> Verification:
    """Recompute from `home`'s raw archive and compare with the compiler on `warehouse`."""
    policies = policies or Policies()
    if policies.currency:
        raise ShoplensError("verify compares amounts in each shop's own currency: drop --currency")
    archive = RawArchive(home / ARCHIVE_DIR)
    options = {"timezone": policies.timezone, "gmv_basis": policies.gmv_basis,
               "include_cancelled": policies.include_cancelled, "gmv_price": policies.gmv_price,
               "refunds_by": policies.refunds_by}
    figures = archive_figures(archive, period=period, shops=shops, **options)
    if not figures.pages:
        raise ShoplensError(f"no raw archive under {home / ARCHIVE_DIR}: run `shoplens sync` first")
    known = sorted(figures.shops)
    missing = [s for s in shops if s not in known]
    if missing:
        raise ShoplensError(f"unknown shop id(s) {', '.join(missing)}; the archive has {', '.join(known)}")
    if period is None:
        days = sorted({c.day for c in figures.contributions})
        if not days:
            raise ShoplensError("the raw archive holds no counted orders or refunds: give --since and --until")
        period = (days[0], days[-1])
    chosen = list(shops) or known
    result = Verification(period, policies, chosen, figures)
    ours = query(list(METRICS), by=["shop", "day"], period=period, shop=chosen, policies=policies,
                 warehouse=warehouse)
    theirs = figures.totals()
    for row in ours.to_dict("records"):
        for metric in METRICS:
            result.checked += 1
            archive_value = theirs.get((row["shop"], row["day"], metric), 0)
            if row[metric] != archive_value:
                result.differences.append(Difference(
                    row["shop"], row["day"], metric, row.get("currency"), row[metric], archive_value,
                    _records(warehouse, figures, row["shop"], row["day"], metric, policies)))
    return result


def _records(warehouse: Warehouse, figures: ArchiveFigures, shop: str, day: date, metric: str,
             policies: Policies) -> tuple[RecordDifference, ...]:
    """The records whose contribution differs between the compiler and the archive for one figure."""
    explained = explain(metric, by=["shop", "day"], period=(day, day), shop=shop, policies=policies,
                        warehouse=warehouse).records
    key = "buyer_id" if metric == "buyers" else "record"
    compiler: dict[str, tuple] = {}
    for r in explained.to_dict("records"):
        if r["value"]:
            compiler[str(r[key])] = (r["value"], r.get("order_id") or r["record"],
                                     f"{r['archive_file']}:{r['archive_line']}" if r.get("archive_file") else None)
    archive = {c.key: (c.value, c.order_id, c.archive) for c in figures.contributions
               if (c.shop, c.day, c.metric) == (shop, day, metric)}
    out = []
    for k in sorted(set(compiler) | set(archive)):
        ours, theirs = compiler.get(k), archive.get(k)
        if ours is None or theirs is None or ours[0] != theirs[0]:
            order_id = (theirs or ours)[1]
            out.append(RecordDifference(k, str(order_id), ours[0] if ours else None, theirs[0] if theirs else None,
                                        (theirs or ours)[2]))
    return tuple(out)
