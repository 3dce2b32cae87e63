"""Keep one section per benchmark in docs/performance.md, between markers, rewritten by each run."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
HEADER = """# Performance

Measured by the scripts in `bench/` on these machines (2 cores); each writes `bench/results/<name>.json`
and its section below. Timings are never asserted in tests; the machines are noisy, so every
benchmark compares against the naive way in the same run.
"""


def update_section(name: str, intro: str, table: list[str]) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    body = f"{start}\n## {name}\n\n{intro}\n\n" + "\n".join(table) + f"\n{end}"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + body + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    DOC.write_text(text, encoding="utf-8")
