"""Self-contained HTML reports of training and prediction runs: pandas in, one offline HTML file out.

This package never imports pyspark: the job layer collects the results, holdout and predictions tables
(pandas) and the manifest, and calls :func:`build_train_report` or :func:`build_predict_report`, then
:func:`write_report`.

Why plotly: the ``plotly`` wheel ships plotly.js (MIT, actively maintained), one script that draws every
chart this report needs (lines, scatter, bars, heatmap) as interactive SVG with zoom and hover, so the report
inlines it once and works offline with no CDN. Its figure format is plain JSON: the aggregate plots are built
(and validated) in Python with ``plotly.graph_objects``, and a scenario's detail is drawn on demand by a few
lines of JavaScript over the same format. Bokeh also inlines its script but builds figures in Python, which
would mean rendering 10,000 detail figures up front or a second, lower-level API in the page; matplotlib gives
static images, again one set per scenario up front. The cost is plotly.js's size (~4.8 MB) and its start-up
in a cold browser, so the page shows its text, tables and search first and starts plotly.js after.

Scale: the aggregate plots carry counts, not one point per scenario; per-scenario detail (holdout rows,
importances, leaderboard, parameters) travels as compact columnar JSON and is drawn when a scenario is
opened. At 10,000 scenarios with 12 holdout rows each the file weighs about 12 MB (see
``benchmarks/report_scale.py``).
"""
from __future__ import annotations

from automl.report.page import write_report
from automl.report.predict import build_predict_report
from automl.report.train import build_train_report

__all__ = ["build_predict_report", "build_train_report", "write_report"]
