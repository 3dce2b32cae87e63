"""Which renderer makes a report's HTML, and the rendering of a batch: HTML, then PDF printed from it.

Renderers are a registry, as papermill's engines are: `quarto` (when a `quarto` executable is found)
and `builtin` (nbconvert + our template). The default is quarto when available, else builtin. Either
way the PDF is printed from the report's own HTML by one headless Chromium per batch (render.pdf),
so the PDF shows exactly what the HTML shows, charts included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from shoplens.errors import OutputsMissing, RenderError
from shoplens.render.builtin import BuiltinRenderer, footer_text
from shoplens.render.pdf import PdfPrinter
from shoplens.render.quarto import QuartoRenderer, quarto_executable

RENDERERS = ("quarto", "builtin")
FORMATS = ("html", "pdf")
_PRINTER_LOCK = threading.Lock()


class Renderer(Protocol):
    name: str
    label: str

    def to_html(self, notebook: Path, html_path: Path, *, title: str, lang: str, footer: str) -> Path: ...


def choose_renderer(name: str | None = None) -> Renderer:
    """The renderer called `name`; by default quarto when a `quarto` executable is found, else builtin."""
    if name is None:
        name = "quarto" if quarto_executable() else "builtin"
    if name == "quarto":
        return QuartoRenderer()
    if name == "builtin":
        return BuiltinRenderer()
    raise RenderError(f"unknown renderer {name!r}; use one of: {', '.join(RENDERERS)}")


def parse_formats(text: str) -> tuple[str, ...]:
    """"html,pdf" -> ("html", "pdf"); an unknown format is refused with the list of known ones."""
    formats = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise RenderError(f"--to {text!r}: unknown format {', '.join(unknown) or '(none)'}; use html, pdf or html,pdf")
    return formats


@dataclass
class Rendering:
    """Renders batch jobs to the requested formats. PDF implies HTML (it is printed from it). Holds one
    Chromium for all PDFs of a batch, started on first use; close it (or use `with`) when done.
    Picklable without its browser, so a Dask worker can make the HTML while the client prints."""

    renderer: Renderer
    formats: tuple[str, ...] = FORMATS
    printer: PdfPrinter | None = field(default=None, repr=False, compare=False)
    #: why the PDF printer cannot start (no Chromium, or one that does not launch): asked once per batch
    printer_error: str | None = field(default=None, repr=False, compare=False)

    def __enter__(self) -> Rendering:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.printer is not None:
            self.printer.close()
            self.printer = None

    def __getstate__(self) -> dict:
        return {"renderer": self.renderer, "formats": self.formats, "printer": None, "printer_error": None}

    def __call__(self, job) -> dict[str, Path]:
        """The job's outputs by format. Raises OutputsMissing, carrying the HTML, when the PDF cannot be made."""
        return self.pdf(job, self.html(job))

    def html(self, job) -> dict[str, Path]:
        """The job's HTML (always: a PDF is printed from it)."""
        return {"html": self.render_notebook(job.executed_path, job.html_path, title=job.title,
                                             lang=job.parameters.get("lang", "en"))}

    def pdf(self, job, outputs: dict[str, Path]) -> dict[str, Path]:
        """Print the job's HTML to PDF when PDF was asked for; returns `outputs` with the PDF added."""
        if "pdf" not in self.formats:
            return outputs
        pdf_path = Path(outputs["html"]).with_suffix(".pdf")
        try:
            return outputs | {"pdf": self.print_pdf(Path(outputs["html"]), pdf_path, label=job.title)}
        except RenderError as exc:  # the HTML stands on its own: keep it, say why there is no PDF
            raise OutputsMissing(outputs, {"pdf": str(exc).strip().splitlines()[0]}) from exc

    def render_notebook(self, notebook: Path, html_path: Path, *, title: str, lang: str) -> Path:
        return self.renderer.to_html(notebook, html_path, title=title, lang=lang,
                                     footer=footer_text(self.renderer.label))

    def print_pdf(self, html_path: Path, pdf_path: Path, *, label: str) -> Path:
        with _PRINTER_LOCK:  # reports finish on several threads; they share one browser
            if self.printer_error is not None:  # a printer that could not start is not tried again
                raise RenderError(self.printer_error)
            if self.printer is None:
                printer = PdfPrinter()
                try:
                    printer.start()
                except RenderError as exc:
                    self.printer_error = str(exc).strip().splitlines()[0]
                    raise
                self.printer = printer
        return self.printer.print(html_path, pdf_path, label=label).path


#: HTML only with the built-in renderer: what tests and benchmarks that do not look at PDFs use.
render_job = Rendering(BuiltinRenderer(), ("html",))
