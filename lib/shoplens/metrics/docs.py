"""The metric table of docs/metrics.md, generated from the catalogue so the two never disagree.

`python -m shoplens.metrics.docs` rewrites the section between the markers; a test checks it is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from shoplens.metrics.api import default_catalogue

START, END = "<!-- catalogue:start -->", "<!-- catalogue:end -->"


def catalogue_table() -> str:
    catalogue = default_catalogue()
    rows = ["| id | English | 中文 | unit | definition | computed as | dimensions |", "|---|---|---|---|---|---|---|"]
    for m in catalogue.metrics:
        if m.kind == "ratio":
            how = f"`{m.numerator}` / `{m.denominator}`" + (f" × {m.scale}" if m.scale != 1 else "")
        elif m.kind == "sum":
            how = " ".join(f"{'−' if sign < 0 else '+'} `{part}`" + (f" (if `{cond}`)" if cond else "")
                           for sign, part, cond in m.terms).removeprefix("+ ")
        else:
            what = f"`{m.source}` rows" if m.expr == "row" else f"`{m.source}.{m.expr}`"
            column = catalogue.sources[m.source].columns.get(m.expr)
            if isinstance(column, dict):  # priced: one SQL per GMV price
                what += " (" + "; ".join(f"{price}: `{sql}`" for price, sql in column.items()) + ")"
            how = f"{m.agg} of {what}" + (f" where {', '.join(m.filters)}" if m.filters else "")
            if m.policies:
                how += f"; follows {', '.join(m.policies)}"
        rows.append(f"| `{m.id}` | {m.label['en']} | {m.label['zh']} | {m.unit} | {m.description['en']} | {how} | "
                    f"{', '.join(catalogue.dimensions_of(m.id))} |")
    return "\n".join(rows)


def section() -> str:
    return f"{START}\n{catalogue_table()}\n{END}"


def rewrite(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    path.write_text(before + section() + rest.split(END, 1)[1], encoding="utf-8")


if __name__ == "__main__":
    rewrite(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/metrics.md"))
