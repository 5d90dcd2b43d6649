"""The aggregate plots over all scenarios, as plotly figure specs the page draws once on load.

Figures are built with ``plotly.graph_objects`` so property names are validated here, in Python, rather
than failing silently in the reader's browser; they carry counts and summaries, never one point per
scenario, so their size does not grow with the number of scenarios.
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import plotly.graph_objects as go

from automl.report.encode import histogram, round_float

__all__ = ["bar_figure", "histogram_figure", "plot_text", "steps_figure"]

_GOOD, _BAD, _NEUTRAL = "#2e7d32", "#c62828", "#3b6ea8"
_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "height": 320, "bargap": 0.05,
           "font": {"size": 12}, "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff"}
_GRID = {"gridcolor": "#e8e8e8", "zerolinecolor": "#bbbbbb"}


def plot_text(value: Any) -> str:
    """Text for plotly labels: plotly reads a few HTML-like tags, so ``<``, ``>`` and ``&`` become entities."""
    return html.escape(str(value), quote=False)


def _figure(traces: list[Any], title: str, x_title: str, y_title: str, *, categories: bool = False
            ) -> dict[str, Any]:
    x_axis: dict[str, Any] = {"title": {"text": plot_text(x_title)}, **_GRID}
    if categories:
        x_axis["type"] = "category"
    title_spec = {"text": plot_text(title), "x": 0.01, "xanchor": "left"}
    y_axis = {"title": {"text": plot_text(y_title)}, **_GRID}
    figure = go.Figure(data=traces, layout={**_LAYOUT, "title": title_spec, "xaxis": x_axis, "yaxis": y_axis})
    spec = figure.to_plotly_json()
    # The default template would be expanded into every figure (~10 kB each); the page styles plots itself.
    spec["layout"].pop("template", None)
    return spec


def histogram_figure(values: Any, *, title: str, x_title: str, clip: tuple[float, float] | None = None,
                     signed: bool = False, bins: int = 30) -> dict[str, Any] | None:
    """A histogram drawn from counts; ``signed`` colours bins below zero red and the others green."""
    bars = histogram(values, bins=bins, clip=clip)
    if bars is None:
        return None
    colors = ([_BAD if x is not None and x < 0 else _GOOD for x in bars["x"]] if signed else _NEUTRAL)
    trace = go.Bar(x=bars["x"], y=bars["count"], width=bars["width"], marker={"color": colors},
                   hovertemplate="%{x}: %{y} scenarios<extra></extra>")
    return _figure([trace], title, x_title, "scenarios")


def bar_figure(labels: list[Any], counts: list[int], *, title: str, x_title: str, y_title: str
               ) -> dict[str, Any] | None:
    """A bar per label (e.g. scenarios per best family); None when there is nothing to count."""
    if not labels:
        return None
    trace = go.Bar(x=[plot_text(label) for label in labels], y=counts, marker={"color": _NEUTRAL},
                   hovertemplate="%{x}: %{y}<extra></extra>")
    return _figure([trace], title, x_title, y_title, categories=True)


def steps_figure(seconds: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """Seconds per pipeline step over all scenarios: summed bars, median and 95th percentile on hover."""
    steps = [step for step, values in seconds.items() if np.isfinite(values).any()]
    if not steps:
        return None
    total, median, p95 = [], [], []
    for step in steps:
        values = seconds[step][np.isfinite(seconds[step])]
        total.append(round_float(values.sum()))
        median.append(round_float(np.median(values)))
        p95.append(round_float(np.percentile(values, 95)))
    trace = go.Bar(x=[plot_text(step) for step in steps], y=total, marker={"color": _NEUTRAL},
                   customdata=[[m, p] for m, p in zip(median, p95)],
                   hovertemplate="%{x}: %{y} s in all<br>median %{customdata[0]} s, "
                                 "p95 %{customdata[1]} s per scenario<extra></extra>")
    return _figure([trace], "Seconds per step, all scenarios", "step", "seconds", categories=True)
