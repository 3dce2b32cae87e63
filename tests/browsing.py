"""Opening reports in headless Chromium the way a reader does, offline: every request that would
leave the file is refused and recorded, and console errors, page errors, failed requests and any
dialog (alert/confirm/prompt, which a script injected through untrusted text would open) are
collected as errors."""

from pathlib import Path

#: JavaScript: the ids of Plotly charts that have not drawn (no full layout or no SVG yet)
UNDRAWN = ("() => [...document.querySelectorAll('.plotly-graph-div')]"
           ".filter(d => !(d._fullLayout && d.querySelector('svg.main-svg'))).map(d => d.id)")


def open_offline(browser, path: Path, *, width: int = 1100):
    """Open a file with the network blocked; return (page, errors, remote requests)."""
    page = browser.new_page(viewport={"width": width, "height": 1400})
    errors, remote = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}")
            if request.url not in remote else None)

    def dialog(d):
        errors.append(f"dialog {d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)

    def block(route):
        if not route.request.url.startswith(("file://", "data:", "blob:")):
            remote.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", block)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, remote


def wait_for_charts(page) -> None:
    """Wait until every Plotly chart on the page has drawn its SVG (a chart that never draws fails)."""
    page.wait_for_function(f"() => ({UNDRAWN})().length === 0", timeout=15000)
