"""One self-contained HTML file: the page skeleton, plotly.js inlined once, the data as escaped JSON.

plotly.js sits in an inert ``<script type="text/plain">`` that the page's script runs once the text of the
report is on screen (see ``loadPlotly`` in :mod:`automl.report.script`).

Data never reaches the HTML as markup: it travels in a ``<script type="application/json">`` element (with
``<``, ``>`` and ``&`` escaped, so a value cannot close the element) and the page's script inserts every
value with ``textContent``. The only text Python writes into the markup is the escaped ``<title>``.
"""
from __future__ import annotations

import html
from importlib import resources
import logging
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from automl.report.encode import embed_json

__all__ = ["render_page", "write_report"]

logger = logging.getLogger(__name__)

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:0;color:#1d2733;
background:#f4f6f8}
header{background:#1f3a5a;color:#fff;padding:16px 28px}header h1{margin:0 0 8px;font-size:22px}
dl#meta{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;margin:0;font-size:13px}
dl#meta dt{opacity:.75}dl#meta dd{margin:0;word-break:break-all}
main{padding:12px 28px 40px;max-width:1400px}section{margin-top:18px}h2{font-size:17px;margin:0 0 8px}
h3{font-size:16px;margin:4px 0 8px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{background:#fff;border-radius:6px;padding:8px 14px;
box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:110px}.card b{display:block;font-size:20px}
.card span{font-size:12px;color:#5b6775}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:12px}
.panel{background:#fff;border-radius:6px;padding:8px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-height:60px}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e3e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.facts td:first-child{color:#5b6775}
.tables>div{margin-bottom:14px}table.facts{width:auto;min-width:380px}
button.link{background:none;border:0;padding:0;color:#1a5fb4;cursor:pointer;font:inherit;text-align:left;
word-break:break-word}button.link:hover{text-decoration:underline}
.note{background:#fff8e1;border-left:4px solid #f0b429;padding:6px 10px;margin:4px 0}
.error{background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;white-space:pre-wrap;word-break:break-word}
.muted{color:#5b6775;font-size:12px;margin:4px 0}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#dde3ea;margin-right:6px}
.badge.b-ok,.badge.b-succeeded{background:#d7f0dc}.badge.b-failed,.badge.b-error{background:#f8d4d0}
.badge.b-skipped,.badge.b-partial{background:#fdf0c4}
#search{width:min(600px,100%);padding:7px 10px;font-size:14px;border:1px solid #b8c2cc;border-radius:4px;
margin-top:4px}#matches{list-style:none;padding:0;margin:4px 0;max-height:220px;overflow:auto;background:#fff}
#matches li{padding:2px 8px}#detail{background:#fff;border-radius:6px;padding:12px;margin-top:8px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}#detail .grid{margin-top:10px}
pre{white-space:pre-wrap;word-break:break-word;margin:0}
"""

_SKELETON = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header><h1 id="title"></h1><dl id="meta"></dl></header>
<main>
<section id="cards" class="cards"></section>
<section id="notes"></section>
<section><h2>Over all scenarios</h2><div id="figures" class="grid"></div></section>
<section id="tables"></section>
<section id="scenario"><h2>One scenario</h2>
<label for="search">Find a scenario by its keys</label>
<input id="search" type="search" autocomplete="off" spellcheck="false">
<p id="match-count" class="muted"></p><ul id="matches"></ul>
<div id="detail" hidden></div>
</section>
</main>
<script type="application/json" id="report-data">{data}</script>
<script type="text/plain" id="plotly-js">{plotly}</script>
<script>{script}</script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def _report_js() -> str:
    """The page's own script (``report.js``, package data): reads the embedded JSON, draws the aggregate plots
    once and a scenario's detail when it is opened. Data values reach the page through ``textContent`` only
    (never ``innerHTML``); text handed to plotly, which reads a few HTML-like tags, goes through ``esc``."""
    return (resources.files("automl.report") / "report.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    """plotly.js as shipped in the plotly wheel (same version the figures were validated against)."""
    from plotly.offline import get_plotlyjs

    script = get_plotlyjs()
    if "</script" in script.lower():  # would end the inline element early; plotly.js has none today
        script = script.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return script


def render_page(payload: dict[str, Any]) -> str:
    """The report HTML for a payload built by :mod:`automl.report.train` or :mod:`automl.report.predict`."""
    meta = payload.get("meta", {})
    title = f"{meta.get('use_case') or 'automl'} · {payload.get('kind', 'run')} report · {meta.get('run_id') or ''}"
    page = _SKELETON.format(title=html.escape(title), style=_STYLE, plotly=_plotly_js(),
                            data=embed_json(payload), script=_report_js())
    logger.debug("report page: %d characters", len(page))
    return page


def write_report(html_text: str, path: str | os.PathLike[str]) -> Path:
    """Write the report atomically (temporary file in the same folder, then rename); returns the path.

    A reader (a browser, MLflow's artifact upload) never sees a half-written file, and a failed write
    leaves any previous report in place.

    Example: ``write_report(build_train_report(...), run_dir / "report.html")``
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(html_text)
        os.chmod(temporary, 0o644)  # mkstemp makes the file private; a report is meant to be shared
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
