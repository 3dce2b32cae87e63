"""Every report of the catalogue, in English and Chinese, on the synced sandbox: it runs, renders to
HTML and PDF, opens offline in Chromium with every chart drawn, prints an A4 PDF with page numbers and
every chart, speaks the report's language, and shows no other shop. Every page (the index too) shows
only what its reader should see (no reprs, tracebacks, nan/None) and fits a phone's width; full-page
screenshots at 1280 and 390 px are kept in test-artifacts/pages/ for a person to look at."""

import html
import json
import re
from datetime import date
from decimal import Decimal

import pytest

from shoplens.config import warehouse_path
from shoplens.i18n import t
from shoplens.render import Rendering, write_index
from shoplens.render.builtin import BuiltinRenderer
from shoplens.render.bundle import TRACES
from shoplens.reports.batch import load_catalogue, plan_reports, run_batch
from shoplens.warehouse import Warehouse

from browsing import open_offline, wait_for_charts
from pages import DESKTOP, PHONE, debris, layout_at, visible_text
from pdfs import page_size_pt, page_texts, png_size, save_first_page

PERIOD = (date(2026, 11, 9), date(2026, 11, 15))
FIRST_HEADING = {"shop_report": "headline", "creator_report": "leaderboard", "live_recap": "session_kpis",
                 "campaign_recap": "trend", "kpi_scorecard": "scorecard", "attribution": "attr_summary",
                 "operations": "ops_fulfilment"}


@pytest.fixture(scope="module")
def reports(synced):
    home, sandbox = synced
    shop = sandbox.business.shops[0].id
    (home / "targets.toml").write_text("".join(  # the scorecard's targets, for this workspace's shops
        f'[[target]]\nshop = "{s.id}"\nowner = "Owner {i}"\nrole = "operations"\nmetric = "gmv"\nweekly = 1000\n'
        for i, s in enumerate(sandbox.business.shops)))
    with Warehouse(warehouse_path(home), read_only=True) as wh:
        jobs = plan_reports(wh, home / "every", PERIOD, shops=[shop], langs=("en", "zh"))
    def first_and_last(report_id):  # one session (campaign) in each language is enough
        chosen = [j for j in jobs if j.report_id == report_id]
        return chosen[:1] + chosen[-1:]

    jobs = ([j for j in jobs if j.report_id not in ("live_recap", "campaign_recap")]
            + first_and_last("live_recap") + first_and_last("campaign_recap"))
    with Rendering(BuiltinRenderer(), ("html", "pdf")) as rendering:  # one browser prints every PDF
        result = run_batch(jobs, home=home, reports_dir=home / "every", render=rendering)
    return home, sandbox, result


def test_every_catalogue_report_runs_in_both_languages(reports):
    _, _, result = reports
    assert [o.job.slug for o in result.failures] == []
    ran = {(o.job.report_id, o.job.parameters["lang"]) for o in result.outcomes}
    assert ran == {(spec.notebook.removesuffix(".ipynb"), lang) for spec in load_catalogue().values()
                   for lang in ("en", "zh")}


def test_every_report_opens_offline_in_its_language(reports, browser):
    _, _, result = reports
    for outcome in result.outcomes:
        lang = outcome.job.parameters["lang"]
        page, errors, remote = open_offline(browser, outcome.job.html_path)
        wait_for_charts(page)
        assert errors == [] and remote == [], outcome.job.slug
        headings = page.locator("h2").all_inner_texts()
        # opens with what its numbers mean, then its first section; ends with the glossary and the appendix
        assert headings[:2] == [t("definitions", lang), t(FIRST_HEADING[outcome.job.report_id], lang)]
        assert headings[-3:] == [t("q_title", lang), t("glossary", lang), t("appendix", lang)]
        if outcome.job.report_id == "shop_report":
            assert headings[-4] == t("reconciliation", lang)
            assert t("recon_none", lang).split("`")[0] in page.locator("body").inner_text()  # nothing imported
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
        page.close()


def test_every_figure_links_to_its_appendix_entry_with_definition_sql_and_records(reports, browser):
    from shoplens.metrics import default_catalogue

    catalogue = default_catalogue()
    _, _, result = reports
    for outcome in result.outcomes:
        lang, slug = outcome.job.parameters["lang"], outcome.job.slug
        page, _, _ = open_offline(browser, outcome.job.html_path, width=390)
        links = page.eval_on_selector_all("a.sl-def-link", "as => as.map(a => a.getAttribute('href'))")
        entries = page.eval_on_selector_all("article.sl-def", "es => es.map(e => e.id)")
        assert entries and set(h.removeprefix("#") for h in links) <= set(entries), slug
        if outcome.job.report_id in ("shop_report", "campaign_recap", "live_recap", "kpi_scorecard"):
            assert links, slug  # headline figures link to their entries
        for entry in page.locator("article.sl-def").all()[:6]:
            metric = catalogue.get(entry.get_attribute("data-metric"))
            text = entry.inner_text()
            assert metric.label[lang] in text and metric.description[lang] in text, (slug, metric.id)
            assert entry.locator("pre.sl-sql").inner_text().startswith("WITH "), (slug, metric.id)
        # record lists are collapsed, and a figure's list adds up to the figure it shows
        assert page.eval_on_selector_all("details.sl-records", "ds => ds.every(d => !d.open)"), slug
        if outcome.job.report_id == "shop_report":
            gmv = page.locator('table.sl-kpis tr[data-metric="gmv"]')
            target = gmv.locator("a.sl-def-link").get_attribute("href")
            records = page.locator(f'{target} .sl-links a').first.get_attribute("href")
            page.click(f'{target} .sl-links a >> nth=0')  # following the link opens the list
            listed = page.locator(records)
            assert page.evaluate(f"document.querySelector('{records}').closest('details').open")
            values = [Decimal(v.replace(",", "")) for v in listed.locator("td:last-child").all_inner_texts()]
            assert sum(values) == Decimal(gmv.get_attribute("data-value")), slug
        # the appendix scrolls in its own boxes: the page never scrolls sideways on a phone
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, slug
        page.close()


def test_every_report_embeds_plotly_once_and_stays_small(reports):
    _, _, result = reports
    for outcome in result.outcomes:
        html = outcome.job.html_path.read_text(encoding="utf-8")
        assert html.count("plotly.js (basic - minified) v") == 1, outcome.job.slug  # the partial bundle, once
        assert outcome.job.html_path.stat().st_size < 2 * 2**20, outcome.job.slug
        executed = json.loads(outcome.job.executed_path.read_text(encoding="utf-8"))
        used = {trace.get("type", "scatter") for cell in executed["cells"] for out in cell.get("outputs", [])
                for trace in out.get("data", {}).get("application/vnd.plotly.v1+json", {}).get("data", [])}
        assert used <= TRACES, used  # every chart can be drawn by the embedded bundle


def test_no_report_shows_another_shop(reports):
    _, sandbox, result = reports
    for outcome in result.outcomes:
        if "shop_id" not in outcome.job.parameters:
            continue  # the scorecard covers every shop
        text = outcome.job.html_path.read_text(encoding="utf-8") + outcome.job.executed_path.read_text(encoding="utf-8")
        for shop in sandbox.business.shops[1:]:
            assert shop.id not in text and shop.name not in text, (outcome.job.slug, shop.id)


#: what report.css hides on paper: the appendix's SQL, record lists and links to them
PRINT_HIDDEN = (r'<pre class="sl-sql".*?</pre>|<details class="sl-records".*?</details>|<p class="sl-links">.*?</p>'
                r'|<h3 id="sl-records">.*?</h3>\s*<p>.*?</p>')


def _chart_titles_and_other_text(executed: dict) -> tuple[list[str], str]:
    """Each chart's title, and all the report's printed text that is not a chart (headings, tables, prose)."""
    titles, other = [], []
    for cell in executed["cells"]:
        if cell["cell_type"] == "markdown":
            other.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.plotly.v1+json" in data:
                title = data["application/vnd.plotly.v1+json"]["layout"].get("title", {}).get("text")
                titles += [title] if title else []
            elif "text/html" in data:
                markup = re.sub(PRINT_HIDDEN, " ", "".join(data["text/html"]), flags=re.DOTALL)
                other.append(html.unescape(re.sub(r"<[^>]+>", " ", markup)))
    return titles, "\n".join(other)


def test_every_report_prints_an_a4_pdf_with_page_numbers_and_every_chart(reports):
    _, _, result = reports
    for outcome in result.outcomes:
        lang, slug = outcome.job.parameters["lang"], outcome.job.slug
        pdf = outcome.outputs["pdf"]
        width, height = page_size_pt(pdf)
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297), slug  # A4 portrait
        pages = page_texts(pdf)
        assert len(pages) >= 2, slug
        for number, text in enumerate(pages, start=1):
            assert re.search(rf"\b{number}\s*/\s*{len(pages)}\b", text), (slug, number)  # "3 / 7" in the footer
        printed = "\n".join(pages)
        for key in ("definitions", FIRST_HEADING[outcome.job.report_id], "glossary"):
            assert t(key, lang) in printed, (slug, key)
        executed = json.loads(outcome.job.executed_path.read_text(encoding="utf-8"))
        titles, other = _chart_titles_and_other_text(executed)
        for title in titles:  # a chart draws its title in its SVG: more copies than the prose has
            assert printed.count(title) > other.count(title), (slug, title)
        png = save_first_page(pdf, f"{outcome.job.report_id}-{slug}")
        assert png_size(png)[0] > 400, png


def _pages(reports):
    """(name, HTML file, PDF or None) for every report of the run and its index page."""
    home, _, result = reports
    index = write_index(home / "every")
    return [(f"{o.job.report_id}-{o.job.slug}", o.job.html_path, o.outputs["pdf"]) for o in result.outcomes] + [
        ("index", index, None)]


def test_no_page_shows_debris(reports, browser):
    for name, html_path, pdf in _pages(reports):
        found = debris(visible_text(browser, html_path))
        if pdf is not None:
            found += [f"PDF: {d}" for d in debris("\n".join(page_texts(pdf)))]
        assert found == [], (name, found[:5])


def test_every_page_fits_a_phone_and_is_kept_as_screenshots(reports, browser):
    for name, html_path, _ in _pages(reports):
        for width in (DESKTOP, PHONE):
            layout = layout_at(browser, html_path, width, screenshot=f"{name}-{width}")
            assert layout["errors"] == [], (name, width, layout["errors"])
            assert layout["scroll_width"] <= width, (name, width, layout)  # no sideways scrolling
            assert layout["widest_chart"] <= width, (name, width, layout)  # charts at the screen's width
            assert png_size(layout["screenshot"])[0] == width, layout["screenshot"]
