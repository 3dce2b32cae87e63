"""The Quarto renderer: an executed notebook -> one self-contained HTML file through `quarto render`.

Used when a `quarto` executable is found (SHOPLENS_QUARTO, then PATH, then next to this Python). Quarto
does not re-execute an `.ipynb`; it renders the outputs papermill left. Measured behaviour this code
relies on is in docs/rendering.md (and the team's Quarto notes); the parts that matter:

- Quarto (pandoc) does not escape HTML in front matter or markdown, so every text that reaches it from
  data is escaped here first; report content stays in outputs that shoplens already escaped.
- Any HTML output makes Quarto add require.js and jQuery `<script src>` tags from a CDN. They are
  removed afterwards, and a page that still refers to the network is refused: a report must open
  offline. plotly.js (our small bundle) goes into the page head once, hidden from any AMD loader.
- A folder whose name starts with a dot is not a project folder to Quarto: its `_quarto.yml` is
  ignored (code shown, nothing embedded, no chart drawn). So the scratch folder's name has no leading
  dot, and the settings also go into the document's own front matter, which applies wherever it is.
- Bootstrap, its icons and scripts roughly doubled a report (2.4 MB against 1.25 MB): the page uses
  Quarto's `minimal` HTML with the house CSS instead, and the same contents list as the built-in page.

This module must never run a notebook's code, and never write a half-rendered file where a report
belongs: Quarto works in a scratch folder, and the result is renamed into place.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import nbformat
import yaml

from shoplens.errors import RenderError
from shoplens.render.builtin import HIDDEN_TAGS, TEMPLATES_DIR, plotly_js, table_of_contents

QUARTO_TEMPLATES = TEMPLATES_DIR / "quarto"
RENDER_TIMEOUT_S = 600
#: what goes beside the prepared notebook in the scratch folder (name there -> source)
SUPPORT_FILES = {"_quarto.yml": QUARTO_TEMPLATES / "_quarto.yml", "quarto.css": QUARTO_TEMPLATES / "quarto.css",
                 "report.css": TEMPLATES_DIR / "builtin" / "report.css"}

#: <script src="http..."> and <link href="http..."> tags: what Quarto adds for widgets (require.js, jQuery)
_REMOTE_TAG = re.compile(r"""<script\b[^>]*\bsrc=["']https?://[^"']*["'][^>]*>\s*</script>\s*"""
                         r"""|<link\b[^>]*\bhref=["']https?://[^"']*["'][^>]*>\s*""", re.IGNORECASE)
#: anything that would still make the browser fetch from the network
_REMOTE_REF = re.compile(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*\b(?:src|href)=["'](https?:)?//""",
                         re.IGNORECASE)


def quarto_executable() -> str | None:
    """The `quarto` to use: SHOPLENS_QUARTO (which must be executable), else PATH, else beside Python."""
    configured = os.environ.get("SHOPLENS_QUARTO")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise RenderError(f"SHOPLENS_QUARTO={configured} is not an executable file: point it at Quarto's "
                              "`quarto` binary (1.10 or later) or unset it to use the built-in renderer")
        return found
    return shutil.which("quarto") or shutil.which("quarto", path=str(Path(sys.executable).parent))


@lru_cache(maxsize=4)
def quarto_version(executable: str) -> str:
    """`quarto --version`, e.g. "1.10.18"."""
    done = _run([executable, "--version"], cwd=Path.cwd(), timeout=60)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "unknown"


def _run(command: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env=os.environ | {"QUARTO_PRINT_STACK": "false"})
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"`{' '.join(command[:3])}` took longer than {timeout:.0f} s") from exc
    except OSError as exc:
        raise RenderError(f"cannot run {command[0]}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise RenderError(f"`{' '.join(command[:3])}` failed", exit_code=done.returncode, stderr_tail=tail)
    return done


def quarto_settings() -> dict:
    """templates/quarto/_quarto.yml: the settings every report is rendered with."""
    return yaml.safe_load((QUARTO_TEMPLATES / "_quarto.yml").read_text(encoding="utf-8"))


def _outputs_html(nb: nbformat.NotebookNode) -> str:
    return "".join("".join(out.get("data", {}).get("text/html", "")) for cell in nb.cells
                   if cell.cell_type == "code" for out in cell.get("outputs", []))


def prepare_notebook(nb: nbformat.NotebookNode, *, title: str, lang: str, footer: str) -> nbformat.NotebookNode:
    """A copy of an executed notebook ready for Quarto: front matter with the (escaped) page title, the
    language and every setting of _quarto.yml (so they hold even where Quarto does not see the project
    file), the contents list of the report's headings, parameter cells removed, and the footer as the
    last cell. The input is not changed."""
    prepared = nbformat.from_dict(json.loads(json.dumps(nb)))
    prepared.cells = [cell for cell in prepared.cells
                      if not HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))]
    front = {"pagetitle": html.escape(title), "lang": "zh-CN" if lang == "zh" else "en", **quarto_settings()}
    front_matter = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip() + "\n---"
    prepared.cells.insert(0, nbformat.v4.new_raw_cell(front_matter))
    contents = table_of_contents(_outputs_html(prepared), lang)
    if contents:  # built from headings shoplens escaped; pandoc passes a raw html block through as is
        prepared.cells.insert(1, nbformat.v4.new_markdown_cell(
            f'```{{=html}}\n<nav class="sl-toc">{contents}</nav>\n```'))
    prepared.cells.append(nbformat.v4.new_markdown_cell(f"::: {{.sl-footer}}\n{html.escape(footer)}\n:::"))
    for index, cell in enumerate(prepared.cells):  # Quarto wants unique ids; ours are unique, new ones get one
        cell["id"] = cell.get("id") or f"sl-{index}"
    return prepared


def plotly_header() -> str:
    """plotly.js for the page head, once, with any AMD `define` hidden so the bundle sets window.Plotly."""
    return ("<script>window.__slDefine = window.define; window.define = undefined;</script>\n"
            f"<script>{plotly_js()}</script>\n"
            "<script>window.define = window.__slDefine; delete window.__slDefine;</script>\n")


def make_offline(page: str, *, source: str) -> str:
    """Remove the CDN script and stylesheet tags Quarto adds; refuse a page that still needs the network."""
    cleaned = _REMOTE_TAG.sub("", page)
    remaining = _REMOTE_REF.search(cleaned)
    if remaining:
        raise RenderError(f"{source}: Quarto's page still loads {cleaned[remaining.start():remaining.end() + 60]!r} "
                          "from the network; a report must open offline")
    return cleaned


class QuartoRenderer:
    """Renders through `quarto render` with templates/quarto/_quarto.yml and the house CSS."""

    name = "quarto"

    def __init__(self, executable: str | None = None) -> None:
        found = executable or quarto_executable()
        if found is None:
            raise RenderError("no `quarto` executable found: install Quarto 1.10 or later (quarto.org) or set "
                              "SHOPLENS_QUARTO to its path; or use --renderer builtin")
        self.executable = found

    @property
    def label(self) -> str:
        return f"Quarto {quarto_version(self.executable)}"

    def to_html(self, notebook: Path, html_path: Path, *, title: str, lang: str, footer: str) -> Path:
        try:
            nb = nbformat.read(str(notebook), as_version=4)
        except (OSError, ValueError) as exc:
            raise RenderError(f"cannot read notebook {notebook}: {exc}") from exc
        html_path.parent.mkdir(parents=True, exist_ok=True)
        with staged(nb, title=title, lang=lang, footer=footer) as work:
            _run([self.executable, "render", "report.ipynb", "--to", "html", "--output", "report.html"],
                 cwd=work, timeout=RENDER_TIMEOUT_S)
            produced = work / "report.html"
            if not produced.exists():
                raise RenderError(f"quarto render reported success but wrote no {produced.name} for {notebook}")
            page = make_offline(produced.read_text(encoding="utf-8"), source=str(notebook))
            tmp = html_path.with_name(f".{html_path.name}.tmp")
            tmp.write_text(page, encoding="utf-8")
            tmp.replace(html_path)
        return html_path


@contextlib.contextmanager
def staged(nb: nbformat.NotebookNode, *, title: str, lang: str, footer: str) -> Iterator[Path]:
    """A scratch Quarto project holding the prepared notebook (report.ipynb), _quarto.yml, the CSS and
    plotly.html; removed afterwards. Its name has no leading dot (Quarto ignores _quarto.yml in such a
    folder) and it lives in the system's temp folder, never among the reports."""
    with tempfile.TemporaryDirectory(prefix="shoplens-quarto-") as scratch:
        work = Path(scratch)
        for name, source in SUPPORT_FILES.items():
            shutil.copyfile(source, work / name)
        (work / "plotly.html").write_text(plotly_header(), encoding="utf-8")
        nbformat.write(prepare_notebook(nb, title=title, lang=lang, footer=footer), str(work / "report.ipynb"))
        yield work
