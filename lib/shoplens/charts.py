"""Plotly charts in the shoplens house theme, and `show()`, which makes them survive every renderer.

Under papermill Plotly's default renderer emits only its own mimetype, which nbconvert drops without
a word. `show()` publishes the figure twice in one output: as `application/vnd.plotly.v1+json` for
JupyterLab, and as `text/html` (a div and a `Plotly.newPlot` call, no plotly.js) for the HTML
renderers, which embed plotly.js once per file.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

PALETTE = ["#0f766e", "#e11d48", "#2563eb", "#d97706", "#7c3aed", "#0891b2", "#65a30d", "#db2777"]
FONT = "Inter, 'Noto Sans', 'Noto Sans CJK SC', 'Noto Sans Thai', 'Segoe UI', Arial, sans-serif"
HEIGHT = 380

pio.templates["shoplens"] = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT, "size": 13, "color": "#1f2937"},
        colorway=PALETTE,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 56, "r": 24, "t": 48, "b": 48},
        xaxis={"gridcolor": "#e5e7eb", "linecolor": "#9ca3af", "zeroline": False},
        yaxis={"gridcolor": "#e5e7eb", "linecolor": "#9ca3af", "zeroline": False},
        legend={"orientation": "h", "y": -0.18},
        hoverlabel={"font": {"family": FONT}},
    )
)
#: plotly_white with the house theme on top, merged once: a default named "plotly_white+shoplens" is merged
#: again (deep copies, then validation) for every figure, about 28 ms of CPU each, 4-5 per report
pio.templates["shoplens_white"] = pio.templates.merge_templates("plotly_white", "shoplens")
pio.templates.default = "shoplens_white"


def _floats(series: pd.Series) -> list:
    """Decimal money -> float, for drawing only (tables keep the exact values)."""
    return [float(v) if isinstance(v, Decimal) else v for v in series]


def daily_bars_and_line(frame: pd.DataFrame, *, x: str, bars: str, line: str, bar_label: str, line_label: str,
                        title: str, highlight: tuple | None = None, highlight_label: str = "",
                        line_axis: dict | None = None) -> go.Figure:
    """Bars for one metric and a line on a second axis for another, by day; `highlight` shades a span
    of days (a campaign's); `line_axis` overrides the line axis's layout (a rating's fixed 1-5 scale)."""
    fig = go.Figure()
    if highlight is not None:
        fig.add_vrect(x0=pd.Timestamp(highlight[0]) - pd.Timedelta(hours=12),
                      x1=pd.Timestamp(highlight[1]) + pd.Timedelta(hours=12), fillcolor=PALETTE[3], opacity=0.12,
                      line_width=0, annotation_text=highlight_label, annotation_position="top left")
    fig.add_bar(x=list(frame[x]), y=_floats(frame[bars]), name=bar_label)
    fig.add_scatter(x=list(frame[x]), y=_floats(frame[line]), name=line_label, yaxis="y2", mode="lines+markers")
    fig.update_layout(title=title, height=HEIGHT,
                      yaxis={"title": bar_label, "rangemode": "tozero"},
                      yaxis2={"title": line_label, "overlaying": "y", "side": "right", "showgrid": False,
                              "rangemode": "tozero", "tickformat": ",d"} | (line_axis or {}))
    return fig


def bars(labels: list[str], values: list, *, title: str, value_label: str, horizontal: bool = False) -> go.Figure:
    """One bar per label; horizontal for long names (products, creators)."""
    fig = go.Figure()
    values = _floats(pd.Series(values))
    if horizontal:
        fig.add_bar(y=list(labels)[::-1], x=values[::-1], orientation="h", name=value_label)
        fig.update_layout(xaxis={"title": value_label, "rangemode": "tozero"}, yaxis={"automargin": True})
    else:
        fig.add_bar(x=list(labels), y=values, name=value_label)
        fig.update_layout(yaxis={"title": value_label, "rangemode": "tozero"})
    fig.update_layout(title=title, height=HEIGHT, showlegend=False)
    return fig


def lines(frame: pd.DataFrame, *, x: str, y: str, series: str, title: str, y_label: str,
          y_format: str = "") -> go.Figure:
    """One line per value of `series` over `x`."""
    fig = go.Figure()
    for name, part in frame.groupby(series, sort=False):
        fig.add_scatter(x=list(part[x]), y=_floats(part[y]), name=str(name), mode="lines+markers")
    fig.update_layout(title=title, height=HEIGHT, yaxis={"title": y_label, "tickformat": y_format, "rangemode": "tozero"})
    return fig


def funnel(stages: list[str], values: list, *, title: str) -> go.Figure:
    """Stages from the widest to the narrowest as bars, each labelled with its share of the first
    (plain bars, so the chart needs only the cartesian part of plotly.js)."""
    numbers = _floats(pd.Series(values))
    first = numbers[0] or 1
    text = [f"{v:,.0f} ({v / first:.1%})" for v in numbers]
    fig = go.Figure(go.Bar(y=list(stages)[::-1], x=numbers[::-1], orientation="h", text=text[::-1],
                           textposition="auto"))
    fig.update_layout(title=title, height=HEIGHT, showlegend=False, yaxis={"automargin": True},
                      xaxis={"rangemode": "tozero"})
    return fig


def html_fragment(fig: go.Figure | dict) -> str:
    """The chart (a figure, or its `to_dict()`) as a div plus its newPlot call; plotly.js itself is embedded
    once by the renderer."""
    height = fig.get("layout", {}).get("height") if isinstance(fig, dict) else fig.layout.height
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, default_height=f"{height or HEIGHT}px",
                       default_width="100%", config={"displaylogo": False, "responsive": True},
                       validate=not isinstance(fig, dict))


def show(fig: go.Figure) -> None:
    """Display `fig` so that JupyterLab and both HTML renderers all draw it."""
    from IPython.display import publish_display_data

    # one copy of the figure for both forms (each of plotly's writers deep-copies a Figure it is given)
    spec = fig.to_dict()
    page = html_fragment(spec)  # before to_json, which drops the traces' uids from what it is given
    publish_display_data({
        "application/vnd.plotly.v1+json": (json.loads(pio.to_json(spec, validate=False))
                                           | {"config": {"displaylogo": False}}),
        "text/html": page,
        "text/plain": f"<Figure: {fig.layout.title.text or 'chart'}>",
    })
