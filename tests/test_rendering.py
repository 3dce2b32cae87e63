"""Reports as a reader gets them, made the way a user makes them: a sandbox seeded with hostile text
(HTML and script payloads in product titles and creator names) synced by `shoplens sync` with real
credentials in the environment and on disk, then `shoplens reports run --to html,pdf`.

The payloads must show as literal text with no script from them running (a dialog handler and DOM
checks), no secret may reach any executed notebook, HTML, PDF or log of the run, and each PDF must
carry the KPI figures (and Chinese headings for zh). Also: `shoplens render` for one notebook, the
printer refusing a chart that does not draw or a page that needs the network, and the index page."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from shoplens.config import warehouse_path
from shoplens.demo import authorize_with_sandbox, sandbox_settings
from shoplens.errors import RenderError
from shoplens.i18n import t
from shoplens.reports.batch import load_catalogue
from shoplens.render.pdf import PdfPrinter
from shoplens.sandbox import SandboxServer
from shoplens.sandbox.content import HOSTILE_NAMES, HOSTILE_TITLES
from shoplens.tiktok import TokenStore
from shoplens.warehouse import Warehouse

from browsing import open_offline, wait_for_charts
from pages import debris, visible_text
from conftest import small_sandbox
from oracle import expected_gmv
from pdfs import page_texts, png_size, save_first_page

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))
PERIOD = (date(2026, 11, 9), date(2026, 11, 15))
REPORTS = ("shop_report", "creator_report")


def shoplens(args, home, env, log: list[str]):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    done = subprocess.run([SHOPLENS, *args], capture_output=True, text=True, timeout=600,
                          env=environment | {"SHOPLENS_HOME": str(home), "COLUMNS": "200"} | env)
    log += [done.stdout, done.stderr]
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A hostile sandbox synced and reported through the CLI; returns home, sandbox, secrets, the log."""
    home = tmp_path_factory.mktemp("hostile")
    sandbox = small_sandbox(hostile=True)
    log: list[str] = []
    with SandboxServer(sandbox) as server:
        tokens = authorize_with_sandbox(sandbox_settings(server, home))
        TokenStore(home / ".shoplens" / "tokens.json").save(tokens)  # on disk, as after `auth exchange`
        gate = sandbox.gate
        env = {"SHOPLENS_API_URL": server.url, "SHOPLENS_AUTH_URL": server.url, "SHOPLENS_APP_KEY": gate.app_key,
               "SHOPLENS_APP_SECRET": gate.app_secret}
        shoplens(["sync", "--history-days", "21"], home, env, log)
        shop = sandbox.business.shops[0].id
        args = ["reports", "run", "--since", str(PERIOD[0]), "--until", str(PERIOD[1]), "--shop", shop,
                "--lang", "en", "--lang", "zh", "--to", "html,pdf", "--renderer", "builtin"]
        for report in REPORTS:
            args += ["--report", report]
        shoplens(args, home, env, log)  # the secrets stay in this environment: the kernels must not see them
        manifest = json.loads(max((home / "reports" / "runs").glob("*.json")).read_text(encoding="utf-8"))
        others = [r for r in load_catalogue() if r not in REPORTS]  # every other report type, HTML only
        shoplens([*args[:args.index("--to")], "--to", "html", "--renderer", "builtin",
                  *[a for r in others for a in ("--report", r)]], home, env, log)
    secrets = [gate.app_secret, tokens.access_token, tokens.refresh_token]
    return home, sandbox, secrets, "\n".join(log), manifest


def reports_of(run_):
    home, _, _, _, manifest = run_
    for entry in manifest["reports"]:
        assert entry["status"] == "ok", entry
        yield entry, {kind: home / "reports" / rel for kind, rel in entry["outputs"].items()}


def test_every_report_of_the_run_has_html_and_pdf(run):
    made = list(reports_of(run))
    assert {(e["report"], e["parameters"]["lang"]) for e, _ in made} == {(r, l) for r in REPORTS for l in ("en", "zh")}
    for entry, files in made:
        assert set(files) == {"html", "pdf"} and all(f.exists() for f in files.values()), entry["slug"]


def test_hostile_text_shows_literally_and_no_script_from_it_runs(run, browser):
    home, sandbox, _, _, _ = run
    payloads = [p for p in HOSTILE_NAMES + HOSTILE_TITLES if "<" in p]
    for entry, files in reports_of(run):
        page, errors, remote = open_offline(browser, files["html"])  # any alert/confirm lands in errors
        wait_for_charts(page)
        page.wait_for_timeout(300)  # time for an onerror handler of a broken <img> to fire
        assert errors == [] and remote == [], (entry["slug"], errors, remote)
        text = page.locator("body").inner_text()
        shown = [p for p in payloads if p in text]
        assert shown, f"{entry['slug']}: no payload reached the page, so this test proves nothing"
        injected = page.evaluate("""() => ({
            img: document.querySelectorAll('img[src="x"], img[onerror]').length,
            iframe: document.querySelectorAll('iframe').length,
            script: [...document.scripts].filter(s => /^\\s*alert\\(/.test(s.textContent)).length,
            bold: [...document.querySelectorAll('b, i')].map(e => e.textContent)})""")
        assert injected == {"img": 0, "iframe": 0, "script": 0, "bold": []}, (entry["slug"], injected)
        printed = "\n".join(page_texts(files["pdf"]))
        assert any(p in printed for p in shown), entry["slug"]  # literal in the PDF too
        page.close()


def test_no_page_of_any_report_type_shows_debris_with_hostile_text(run, browser):
    """Every report type in both languages, and the index, on a hostile sandbox: no repr, traceback or
    nan/None in what a reader sees (the page in Chromium, and the PDF's text where one was printed)."""
    home, _, _, _, _ = run
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((home / "reports" / "runs").glob("*.json"))]
    entries = [e for r in runs for e in r["reports"]]
    assert {(e["report"], e["parameters"]["lang"]) for e in entries} == {
        (spec.notebook.removesuffix(".ipynb"), lang) for spec in load_catalogue().values() for lang in ("en", "zh")}
    for entry in entries:
        assert entry["status"] == "ok", entry
        html_path = home / "reports" / entry["outputs"]["html"]
        found = debris(visible_text(browser, html_path))
        if "pdf" in entry["outputs"]:
            found += [f"PDF: {d}" for d in debris("\n".join(page_texts(home / "reports" / entry["outputs"]["pdf"])))]
        assert found == [], (entry["slug"], found[:5])
    assert debris(visible_text(browser, home / "reports" / "index.html")) == []


def test_no_secret_reaches_any_notebook_html_pdf_archive_or_log(run):
    home, _, secrets, log, _ = run
    assert all(len(s) >= 16 for s in secrets)
    texts = {"the run's log": log}
    for path in [*(home / "reports").rglob("*"), *(home / "data").rglob("*")]:
        if not path.is_file() or path.suffix == ".duckdb":
            continue
        raw = path.read_bytes()
        texts[str(path)] = raw.decode("utf-8", errors="replace")
        if path.suffix == ".gz":
            texts[f"{path} (unpacked)"] = gzip.decompress(raw).decode("utf-8", errors="replace")
        if path.suffix == ".pdf":
            texts[f"{path} (text)"] = "\n".join(page_texts(path))
    assert any(name.endswith(".pdf (text)") for name in texts) and any(".ipynb" in name for name in texts)
    for name, content in texts.items():
        for secret in secrets:
            assert secret not in content, f"a secret is in {name}"


def test_pdfs_carry_the_kpi_figures_and_chinese_headings(run):
    home, sandbox, _, _, _ = run
    shop = sandbox.business.shops[0]
    assert shop.region.currency == "THB"  # two decimals, as the reports print it
    gmv = f"THB {expected_gmv(sandbox, shop.id, PERIOD):,.2f}"  # by hand from the generator's orders
    for entry, files in reports_of(run):
        if entry["report"] != "shop_report":
            continue
        lang = entry["parameters"]["lang"]
        printed = "\n".join(page_texts(files["pdf"]))
        assert gmv in printed, (entry["slug"], gmv)
        headings = [t(key, lang) for key in ("definitions", "headline", "daily_gmv", "top_products", "glossary")]
        assert all(h in printed for h in headings), (entry["slug"], headings)
        if lang == "zh":
            assert "核心指标" in printed and "指标说明" in printed
        png = save_first_page(files["pdf"], f"hostile-{entry['slug']}")
        assert png_size(png)[0] > 400


def test_render_one_notebook_to_html_and_pdf(run, tmp_path):
    home, sandbox, _, _, manifest = run
    entry = next(e for e in manifest["reports"] if e["report"] == "shop_report" and e["parameters"]["lang"] == "zh")
    notebook = tmp_path / "recap.ipynb"
    shutil.copyfile(home / "reports" / entry["notebook"], notebook)
    log: list[str] = []
    done = shoplens(["render", str(notebook), "--to", "html,pdf", "--renderer", "builtin"], tmp_path, {}, log)
    assert f"pdf: {notebook.with_suffix('.pdf')}" in done.stdout
    page_html = notebook.with_suffix(".html").read_text(encoding="utf-8")
    assert "<title>店铺经营效果报告 · " in page_html and 'lang="zh-CN"' in page_html  # title and language found
    assert "rendered by the built-in renderer (nbconvert + Chromium)" in page_html
    assert "核心指标" in "\n".join(page_texts(notebook.with_suffix(".pdf")))
    notebook.with_suffix(".html").unlink()
    shoplens(["render", str(notebook), "--to", "pdf"], tmp_path, {}, log)  # a PDF alone leaves no HTML behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recap.ipynb", "recap.pdf"]


def test_render_refuses_a_notebook_that_was_never_executed(tmp_path):
    notebook = tmp_path / "blank.ipynb"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "notebooks" / "shop_report.ipynb", notebook)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    done = subprocess.run([SHOPLENS, "render", str(notebook)], capture_output=True, text=True, env=environment)
    assert done.returncode == 1 and "has no outputs: execute it first" in done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == [notebook]


CHART_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>
<h1>Report</h1><div id="never-drawn" class="plotly-graph-div" style="height:300px"></div></body></html>"""


def test_a_chart_that_does_not_draw_fails_the_pdf(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(CHART_PAGE, encoding="utf-8")  # a chart div whose plotly.js never comes
    with PdfPrinter(chart_timeout_ms=1500) as printer, pytest.raises(RenderError, match="1 of 1 chart.*never-drawn"):
        printer.print(page, tmp_path / "broken.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.html"]  # no PDF, no temp file


def test_a_page_that_needs_the_network_fails_the_pdf(tmp_path):
    page = tmp_path / "remote.html"
    page.write_text('<html><body><h1>x</h1><img src="http://192.0.2.1/pixel.png"></body></html>', encoding="utf-8")
    with PdfPrinter() as printer, pytest.raises(RenderError, match="asks for the network.*192.0.2.1"):
        printer.print(page, tmp_path / "remote.pdf")
    assert not (tmp_path / "remote.pdf").exists()


def test_index_groups_by_period_report_and_shop_with_pdf_links_and_a_filter(run, browser):
    home, sandbox, _, _, manifest = run
    page, errors, remote = open_offline(browser, home / "reports" / "index.html")
    assert errors == [] and remote == []
    assert page.locator("h2").all_inner_texts() == [f"{PERIOD[0]} – {PERIOD[1]}"]
    assert "Noto Sans" in page.evaluate("getComputedStyle(document.body).fontFamily")  # the house CSS, intact
    assert sorted(page.locator("h3").all_inner_texts()) == sorted(t(r, "en") for r in load_catalogue())
    shop = sandbox.business.shops[0]
    assert page.locator("tr.sl-shop").first.inner_text().strip() == f"{shop.name} ({shop.id})"
    zh_reports = sum(e["parameters"]["lang"] == "zh" for p in (home / "reports" / "runs").glob("*.json")
                     for e in json.loads(p.read_text(encoding="utf-8"))["reports"])
    links = page.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    for entry in manifest["reports"]:
        assert entry["outputs"]["html"] in links and entry["outputs"]["pdf"] in links
        assert (home / "reports" / entry["outputs"]["pdf"]).exists()
    page.fill("#filter", "zh")
    assert page.locator("tr.sl-row:visible").count() == zh_reports
    page.fill("#filter", "no such report anywhere")
    assert page.locator("tr.sl-row:visible").count() == 0 and page.locator("#none").is_visible()
    page.close()


def test_a_report_with_ten_charts_embeds_plotly_once_and_stays_under_2_mb(tmp_path, browser):
    import json as json_

    import nbformat
    import pandas as pd
    import plotly.io as pio

    from shoplens import charts
    from shoplens.render import render_html

    days = pd.date_range("2026-08-18", periods=90, freq="D")  # a quarter of daily points per chart
    frame = pd.DataFrame({"day": days, "gmv": [1000 + 37 * i % 900 for i in range(90)],
                          "orders": [20 + i % 17 for i in range(90)]})
    nb = nbformat.v4.new_notebook()
    for i in range(10):
        fig = charts.daily_bars_and_line(frame, x="day", bars="gmv", line="orders", bar_label="GMV",
                                         line_label="Orders", title=f"Chart {i}")
        nb.cells.append(nbformat.v4.new_code_cell("charts.show(fig)", outputs=[nbformat.v4.new_output(
            "display_data", data={"application/vnd.plotly.v1+json": json_.loads(pio.to_json(fig)),
                                  "text/html": charts.html_fragment(fig)})]))
    source = tmp_path / "ten.ipynb"
    nbformat.write(nb, str(source))
    page_path = render_html(source, tmp_path / "ten.html", title="Ten charts")
    text = page_path.read_text(encoding="utf-8")
    assert text.count("plotly.js (basic - minified) v") == 1 and page_path.stat().st_size < 2 * 2**20
    page, errors, remote = open_offline(browser, page_path)
    wait_for_charts(page)
    assert page.locator(".plotly-graph-div .main-svg").count() >= 10 and errors == [] and remote == []
    page.close()
