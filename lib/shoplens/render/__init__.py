"""Renderers (executed notebook -> HTML) and the reports index page."""

from shoplens.render.builtin import render_html, render_job
from shoplens.render.index import write_index

__all__ = ["render_html", "render_job", "write_index"]
