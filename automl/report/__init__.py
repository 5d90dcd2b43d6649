"""Self-contained HTML reports of training and prediction runs: pandas in, one offline HTML file out.

This package never imports pyspark: the job layer collects the results, holdout and predictions tables
(pandas) and the manifest, and calls :func:`build_train_report` or :func:`build_predict_report`, then
:func:`write_report`.

Why plotly: its JavaScript bundle (plotly.js, MIT, maintained by Plotly and shipped inside the ``plotly``
wheel, so no CDN or download is needed) is one file that draws interactive line, scatter, bar and heatmap
charts as SVG with zoom and hover out of the box; inlining it once (~4.8 MB) keeps the report a single file
that opens offline. The Python package also validates figure properties at build time. Alternatives were
weighed: Vega-Lite/Altair needs three scripts (vega, vega-lite, vega-embed) that Altair does not ship for
offline use; Bokeh's inline resources are similar in size but its figures are built in Python, so
on-demand drawing of one scenario among 10,000 would need a second plotting API in JavaScript anyway;
matplotlib images are static and would have to be rendered for every scenario up front.

Scale: the aggregate plots carry counts, not one point per scenario; per-scenario detail (holdout rows,
importances, leaderboard, parameters) travels as compact columnar JSON and is drawn when a scenario is
opened. At 10,000 scenarios with 12 holdout rows each the file stays far below 20 MB (see
``benchmarks/report_scale.py``).
"""
from __future__ import annotations

from automl.report.page import write_report
from automl.report.predict import build_predict_report
from automl.report.train import build_train_report

__all__ = ["build_predict_report", "build_train_report", "write_report"]
