"""reports/index.html as a reader meets it after several runs: one group per shop id under the shop's
latest name, reports without a PDF linked with the reason beside them (and once at the top), failures
listed, and nothing wider than a phone's screen."""

import json
from pathlib import Path

from shoplens.render import write_index

from pages import PHONE, debris, layout_at, visible_text

SHOP = "7494000000000042001"
PERIOD = ["2026-11-09", "2026-11-15"]
NO_CHROMIUM = ("no Chromium found at /nonexistent: install it with `sudo apt-get install -y chromium` "
               "(`make system-deps` does) or set SHOPLENS_CHROMIUM to a Chromium or Chrome binary")


def entry(slug: str, shop_name: str, *, status: str = "ok", lang: str = "en", missing: dict | None = None,
          error: dict | None = None) -> dict:
    outputs = {} if status != "ok" else {"html": f"{PERIOD[0]}_{PERIOD[1]}/shop_report/{slug}.html"}
    if status == "ok" and not missing:
        outputs["pdf"] = outputs["html"].replace(".html", ".pdf")
    return {"report": "shop_report", "slug": slug, "title": f"Shop effect report · {shop_name}", "shop_name": shop_name,
            "parameters": {"shop_id": SHOP, "lang": lang, "start_date": PERIOD[0], "end_date": PERIOD[1]},
            "period": PERIOD, "status": status, "seconds": 1.0,
            "notebook": f"{PERIOD[0]}_{PERIOD[1]}/shop_report/{slug}.ipynb", "outputs": outputs,
            "missing": missing or {}, "error": error}


def write_run(reports: Path, run_id: str, entries: list[dict]) -> None:
    (reports / "runs").mkdir(parents=True, exist_ok=True)
    (reports / "runs" / f"{run_id}.json").write_text(json.dumps({"run_id": run_id, "reports": entries}))


def test_a_renamed_shop_is_one_group_and_missing_pdfs_are_said_beside_each_report(tmp_path, browser):
    reports = tmp_path / "reports"
    write_run(reports, "20261116T010000Z-aaaaaa", [entry(SHOP, "Lumi Old Name"), entry(f"{SHOP}.zh", "Lumi Old Name",
                                                                                        lang="zh")])
    long_error = {"message": "a very long error message " * 8, "cell_index": 4, "exception": "ValueError"}
    write_run(reports, "20261123T010000Z-bbbbbb", [
        entry(SHOP, "Lumi Official TH", missing={"pdf": NO_CHROMIUM}),
        entry(f"{SHOP}.zh", "Lumi Official TH", lang="zh", missing={"pdf": NO_CHROMIUM}),
        entry(f"{SHOP}-x-very-long-slug-that-would-push-a-table-cell-wide-on-a-phone", "Lumi Official TH",
              status="failed", error=long_error)])
    index = write_index(reports)
    page = index.read_text(encoding="utf-8")
    assert page.count('class="sl-shop"') == 1 and f"Lumi Official TH ({SHOP})" in page and "Lumi Old Name (" not in page
    assert page.count(NO_CHROMIUM.replace("`", "&#96;")) + page.count(NO_CHROMIUM) == 1  # the fix, once at the top
    assert "PDF not made for 2 report(s) listed here" in page
    # beside each report: what failed, pointing at the fix
    assert page.count("PDF not made: no Chromium found at /nonexistent (how to fix: the note at the top)") == 2
    text = visible_text(browser, index)
    assert debris(text) == [] and "Failures" in text and "ValueError" in text
    layout = layout_at(browser, index, PHONE, screenshot="index-with-failures-390")
    assert layout["errors"] == [] and layout["scroll_width"] <= PHONE, layout
