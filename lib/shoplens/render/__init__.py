"""Renderers (executed notebook -> HTML, then PDF printed by Chromium) and the reports index page."""

from shoplens.render.builtin import render_html
from shoplens.render.index import write_index
from shoplens.render.registry import FORMATS, RENDERERS, Rendering, choose_renderer, parse_formats, render_job

__all__ = ["FORMATS", "RENDERERS", "Rendering", "choose_renderer", "parse_formats", "render_html", "render_job",
           "write_index"]
