"""Pages as their reader sees them: the visible text checked for debris (Python reprs, tracebacks,
missing values printed as `nan` or `None`), the layout at a phone's width, and full-page screenshots
kept as test artefacts for a person to look at."""

import re
from pathlib import Path

from browsing import open_offline, wait_for_charts
from pdfs import ARTIFACTS

#: what a reader must never see, each with what it is
DEBRIS = [
    (re.compile(r"\b[A-Za-z_][\w.]*\([a-z_]\w*="), "a Python repr"),
    (re.compile(r"Traceback \(most recent call last\)"), "a traceback"),
    (re.compile(r"\bobject at 0x[0-9a-fA-F]+"), "an object repr"),
    (re.compile(r"\[\d+ rows x \d+ columns\]"), "a DataFrame printed as text"),
    (re.compile(r"\bdtype: \w+"), "a Series printed as text"),
    (re.compile(r"(?<![\w.-])(?:nan|NaN|None|<NA>|NaT)(?![\w-])"), "a missing value printed as such"),
]
PHONE = 390
DESKTOP = 1280


def debris(text: str) -> list[str]:
    """Every piece of debris in `text`, each with a little context, or []."""
    found = []
    for pattern, what in DEBRIS:
        for match in pattern.finditer(text):
            context = text[max(0, match.start() - 60):match.end() + 40].replace("\n", " ")
            found.append(f"{what}: {match.group(0)!r} in …{context}…")
    return found


def visible_text(browser, path: Path) -> str:
    """The page's text as Chromium lays it out (hidden elements excluded), after every chart has drawn."""
    page, errors, remote = open_offline(browser, path)
    try:
        wait_for_charts(page)
        assert errors == [] and remote == [], (path.name, errors, remote)
        return page.locator("body").inner_text()
    finally:
        page.close()


def layout_at(browser, path: Path, width: int, *, screenshot: str | None = None) -> dict:
    """At a viewport `width` px wide: how wide the document is (scrollWidth), the widest chart, and
    the widest element that is not inside its own scrolling box; optionally a full-page screenshot
    saved as ARTIFACTS/pages/<screenshot>.png."""
    page, errors, remote = open_offline(browser, path, width=width)
    try:
        wait_for_charts(page)
        page.wait_for_timeout(200)  # plotly's resize handler redraws charts to the viewport
        measured = page.evaluate("""() => {
            const charts = [...document.querySelectorAll('.plotly-graph-div')]
                .map(d => Math.ceil(d.getBoundingClientRect().right));
            return {scroll_width: document.documentElement.scrollWidth,
                    widest_chart: charts.length ? Math.max(...charts) : 0, charts: charts.length};
        }""")
        if screenshot:
            target = ARTIFACTS / "pages" / f"{screenshot}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target), full_page=True)
            measured["screenshot"] = target
        measured["errors"] = errors + [f"remote request: {url}" for url in remote]
        return measured
    finally:
        page.close()
