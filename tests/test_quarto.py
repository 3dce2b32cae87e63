"""The Quarto renderer. What shoplens does around `quarto render` (choosing it, preparing the notebook,
making the page work offline) is tested everywhere; rendering through Quarto itself runs only where a
real `quarto` executable exists. Quarto cannot be installed on the CI machines (its PyPI package
downloads the binary from GitHub, which they cannot reach), and a fake one would prove nothing."""

from datetime import date

import nbformat
import pytest

from shoplens.config import warehouse_path
from shoplens.errors import RenderError
from shoplens.render import Rendering, choose_renderer
from shoplens.render.quarto import (QuartoRenderer, make_offline, prepare_notebook, quarto_executable,
                                    quarto_settings, staged)
from shoplens.reports.batch import plan_reports, run_batch
from shoplens.sandbox import SandboxServer
from shoplens.sandbox.content import HOSTILE_NAMES
from shoplens.demo import sync_from_sandbox
from shoplens.sync import SyncOptions
from shoplens.warehouse import Warehouse

from browsing import open_offline, wait_for_charts
from conftest import small_sandbox
from pdfs import page_texts

try:
    QUARTO = quarto_executable()
except RenderError:
    QUARTO = None
needs_quarto = pytest.mark.skipif(QUARTO is None, reason=(
    "no `quarto` executable: Quarto cannot be installed on this machine (the quarto-cli PyPI package downloads "
    "its binary from GitHub, which is unreachable here); install Quarto 1.10+ or set SHOPLENS_QUARTO to run"))
PERIOD = (date(2026, 11, 9), date(2026, 11, 15))


def executed_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("shop_id = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("shop_id = 'x'  # injected", metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_markdown_cell("## Headline"),
                nbformat.v4.new_code_cell("ctx.kpi_table()", outputs=[nbformat.v4.new_output(
                    "display_data", data={"text/html": "<table><tr><td>&lt;b&gt;</td></tr></table>"})])]
    return nb


def test_prepared_notebook_escapes_the_title_drops_parameter_cells_and_adds_the_footer():
    nb = executed_notebook()
    title = 'Shop report · <script>alert(1)</script> "Lumi"'
    prepared = prepare_notebook(nb, title=title, lang="zh", footer="rendered by Quarto <1.10>")
    front = prepared.cells[0]
    assert front.cell_type == "raw" and front.source.startswith("---\n") and front.source.endswith("\n---")
    assert "<script>" not in front.source and "&lt;script&gt;alert(1)&lt;/script&gt;" in front.source
    assert "lang: zh-CN" in front.source
    sources = [c.source for c in prepared.cells]
    assert not any("shop_id =" in s for s in sources)  # parameters and injected parameters removed
    assert prepared.cells[-1].source == "::: {.sl-footer}\nrendered by Quarto &lt;1.10&gt;\n:::"
    assert len({c.id for c in prepared.cells}) == len(prepared.cells)
    assert len(nb.cells) == 4  # the executed notebook itself is untouched


def test_every_setting_is_in_the_front_matter_too_so_it_holds_outside_a_project():
    """Quarto ignored _quarto.yml in a scratch folder named .quarto-*: code shown, nothing embedded, no
    chart drawn (measured with Quarto 1.10.18). The document's own front matter carries the settings."""
    import yaml

    front = yaml.safe_load(prepare_notebook(executed_notebook(), title="T", lang="en", footer="f")
                           .cells[0].source.strip("-\n"))
    assert front["execute"]["echo"] is False
    html_format = front["format"]["html"]
    assert html_format["embed-resources"] is True and html_format["minimal"] is True
    assert html_format["format-links"] is False and html_format["html-math-method"] == "plain"
    assert set(front["format"]) == {"html"}  # no typst format: it put an "Other Formats" link on the page
    assert quarto_settings() == {k: v for k, v in front.items() if k not in ("pagetitle", "lang")}


def test_the_contents_list_is_the_reports_own_headings():
    nb = executed_notebook()
    nb.cells[-1].outputs[0]["data"]["text/html"] = '<h2 id="sl-headline">Headline &amp; more</h2><table></table>'
    prepared = prepare_notebook(nb, title="T", lang="en", footer="f")
    toc = prepared.cells[1].source
    assert toc.startswith("```{=html}\n<nav class=\"sl-toc\">") and toc.endswith("</nav>\n```")
    assert '<a href="#sl-headline">Headline &amp; more</a>' in toc


def test_quarto_runs_in_a_scratch_project_whose_name_has_no_leading_dot(tmp_path):
    with staged(executed_notebook(), title="T", lang="en", footer="f") as work:
        assert not work.name.startswith(".") and work.is_dir()
        assert sorted(p.name for p in work.iterdir()) == ["_quarto.yml", "plotly.html", "quarto.css", "report.css",
                                                          "report.ipynb"]
        assert nbformat.read(str(work / "report.ipynb"), as_version=4).cells[0].cell_type == "raw"
        assert tmp_path not in work.parents
    assert not work.exists()  # removed afterwards


QUARTO_HEAD = """<head><script src="https://cdn.jsdelivr.net/npm/requirejs@2.3.6/require.min.js"
  integrity="sha384-c9c+x" crossorigin="anonymous"></script>
<script src="https://cdn.jsdelivr.net/npm/jquery@3.5.1/dist/jquery.min.js" crossorigin="anonymous"></script>
<script>window.__slDefine = window.define;</script>
<link href="https://cdn.jsdelivr.net/npm/x.css" rel="stylesheet">
</head><body><p>report</p></body>"""


def test_offline_pass_removes_the_cdn_scripts_quarto_adds_and_keeps_ours():
    page = make_offline(QUARTO_HEAD, source="r.ipynb")
    assert "cdn.jsdelivr.net" not in page
    assert "<script>window.__slDefine = window.define;</script>" in page and "<p>report</p>" in page


def test_a_page_that_still_needs_the_network_is_refused():
    with pytest.raises(RenderError, match="r.ipynb: Quarto's page still loads .*example.org"):
        make_offline('<body><img src="https://example.org/logo.png"></body>', source="r.ipynb")


def test_default_renderer_is_quarto_only_when_an_executable_exists(monkeypatch):
    monkeypatch.delenv("SHOPLENS_QUARTO", raising=False)
    assert choose_renderer().name == ("quarto" if quarto_executable() else "builtin")
    assert choose_renderer("builtin").name == "builtin"
    with pytest.raises(RenderError, match="unknown renderer 'tex'; use one of: quarto, builtin"):
        choose_renderer("tex")


def test_shoplens_quarto_must_point_at_an_executable(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOPLENS_QUARTO", str(tmp_path / "quarto"))
    with pytest.raises(RenderError, match=r"SHOPLENS_QUARTO=.*quarto is not an executable file"):
        choose_renderer()
    (tmp_path / "quarto").write_text("not a program")  # exists, but is not executable
    with pytest.raises(RenderError, match="is not an executable file"):
        choose_renderer("quarto")


@pytest.mark.skipif(QUARTO is not None, reason="a quarto executable is installed here")
def test_asking_for_quarto_without_it_says_how_to_get_it(monkeypatch):
    monkeypatch.delenv("SHOPLENS_QUARTO", raising=False)
    with pytest.raises(RenderError, match="no `quarto` executable found: install Quarto 1.10 or later"):
        QuartoRenderer()


@pytest.fixture(scope="module")
def quarto_reports(tmp_path_factory):
    home = tmp_path_factory.mktemp("quarto")
    sandbox = small_sandbox(hostile=True)
    with SandboxServer(sandbox) as running:
        sync_from_sandbox(running, home, options=SyncOptions(history_days=21))
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        jobs = plan_reports(wh, home / "reports", PERIOD, reports=["shop_report", "creator_report"],
                            shops=[sandbox.business.shops[0].id], langs=("en", "zh"))
    with Rendering(QuartoRenderer(QUARTO), ("html", "pdf")) as rendering:
        result = run_batch(jobs, home=home, reports_dir=home / "reports", render=rendering)
    return result


@needs_quarto
def test_quarto_reports_open_offline_with_charts_and_literal_hostile_text(quarto_reports, browser):
    assert quarto_reports.failures == []
    for outcome in quarto_reports.outcomes:
        page, errors, remote = open_offline(browser, outcome.outputs["html"])
        wait_for_charts(page)
        assert errors == [] and remote == [], (outcome.job.slug, errors, remote)
        assert page.locator(".plotly-graph-div").count() > 0
        text = page.locator("body").inner_text()
        assert any(name in text for name in HOSTILE_NAMES if "<" in name)
        assert "rendered by Quarto " in page.locator(".sl-footer").inner_text()
        assert page.locator("img[onerror], iframe").count() == 0
        # code hidden, no "Other Formats" link, one self-contained file, the report's own contents list
        assert "ReportContext.open" not in text and page.locator("pre.sourceCode, .cell-code").count() == 0
        assert "Other Formats" not in text and "Typst" not in text
        local = page.evaluate("""() => [...document.querySelectorAll('[src], link[href]')]
            .map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => u && !u.startsWith('data:'))""")
        assert local == [], (outcome.job.slug, local)
        assert page.locator("nav.sl-toc a").count() >= 3
        page.close()


@needs_quarto
def test_the_quarto_shop_report_stays_under_2_mb(quarto_reports):
    sizes = {o.job.slug: o.outputs["html"].stat().st_size for o in quarto_reports.outcomes
             if o.job.report_id == "shop_report"}
    assert sizes and all(size <= 2 * 2**20 for size in sizes.values()), sizes


@needs_quarto
def test_quarto_reports_print_to_pdf(quarto_reports):
    for outcome in quarto_reports.outcomes:
        assert outcome.missing == {}, outcome.missing
        pages = page_texts(outcome.outputs["pdf"])
        assert len(pages) >= 2 and "1/" in pages[0].replace(" ", "")
