"""The `shoplens` command as a user runs it: one readable line for a mistake, a non-zero exit, no
traceback; and `shoplens demo` doing the whole pipeline in a fresh workspace."""

import os
import subprocess
import time
import sys
from pathlib import Path

import pytest

SHOPLENS = str(Path(sys.executable).with_name("shoplens"))


def run(args, home, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    environment.update(SHOPLENS_HOME=str(home), **env)
    return subprocess.run([SHOPLENS, *args], capture_output=True, text=True, env=environment, timeout=240)


@pytest.mark.parametrize("args, env, message", [
    (["reports", "run"], {}, "no warehouse at"),
    (["sync"], {}, "no app key: set SHOPLENS_APP_KEY"),
    (["sync"], {"SHOPLENS_APP_KEY": "k"}, "no app secret: set SHOPLENS_APP_SECRET"),
    (["sync"], {"SHOPLENS_APP_KEY": "k", "SHOPLENS_APP_SECRET": "s"}, "run `shoplens auth exchange --code CODE`"),
    (["auth", "url"], {}, "set SHOPLENS_SERVICE_ID"),
    (["render", "missing.ipynb"], {}, "no notebook at missing.ipynb"),
    (["render", "x.ipynb", "--to", "docx"], {}, "--to 'docx': unknown format docx; use html, pdf or html,pdf"),
    (["render", "x.ipynb", "--renderer", "word"], {}, "unknown renderer 'word'; use one of: quarto, builtin"),
    (["render", "x.ipynb", "--renderer", "quarto"], {"SHOPLENS_QUARTO": "/nowhere/quarto"},
     "SHOPLENS_QUARTO=/nowhere/quarto is not an executable file"),
    (["sandbox", "serve", "--faults", "429:lots"], {}, "--faults: fault '429:lots': write KIND:RATE"),
])
def test_mistakes_get_one_line_and_exit_1(tmp_path, args, env, message):
    done = run(args, tmp_path, **env)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def test_reports_run_names_an_unknown_shop_and_bad_dates(synced):
    home, _ = synced
    done = run(["reports", "run", "--shop", "nope"], home)
    assert done.returncode == 1 and "unknown shop id 'nope'" in done.stderr
    done = run(["reports", "run", "--since", "2026-11-15", "--until", "2026-11-09"], home)
    assert done.returncode == 1 and "swap them" in done.stderr
    done = run(["reports", "run", "--since", "last week"], home)
    assert done.returncode == 1 and "--since 'last week' is not a date" in done.stderr
    done = run(["reports", "run", "--lang", "fr"], home)
    assert done.returncode == 1 and "unknown language 'fr'" in done.stderr


def test_a_config_file_with_a_secret_is_refused(tmp_path):
    (tmp_path / "shoplens.toml").write_text('app_key = "k"\napp_secret = "oops"\n')
    done = run(["sync"], tmp_path)
    assert done.returncode == 1 and "holds app_secret" in done.stderr


def test_metrics_list_shows_the_catalogue(tmp_path):
    done = run(["metrics", "list"], tmp_path)
    assert done.returncode == 0 and "gmv" in done.stdout and "refund_amount" in done.stdout


def test_demo_runs_the_whole_pipeline_in_a_fresh_workspace(tmp_path):
    done = run(["demo", "--shops", "3", "--orders-per-day", "4", "--report", "shop_report", "--lang", "en",
                "--to", "html,pdf"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    index = tmp_path / "reports" / "index.html"
    assert str(index) in done.stdout.replace("\n", "")
    html_reports = sorted((tmp_path / "reports").rglob("*.html"))
    assert len([p for p in html_reports if p.name != "index.html"]) == 3
    assert len(list((tmp_path / "reports").rglob("*.pdf"))) == 3
    assert (tmp_path / "data" / "shoplens.duckdb").exists()
    assert not (tmp_path / ".shoplens").exists()
    # the demo ends by checking the compiler's figures against the raw archive
    said = done.stdout.replace("\n", " ")
    assert "verify: " in said and " figures agree with the raw archive (3 shop(s)" in said


def test_demo_without_chromium_keeps_every_html_report_and_says_why_once(tmp_path):
    """A fresh machine with no Chromium (none at SHOPLENS_CHROMIUM, none on PATH): every report's HTML is
    made and linked from the index, the PDF problem is said once, and the exit code is 3 (docs/cli.md)."""
    missing = tmp_path / "no-such-chromium"
    done = run(["demo", "--shops", "1", "--orders-per-day", "4", "--lang", "en", "--to", "html,pdf"], tmp_path,
               SHOPLENS_CHROMIUM=str(missing), PATH=str(Path(SHOPLENS).parent))
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output and "error:" not in output
    reason = f"no Chromium found at {missing}"
    assert output.count(reason) == 1, output  # once, in the summary, not once per report
    import json

    manifest = json.loads(max((tmp_path / "reports" / "runs").glob("*.json")).read_text(encoding="utf-8"))
    entries = manifest["reports"]
    assert len(entries) >= 6 and {e["report"] for e in entries} >= {"shop_report", "kpi_scorecard", "live_recap"}
    assert f"PDF not made for {len(entries)} of {len(entries)} reports: {reason}" in output.replace("\n", "")
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    for entry in entries:
        assert entry["status"] == "ok" and set(entry["outputs"]) == {"html"}, entry
        assert entry["missing"]["pdf"].startswith(reason), entry
        assert (tmp_path / "reports" / entry["outputs"]["html"]).is_file()
        assert f'href="{entry["outputs"]["html"]}"' in index
    assert f"PDF not made for {len(entries)} report(s) listed here: {reason}" in index
    assert "Failures" not in index
    leftovers = [p for p in (tmp_path / "reports").rglob("*") if p.suffix in (".pdf", ".tmp")]
    assert leftovers == []
    assert str(tmp_path / "reports" / "index.html") in output.replace("\n", "")


def test_auth_status_warns_near_expiry_and_auth_refresh_renews(server, tokens, tmp_path):
    from dataclasses import replace

    from shoplens.tiktok import TokenStore

    gate = server.sandbox.gate
    store = TokenStore(tmp_path / ".shoplens" / "tokens.json")
    store.save(replace(tokens, refresh_token_expire_in=int(time.time()) + 3 * 86_400))
    env = {"SHOPLENS_API_URL": server.url, "SHOPLENS_AUTH_URL": server.url, "SHOPLENS_APP_KEY": gate.app_key,
           "SHOPLENS_APP_SECRET": gate.app_secret, "COLUMNS": "300"}
    status = run(["auth", "status"], tmp_path, **env)
    assert status.returncode == 0, status.stderr
    assert "Sandbox Seller" in status.stdout and "seller.order.info" in status.stdout
    assert "warning:" in status.stdout and "authorize again" in status.stdout
    assert tokens.access_token not in status.stdout + status.stderr
    renewed = run(["auth", "refresh"], tmp_path, **env)
    assert renewed.returncode == 0, renewed.stderr
    assert store.all()[0].access_token != tokens.access_token
    assert "warning:" not in run(["auth", "status"], tmp_path, **env).stdout
    shops = run(["shops"], tmp_path, **env)
    assert shops.returncode == 0 and server.sandbox.business.shops[0].id in shops.stdout
