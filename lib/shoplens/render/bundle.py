"""The plotly.js bundle the HTML reports embed: the smallest that draws our charts.

Our charts (`shoplens.charts`) use bar and scatter traces, shapes and annotations only, all in
plotly.js's "basic" partial bundle (scatter, bar, pie): 1.2 MB minified against 4.8 MB for the full
bundle plotly.py ships. It is the npm package `plotly.js-basic-dist-min` at exactly the plotly.js
version plotly.py writes figures for, fetched once by `make setup` (`bundle.main()`)
into `.cache/` and never committed. Without it (npm unreachable at setup) reports embed the full bundle
and say so in a warning.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from shoplens.npm import NpmUnavailable, npm_pack

PACKAGE = "plotly.js-basic-dist-min"
FILE = "plotly-basic.min.js"
#: the trace types the basic bundle registers; charts.py must use no others
TRACES = frozenset({"scatter", "bar", "pie"})
CACHE = Path(__file__).resolve().parents[3] / ".cache" / "plotly"
log = logging.getLogger(__name__)


def plotly_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def basic_bundle(cache: Path = CACHE, *, fetch: bool = False) -> Path | None:
    """The cached basic bundle for plotly.py's plotly.js version; fetched with npm when `fetch`."""
    target = cache / f"{PACKAGE}-{plotly_version()}"
    if (target / FILE).exists():
        return target / FILE
    if not fetch:
        return None
    return npm_pack(PACKAGE, plotly_version(), target, "package") / FILE


def bundle_text() -> tuple[str, str]:
    """(name, JavaScript) of the bundle to embed: the basic one when cached, else the full one."""
    path = basic_bundle()
    if path is not None:
        return f"{PACKAGE} {plotly_version()}", path.read_text(encoding="utf-8")
    import plotly

    log.warning("plotly.js basic bundle not cached (run `make setup` where npm can reach its registry); "
                "embedding the full 4.8 MB bundle")
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return f"plotly.js {plotly_version()} (full)", full.read_text(encoding="utf-8")


def main() -> None:
    """`make setup`: fetch the bundle now, so rendering never needs the network."""
    try:
        print(f"plotly.js bundle: {basic_bundle(fetch=True)}")
    except NpmUnavailable as exc:
        print(f"warning: {exc}; reports will embed the full plotly.js bundle", file=sys.stderr)
