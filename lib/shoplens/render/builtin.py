"""The built-in renderer: an executed notebook -> one self-contained HTML file, code hidden.

nbconvert with our template (`templates/builtin`), plotly.js embedded once per file, a table of
contents built from the report's headings, the house CSS. The page makes no network request.
Files are written to a temp name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.exporters.templateexporter import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

from shoplens import __version__
from shoplens.errors import RenderError
from shoplens.i18n import t
from shoplens.render.bundle import bundle_text

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "templates"
HIDDEN_TAGS = {"parameters", "injected-parameters", "remove_cell"}
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.DOTALL)
_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.DOTALL)


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle (see render.bundle), safe to inline in a <script> element."""
    _, text = bundle_text()
    return text.replace("</script", "<\\/script")


class ReportExporter(HTMLExporter):
    """nbconvert's HTML exporter without its last step, which parses the whole finished page again with
    BeautifulSoup to add `alt` to images and `tabindex` to cells under `.jp-Notebook`. Our template has
    neither (outputs are HTML and Plotly divs; the body is ours, without that class), so the pass only
    re-serialized the page, and took about 95% of a report's HTML export (0.6 s of 0.62 s for a shop
    report with its appendix)."""

    def from_notebook_node(self, nb, resources=None, **kw):
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        resources = self._init_resources(resources)
        self.register_filter("highlight_code", self.filters.get("highlight_code",
                                                                Highlight2HTML(pygments_lexer=lexer, parent=self)))
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                       parent=self, resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    # Only the preprocessor a report needs (hidden cells out), and the notebook validated once after it.
    # nbconvert's defaults add a dozen more (most disabled, the rest for code input we hide) and validate
    # the whole notebook after each: 13 validations, two thirds of a shop report's export time. The lab
    # template's own (pygments CSS for `resources.inlining`, which our page does not include) is off.
    exporter = ReportExporter(template_name="builtin", extra_template_basedirs=[str(TEMPLATES_DIR)],
                              exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                              default_preprocessors=[], optimistic_validation=True,
                              config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}))
    remover = TagRemovePreprocessor(remove_cell_tags=HIDDEN_TAGS, enabled=True)
    exporter.register_preprocessor(remover, enabled=True)
    return exporter


def table_of_contents(body: str, lang: str) -> str:
    """An ordered list linking every <h2 id=...> of the page."""
    entries = [f'<li><a href="#{anchor}">{label}</a></li>' for anchor, label in _H2.findall(body)]
    if not entries:
        return ""
    return f'<span class="sl-toc-title">{html.escape(t("contents", lang))}</span><ol>{"".join(entries)}</ol>'


def describe_notebook(path: Path) -> tuple[str, str]:
    """An executed notebook's title (its first <h1>, else the file name) and language (its `lang`
    parameter, else en). Refuses a missing file and a notebook that was never executed."""
    if not path.is_file():
        raise RenderError(f"no notebook at {path}")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as exc:
        raise RenderError(f"cannot read notebook {path}: {exc}") from exc
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    if not outputs:
        raise RenderError(f"{path} has no outputs: execute it first (`shoplens reports run`, or papermill)")
    lang = nb.metadata.get("papermill", {}).get("parameters", {}).get("lang", "en")
    for out in outputs:
        heading = _H1.search(str(out.get("data", {}).get("text/html", "")))
        if heading:
            return html.unescape(re.sub(r"<[^>]+>", "", heading.group(1))).strip(), lang
    return path.stem, lang


def footer_text(renderer_label: str) -> str:
    """The report footer: shoplens version, which renderer made the page, and when."""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"shoplens {__version__} · rendered by {renderer_label} · {generated}"


def render_html(notebook_path: Path, html_path: Path, *, title: str, lang: str = "en",
                footer: str | None = None) -> Path:
    """Render an executed notebook to a self-contained HTML file at `html_path`."""
    try:
        nb = nbformat.read(str(notebook_path), as_version=4)
    except (OSError, ValueError) as exc:
        raise RenderError(f"cannot read notebook {notebook_path}: {exc}") from exc
    resources = {"shoplens": {
        "title": title,
        "lang_code": "zh-CN" if lang == "zh" else "en",
        "css": (TEMPLATES_DIR / "builtin" / "report.css").read_text(encoding="utf-8"),
        "plotly_js": plotly_js(),
        "renderer": "builtin",
        "contents_label": t("contents", lang),
        "footer": footer or footer_text(BuiltinRenderer.label),
    }}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    body = body.replace("@@SHOPLENS_TOC@@", table_of_contents(body, lang), 1)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = html_path.with_name(f".{html_path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(html_path)
    return html_path


class BuiltinRenderer:
    """nbconvert with templates/builtin; needs nothing outside Python (Chromium only for PDF)."""

    name = "builtin"
    label = "the built-in renderer (nbconvert + Chromium)"

    def to_html(self, notebook: Path, html_path: Path, *, title: str, lang: str, footer: str) -> Path:
        return render_html(notebook, html_path, title=title, lang=lang, footer=footer)
