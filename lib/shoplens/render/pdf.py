"""PDF by printing a report's HTML in headless Chromium (Debian's browser, through Playwright).

One `PdfPrinter` keeps one browser for a whole batch. Playwright objects belong to the thread that
made them, so the printer owns a thread with its own event loop, and `print()` may be called from any
thread (the batch renders from several); pages print concurrently in the one browser.

A4 with page numbers. The page is laid out at the printed width (the viewport is as wide as A4 less
its margins, in print media) before any chart draws, and printing waits until every Plotly chart on
the page has drawn: a chart that does not draw fails the PDF, it is never printed blank. The page
may not reach the network; a request that would leave the file fails the PDF too.
"""

from __future__ import annotations

import asyncio
import html
import threading
from dataclasses import dataclass
from pathlib import Path

from shoplens.errors import RenderError
from shoplens.render.browser import CHROMIUM_ARGS, chromium_executable

#: A4 is 210 mm wide; with 10 mm side margins 190 mm are printed, 718 CSS pixels at 96 px/inch.
PAGE_MARGIN = {"top": "12mm", "bottom": "16mm", "left": "10mm", "right": "10mm"}
PRINT_WIDTH_PX = 718
CHART_TIMEOUT_MS = 30_000

#: True when every Plotly chart has a full layout and its SVG (plotly.js sets _fullLayout when drawn).
_UNDRAWN_CHARTS = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
    .filter(div => !(div._fullLayout && div.querySelector('.main-svg')))
    .map(div => div.id || '(no id)')"""

_FOOTER = ('<div style="width:100%;font-size:8px;color:#6b7280;padding:0 10mm;display:flex;'
           'justify-content:space-between;font-family:Noto Sans,Noto Sans CJK SC,sans-serif">'
           '<span>{label}</span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span>'
           '</div>')


@dataclass
class _Tab:
    context: object
    page: object
    blocked: list[str]


@dataclass(frozen=True)
class PrintedPdf:
    path: Path
    charts: int


class PdfPrinter:
    """A headless Chromium that prints HTML files to A4 PDFs; use as a context manager."""

    def __init__(self, *, chart_timeout_ms: int = CHART_TIMEOUT_MS) -> None:
        self.chart_timeout_ms = chart_timeout_ms
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright = None
        self._browser = None
        self._starting = threading.Lock()
        self._idle: list[_Tab] = []  # only touched on the printer's own event loop

    def __enter__(self) -> PdfPrinter:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Launch the browser (once; later calls do nothing)."""
        with self._starting:
            if self._loop is None:
                self._start()

    def _start(self) -> None:
        executable = chromium_executable()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="shoplens-pdf", daemon=True)
        self._thread.start()
        try:
            self._call(self._launch(executable), timeout=60)
        except BaseException:
            self.close()
            raise

    async def _launch(self, executable: str) -> None:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        try:
            self._browser = await self._playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                                                   headless=True)
        except Exception as exc:
            first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise RenderError(f"cannot start Chromium at {executable} ({first[:200]}): check that "
                              f"`{executable} --headless --version` runs, reinstall it (`apt-get install -y "
                              "chromium`) or point SHOPLENS_CHROMIUM at a working one") from exc

    def _call(self, coroutine, timeout: float):
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def print(self, html_path: Path, pdf_path: Path, *, label: str = "") -> PrintedPdf:
        """Print `html_path` to `pdf_path` (written whole or not at all); `label` goes in every page footer."""
        if self._loop is None:
            self.start()
        return self._call(self._print(Path(html_path), Path(pdf_path), label),
                          timeout=self.chart_timeout_ms / 1000 + 120)

    async def _tab(self) -> _Tab:
        """An idle tab, or a new one. Tabs are reused: the browser keeps plotly.js compiled between
        reports, which makes a print about a third faster than in a fresh tab."""
        if self._idle:
            return self._idle.pop()
        context = await self._browser.new_context(viewport={"width": PRINT_WIDTH_PX, "height": 1000})
        tab = _Tab(context, await context.new_page(), [])

        async def only_local(route) -> None:
            if route.request.url.startswith(("file:", "data:", "blob:", "about:")):
                await route.continue_()
            else:
                tab.blocked.append(route.request.url)
                await route.abort()

        await tab.page.route("**/*", only_local)
        await tab.page.emulate_media(media="print")  # lay out (and draw charts) at the printed width
        return tab

    async def _print(self, html_path: Path, pdf_path: Path, label: str) -> PrintedPdf:
        if not html_path.is_file():
            raise RenderError(f"no HTML file at {html_path} to print")
        tab = await self._tab()
        tab.blocked.clear()
        page, healthy = tab.page, False
        try:
            await page.goto(html_path.resolve().as_uri(), wait_until="load")
            charts = await page.locator(".plotly-graph-div").count()
            try:
                await page.wait_for_function(f"() => ({_UNDRAWN_CHARTS})().length === 0",
                                             timeout=self.chart_timeout_ms)
            except Exception:
                undrawn = await page.evaluate(_UNDRAWN_CHARTS)
                raise RenderError(f"{html_path.name}: {len(undrawn)} of {charts} chart(s) did not draw "
                                  f"({', '.join(undrawn[:5])}); no PDF written") from None
            if tab.blocked:
                raise RenderError(f"{html_path.name} asks for the network ({tab.blocked[0]}); a report must be "
                                  "self-contained, no PDF written")
            pdf_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
            await page.pdf(path=str(tmp), format="A4", margin=PAGE_MARGIN, print_background=True,
                           display_header_footer=True, header_template="<span></span>",
                           footer_template=_FOOTER.format(label=html.escape(label)))
            tmp.replace(pdf_path)
            healthy = True
            return PrintedPdf(pdf_path, charts)
        finally:
            if healthy:
                await page.goto("about:blank")
                self._idle.append(tab)
            else:  # a tab that failed may be in any state: do not reuse it
                await tab.context.close()

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            if self._playwright is not None:
                self._call(self._shutdown(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._loop.close()
            self._loop = self._thread = self._playwright = self._browser = None

    async def _shutdown(self) -> None:
        for tab in self._idle:
            await tab.context.close()
        self._idle.clear()
        if self._browser is not None:
            await self._browser.close()
        await self._playwright.stop()
