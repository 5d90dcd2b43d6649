// The report page's script: draws a scenario's detail on demand from the embedded JSON (see page.py).
(function () {
  'use strict';
  var timings = window.reportTimings = {script: performance.now()};  // read by benchmarks/report_scale.py
  var D = JSON.parse(document.getElementById('report-data').textContent);
  timings.parsed = performance.now();
  var S = D.scenarios || {};
  var N = (S.id || []).length;
  var KEYS = D.scenario_keys || [];
  var CONFIG = {displaylogo: false, responsive: true};
  var pending = [];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function esc(text) {  // plotly reads <b>, <br>, <a ...> in labels: data must reach it as entities
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }
  function fmt(v) {
    if (v === null || v === undefined || v === '') return '–';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function pct(v) {
    return v === null || v === undefined ? '–' : (v >= 0 ? '+' : '') + (v * 100).toFixed(1) + '%';
  }
  function family(i) { return S.family[i] === null ? null : D.families[S.family[i]]; }
  function examples(list) {
    var box = el('div');
    list.forEach(function (i) { box.appendChild(scenarioLink(i)); box.appendChild(el('br')); });
    return box;
  }
  function keyLabel(i) {
    return KEYS.map(function (k, j) { return k + '=' + S.keys[j][i]; }).join(' · ');
  }
  function badge(status) {
    var known = ['ok', 'failed', 'skipped', 'unchanged', 'succeeded', 'error', 'partial'];
    return el('span', status, 'badge' + (known.indexOf(status) >= 0 ? ' b-' + status : ''));
  }
  function axis(title, extra) {
    var a = {gridcolor: '#e8e8e8', title: {text: esc(title || '')}};
    Object.keys(extra || {}).forEach(function (k) { a[k] = extra[k]; });
    return a;
  }
  function layout(title, extra) {
    var base = {title: {text: esc(title), x: 0.01, xanchor: 'left'}, height: 340, font: {size: 12},
                margin: {l: 60, r: 20, t: 40, b: 70}, plot_bgcolor: '#fff', paper_bgcolor: '#fff',
                legend: {orientation: 'h', y: -0.2, yanchor: 'top'}, xaxis: axis(), yaxis: axis()};
    Object.keys(extra || {}).forEach(function (k) { base[k] = extra[k]; });
    return base;
  }
  var queued = [];  // plots whose panels are placed but not drawn yet
  function plot(parent, data, lay) {
    var div = el('div', null, 'panel plot');
    parent.appendChild(div);
    queued.push([div, data, lay]);
  }
  function draw() {
    // Drawn once every panel of a view is placed, so plotly sizes each plot to its final grid cell;
    // before plotly.js has run, loadPlotly draws them.
    if (!window.Plotly) return;
    queued.forEach(function (q) {
      if (q[0].isConnected) pending.push(Plotly.newPlot(q[0], q[1], q[2], CONFIG));
    });
    queued = [];
  }
  function loadPlotly() {
    // plotly.js ships inert (type="text/plain") and runs only after the page's text is on screen: its
    // start-up (3 s of CPU in a cold headless Chromium on the 2-core CI machine, measured by
    // benchmarks/report_scale.py) then delays the plots only, not the numbers, tables and search.
    var code = document.getElementById('plotly-js'), script = document.createElement('script');
    script.textContent = code.textContent;
    document.head.appendChild(script);
    code.parentNode.removeChild(code);
    timings.plotly = performance.now();
    draw();
  }
  function table(parent, heads, rows, numeric) {
    var t = el('table'), tr = el('tr');
    (heads || []).forEach(function (h) { tr.appendChild(el('th', h)); });
    if (heads) t.appendChild(tr);
    rows.forEach(function (row) {
      var r = el('tr');
      row.forEach(function (cell, j) {
        var td = el('td', null, numeric && numeric[j] ? 'num' : '');
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = fmt(cell);
        r.appendChild(td);
      });
      t.appendChild(r);
    });
    parent.appendChild(t);
    return t;
  }
  function scenarioLink(i) {
    var b = el('button', keyLabel(i) || S.id[i], 'link');
    b.type = 'button';
    b.addEventListener('click', function () { show(i, true); });
    return b;
  }
  function slice(cols, name, i, prefix) {
    var a = cols && cols[name];
    if (!a) return null;
    var s = S[prefix + '_start'][i];
    return a.slice(s, s + S[prefix + '_length'][i]);
  }
  function times(cols, values) {
    return values.map(function (v) {
      if (v === null) return null;
      var d = new Date(cols.x_unit === 'day' ? v * 864e5 : v * 1e3).toISOString();
      return cols.x_unit === 'day' ? d.slice(0, 10) : d.slice(0, 19).replace('T', ' ');
    });
  }

  function header() {
    var m = D.meta || {};
    document.getElementById('title').textContent = (m.use_case || 'automl') + ' — ' + D.kind + ' report';
    var dl = document.getElementById('meta');
    [['run id', 'run_id'], ['status', 'status'], ['counts', 'counts'], ['wall seconds', 'wall_seconds'],
     ['started', 'started_at'], ['finished', 'finished_at'], ['data fingerprint', 'data_fingerprint'],
     ['tracking', 'tracking_uri'], ['training run', 'training_run_id'],
     ['pooled slopes', 'pooled_slopes'], ['default forecast', 'default_replacements']].forEach(function (f) {
      if (m[f[1]] === undefined || m[f[1]] === null) return;
      dl.appendChild(el('dt', f[0]));
      dl.appendChild(el('dd', m[f[1]]));
    });
    var cards = document.getElementById('cards');
    (D.cards || []).forEach(function (c) {
      var card = el('div', null, 'card');
      card.appendChild(el('b', fmt(c[1])));
      card.appendChild(el('span', c[0]));
      cards.appendChild(card);
    });
    var notes = document.getElementById('notes');
    (D.notes || []).forEach(function (n) { notes.appendChild(el('p', n, 'note')); });
    if (!N) notes.appendChild(el('p', D.kind === 'train'
      ? 'This run recorded no scenario results (it may have crashed before any scenario finished).'
      : 'This run scored no rows.', 'note'));
  }

  function figures() {
    var box = document.getElementById('figures');
    var empty = {relative: 'Score relative to the baseline: no scenario finished with a score and a baseline.',
                 families: 'Best family per scenario: no scenario finished ok.',
                 steps: 'Seconds per step: no timings recorded.', memory: 'Peak memory: not recorded.',
                 rows: 'Rows scored per scenario: no rows scored.', errors: 'Errors: none.'};
    Object.keys(D.figures || {}).forEach(function (name) {
      var fig = D.figures[name];
      if (fig) plot(box, fig.data, fig.layout);
      else box.appendChild(el('div', empty[name] || name + ': no data.', 'panel muted'));
    });
  }

  function section(parent, title, note) {
    var s = el('div');
    s.appendChild(el('h2', title));
    if (note) s.appendChild(el('p', note, 'muted'));
    parent.appendChild(s);
    return s;
  }

  function trainTables() {
    var box = document.getElementById('tables'), T = D.tables, grid = el('div', null, 'tables');
    box.appendChild(grid);
    var worst = section(grid, 'Worst scenarios',
                        'Lowest score relative to the baseline (' + (D.primary_metric || 'score') + ').');
    if (T.worst.length) table(worst, ['scenario', 'score', 'baseline', 'vs baseline', 'family'],
      T.worst.map(function (i) {
        return [scenarioLink(i), S.score[i], S.baseline[i], pct(S.relative[i]), family(i)];
      }), [0, 1, 1, 1, 0]);
    else worst.appendChild(el('p', 'No scenario has both a score and a baseline.', 'muted'));
    var slow = section(grid, 'Slowest scenarios', 'Seconds per step; memory is the peak of the scenario.');
    if (T.slowest.length) table(slow, ['scenario', 'status', 'seconds'].concat(T.steps).concat(['MB']),
      T.slowest.map(function (i, r) {
        return [scenarioLink(i), S.status[i], S.seconds[i]].concat(T.slowest_steps[r]).concat([S.memory[i]]);
      }), [0, 0].concat(T.steps.map(function () { return 1; })).concat([1, 1]));
    else slow.appendChild(el('p', 'No timings recorded.', 'muted'));
    var reasons = section(box, 'Failed and skipped scenarios',
                          T.n_problems + ' scenario(s) did not produce a model.');
    if (T.reasons.length) table(reasons, ['status', 'error type', 'reason', 'scenarios', 'for example'],
      T.reasons.map(function (g) { return [g.status, g.type, g.reason, g.count, examples(g.examples)]; }),
      [0, 0, 0, 1, 0]);
    if (T.problems.length) {
      var details = el('details'), list = el('div');
      details.appendChild(el('summary', 'All of them' + (T.n_problems > T.problems.length
        ? ' (the first ' + T.problems.length + '; search for the others)' : '')));
      table(list, ['scenario', 'status', 'reason'], T.problems.map(function (i) {
        return [scenarioLink(i), S.status[i], S.error[i]];
      }));
      details.appendChild(list);
      reasons.appendChild(details);
    }
  }

  function predictTables() {
    var box = document.getElementById('tables'), T = D.tables;
    var errors = section(box, 'Errors', T.n_error_scenarios + ' scenario(s) have rows that could not be scored.');
    if (T.errors.length) table(errors, ['error', 'rows', 'scenarios', 'for example'],
      T.errors.map(function (g) { return [g.error, g.rows, g.scenarios, examples(g.examples)]; }), [0, 1, 1, 0]);
  }

  function facts(parent, pairs) {
    table(parent, null, pairs.filter(function (p) { return p[1] !== undefined; }), [0, 1]).className = 'facts';
  }

  function holdoutPlots(grid, i) {
    var H = D.holdout || {}, actual = slice(H, 'actual', i, 'holdout');
    if (!actual || !actual.length) {
      grid.appendChild(el('div', 'No holdout rows recorded for this scenario.', 'panel muted'));
      return;
    }
    var pred = slice(H, 'prediction', i, 'holdout'), base = slice(H, 'baseline', i, 'holdout');
    var x = H.x ? times(H, slice(H, 'x', i, 'holdout')) : null;
    if (D.task === 'classification') return classificationPlots(grid, i, H, actual, pred, base);
    if (x) {
      plot(grid, [{x: x, y: actual, name: 'actual', mode: 'lines+markers', line: {color: '#1d2733'}},
                  {x: x, y: pred, name: 'prediction', mode: 'lines+markers', line: {color: '#1a5fb4'}},
                  base ? {x: x, y: base, name: 'baseline', mode: 'lines', line: {color: '#999', dash: 'dash'}} : null]
        .filter(Boolean), layout('Holdout: actual, prediction, baseline', {xaxis: axis('', {type: 'date'})}));
      return;
    }
    var known = actual.filter(function (v) { return v !== null; });
    var lo = Math.min.apply(null, known), hi = Math.max.apply(null, known);
    plot(grid, [{x: actual, y: pred, name: 'prediction', mode: 'markers', marker: {color: '#1a5fb4'}},
                base ? {x: actual, y: base, name: 'baseline', mode: 'markers',
                        marker: {color: '#999', symbol: 'x'}} : null,
                {x: [lo, hi], y: [lo, hi], name: 'perfect', mode: 'lines', line: {color: '#ccc', dash: 'dot'}}]
      .filter(Boolean), layout('Holdout: prediction against actual',
                               {xaxis: axis('actual'), yaxis: axis('predicted')}));
  }

  function classificationPlots(grid, i, H, actual, pred, base) {
    var labels = H.labels || [], k = labels.length, prob = slice(H, 'probability', i, 'holdout');
    if (H.positive !== null && H.positive !== undefined && prob) {
      var pos = k - 1, rows = actual.map(function (a, j) { return [prob[j], a === pos]; })
        .filter(function (r) { return r[0] !== null; }).sort(function (a, b) { return b[0] - a[0]; });
      var P = rows.filter(function (r) { return r[1]; }).length, Q = rows.length - P;
      if (P && Q) {
        var fpr = [0], tpr = [0], tp = 0, fp = 0, auc = 0;
        rows.forEach(function (r, j) {
          if (r[1]) tp++; else fp++;
          if (j === rows.length - 1 || rows[j + 1][0] !== r[0]) {
            auc += (fp / Q - fpr[fpr.length - 1]) * (tp / P + tpr[tpr.length - 1]) / 2;
            fpr.push(fp / Q); tpr.push(tp / P);
          }
        });
        plot(grid, [{x: fpr, y: tpr, mode: 'lines', name: 'model'},
                    {x: [0, 1], y: [0, 1], mode: 'lines', name: 'chance', line: {dash: 'dot', color: '#aaa'}}],
          layout('ROC on the holdout (AUC ' + auc.toFixed(3) + ', positive: ' + H.positive + ')',
                 {xaxis: axis('false positive rate', {range: [0, 1]}),
                  yaxis: axis('true positive rate', {range: [0, 1.02]})}));
      } else grid.appendChild(el('div', 'ROC: the holdout holds a single class.', 'panel muted'));
    }
    var z = labels.map(function () { return labels.map(function () { return 0; }); });
    actual.forEach(function (a, j) { if (a !== null && pred[j] !== null) z[a][pred[j]] += 1; });
    var names = labels.map(esc);
    plot(grid, [{type: 'heatmap', z: z, x: names, y: names, showscale: false,
                 colorscale: [[0, '#f2f6fb'], [1, '#1a5fb4']],
                 texttemplate: '%{z}', hovertemplate: 'actual %{y}, predicted %{x}: %{z}<extra></extra>'}],
      layout('Confusion matrix on the holdout', {xaxis: axis('predicted', {type: 'category'}),
                                                 yaxis: axis('actual', {type: 'category', autorange: 'reversed'})}));
  }

  function trainDetail(d, i) {
    var metric = D.primary_metric || 'score', best = family(i);
    var pairs = [['status', S.status[i]], [metric + ' (holdout)', S.score[i]], ['baseline ' + metric, S.baseline[i]],
                 ['vs baseline', pct(S.relative[i])], ['beats baseline', S.beats[i]], ['best family', best]];
    Object.keys(S.metrics || {}).forEach(function (m) { if (m !== metric) pairs.push([m, S.metrics[m][i]]); });
    pairs.push(['rows', S.n_rows[i]], ['seconds', S.seconds[i]], ['peak memory MB', S.memory[i]],
               ['scenario id', S.id[i]]);
    facts(d, pairs);
    var grid = el('div', null, 'grid');
    d.appendChild(grid);
    holdoutPlots(grid, i);
    var imp = S.importances[i];
    if (imp) plot(grid, [{type: 'bar', orientation: 'h', x: imp[1].slice().reverse(), marker: {color: '#3b6ea8'},
                          y: imp[0].map(function (c) { return esc(D.features[c]); }).reverse()}],
      layout('Top feature importances', {height: Math.max(260, 60 + 18 * imp[0].length),
                                         margin: {l: 160, r: 20, t: 40, b: 40},
                                         yaxis: axis('', {type: 'category', automargin: true})}));
    else grid.appendChild(el('div', 'No feature importances recorded.', 'panel muted'));
    var side = el('div', null, 'grid');
    d.appendChild(side);
    var lb = el('div', null, 'panel');
    lb.appendChild(el('h3', 'Validation leaderboard'));
    if (S.leaderboard[i]) table(lb, ['family', 'validation ' + metric, 'chosen'], S.leaderboard[i].map(function (r) {
      return [D.families[r[0]], r[1], document.createTextNode(D.families[r[0]] === best ? '✓' : '')];
    }), [0, 1, 0]);
    else lb.appendChild(el('p', 'No leaderboard recorded.', 'muted'));
    side.appendChild(lb);
    var params = el('div', null, 'panel'), p = S.params[i];
    params.appendChild(el('h3', 'Chosen parameters'));
    if (p && typeof p === 'object') {
      table(params, ['parameter', 'value'], Object.keys(p).map(function (k) { return [k, p[k]]; }), [0, 1]);
    }
    else params.appendChild(p ? el('pre', p) : el('p', 'None recorded.', 'muted'));
    var sel = S.selected[i];
    if (sel) {
      var names = sel.map(function (c) { return D.features[c]; }).join(', ');
      params.appendChild(el('p', 'Selected features (' + sel.length + '): ' + names, 'muted'));
    }
    side.appendChild(params);
  }

  function predictDetail(d, i) {
    facts(d, [['rows scored', S.rows[i]], ['rows with an error', S.errors[i]], ['model run', S.model_run[i]]]);
    var grid = el('div', null, 'grid'), F = D.forecast || {}, Hs = D.history || {};
    d.appendChild(grid);
    var pred = slice(F, 'prediction', i, 'forecast') || [], prob = slice(F, 'probability', i, 'forecast');
    var labels = pred.map(function (c) { return c === null ? null : esc((F.labels || [])[c]); });
    var y = D.task !== 'classification' ? pred : prob || labels;
    var x = F.x ? times(F, slice(F, 'x', i, 'forecast')) : pred.map(function (_, j) { return j + 1; });
    var traces = [], hist = slice(Hs, 'actual', i, 'history');
    if (hist && hist.length && Hs.x) {
      traces.push({x: times(Hs, slice(Hs, 'x', i, 'history')), y: hist, name: 'history (actual)', mode: 'lines',
                   line: {color: '#1d2733'}});
    }
    traces.push({x: x, y: y, mode: 'lines+markers', line: {color: '#1a5fb4'},
                 name: D.task === 'classification' && prob ? 'probability' : 'prediction'});
    if (pred.length) plot(grid, traces, layout(F.x ? 'Forecast after the history' : 'Predictions by row',
                                               {xaxis: axis('', {type: F.x ? 'date' : 'linear'})}));
    else grid.appendChild(el('div', 'No rows were scored for this scenario.', 'panel muted'));
  }

  function show(i, scroll) {
    var d = document.getElementById('detail');
    if (window.Plotly) {
      Array.prototype.forEach.call(d.querySelectorAll('.js-plotly-plot'), function (p) { Plotly.purge(p); });
    }
    clear(d);
    d.hidden = false;
    var h = el('h3');
    h.appendChild(badge(S.status ? S.status[i] : (S.errors[i] ? 'error' : 'ok')));
    h.appendChild(document.createTextNode(keyLabel(i)));
    h.id = 'detail-title';
    d.appendChild(h);
    if (S.error && S.error[i]) {
      var kind = S.error_type && S.error_type[i] ? S.error_type[i] + ': ' : '';
      d.appendChild(el('div', kind + S.error[i], 'error'));
    }
    if (S.rejected && S.rejected[i]) {
      d.appendChild(el('div', 'The default forecast shipped: ' + S.rejected[i] + ' validated better but lost ' +
                       'to it on the holdout.', 'panel muted'));
    }
    if (D.kind === 'train') trainDetail(d, i); else predictDetail(d, i);
    draw();
    if (scroll) d.scrollIntoView({block: 'start'});
  }

  function search() {
    var input = document.getElementById('search'), list = document.getElementById('matches');
    var count = document.getElementById('match-count'), index = [];
    input.placeholder = KEYS.map(function (k) { return k + '=…'; }).join(' ') + '  (values, or key=value)';
    for (var i = 0; i < N; i++) {
      var values = KEYS.map(function (k, j) { return String(S.keys[j][i]).toLowerCase(); });
      var pairs = KEYS.map(function (k, j) { return k.toLowerCase() + '=' + values[j]; });
      index.push({values: values, pairs: pairs, text: pairs.join(' ') + ' ' + String(S.id[i]).toLowerCase()});
    }
    var found = [];
    function update() {
      var tokens = input.value.toLowerCase().split(/[\s,;·|]+/).filter(Boolean);
      found = [];
      clear(list);
      if (!tokens.length) { count.textContent = N + ' scenarios: type key values to find one.'; return; }
      index.forEach(function (e, i) {
        var exact = 0;
        for (var t = 0; t < tokens.length; t++) {
          var tok = tokens[t];
          if (e.values.indexOf(tok) >= 0 || e.pairs.indexOf(tok) >= 0) exact++;
          else if (e.text.indexOf(tok) < 0) return;
        }
        found.push([exact, i]);
      });
      found.sort(function (a, b) { return b[0] - a[0] || a[1] - b[1]; });
      count.textContent = found.length + ' matching scenario(s)' + (found.length > 50 ? ', the first 50:' : '');
      found.slice(0, 50).forEach(function (f) {
        var li = el('li');
        li.appendChild(scenarioLink(f[1]));
        list.appendChild(li);
      });
      // Open the detail once the typed text names one scenario: the only match, or the only exact one.
      var full = found.filter(function (f) { return f[0] === tokens.length; });
      if (found.length === 1 || (full.length === 1 && tokens.length >= KEYS.length)) {
        show((full[0] || found[0])[1], false);
      }
    }
    input.addEventListener('input', update);
    input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && found.length) show(found[0][1], false);
    });
    update();
  }

  header();
  figures();
  if (D.kind === 'train') trainTables(); else predictTables();
  search();
  timings.content = performance.now();
  requestAnimationFrame(function () {
    setTimeout(function () {
      loadPlotly();
      Promise.all(pending).then(function () {
        window.reportReady = timings.drawn = performance.now();
        document.body.setAttribute('data-ready', '1');
      }, function (err) { console.error('a plot failed to draw', err); });
    }, 0);
  });
})();
