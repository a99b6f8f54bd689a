// Tollbooth live dashboard. Reads GET /api/v1/metrics/stream (the JSON of /api/v1/metrics as a
// server-sent event once a second), keeps the last 15 minutes of samples in this tab and draws them
// with uPlot. Served as a static file by the gateway; no build step, no other network.
'use strict';

(() => {
  const STREAM_URL = '/api/v1/metrics/stream';
  const HISTORY_SECONDS = 15 * 60;
  /** Rates (requests/s, tokens/s, errors/s) over this many seconds of samples, so a chart is not all noise. */
  const RATE_SECONDS = 5;
  /** Cost per minute over the last minute of samples. */
  const COST_SECONDS = 60;
  /** No event for this long on an open stream: take it as cut and reconnect. */
  const STALL_MS = 5000;
  const RECONNECT_MS = [500, 1000, 2000, 3000];
  const CREDENTIAL_KEY = 'tollbooth.dashboard.credentials';
  const COLORS = ['#4cc9f0', '#f72585', '#ffd166', '#06d6a0', '#b388ff', '#ff8c42', '#90be6d', '#e0e0e0', '#00b4d8', '#ef476f'];
  const AXIS = '#8b949e';
  const GRID = '#222a33';

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------------------------------
  // Formatting

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  function fixed(v, digits) {
    return isNum(v) ? v.toFixed(digits) : '–';
  }
  function seconds(v) {
    if (!isNum(v)) return '–';
    if (v === 0) return '0 s';
    if (v < 1) return `${(v * 1000).toFixed(v < 0.01 ? 2 : v < 0.1 ? 1 : 0)} ms`;
    return `${v.toFixed(v < 10 ? 2 : 1)} s`;
  }
  /** Axis ticks: as short as the tick spacing allows. */
  function secondsTick(v) {
    if (v === 0) return '0';
    if (v < 1) return `${+(v * 1000).toFixed(1)} ms`;
    return `${+v.toFixed(2)} s`;
  }
  function compact(v) {
    if (!isNum(v)) return '–';
    const a = Math.abs(v);
    if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
    if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(2).replace(/\.?0+$/, '') || '0';
  }
  function money(v, currency) {
    if (!isNum(v)) return '–';
    const a = Math.abs(v);
    const digits = a === 0 ? 2 : a < 0.01 ? 5 : a < 1 ? 4 : 2;
    return `${v.toFixed(digits)} ${currency || ''}`.trim();
  }
  function percent(v) {
    return isNum(v) ? `${v.toFixed(v >= 99.95 || v === 0 ? 0 : 1)} %` : '–';
  }
  function duration(totalSeconds) {
    const s = Math.max(0, Math.floor(totalSeconds));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    if (m > 0) return `${m}m ${s % 60}s`;
    return `${s}s`;
  }
  function setText(id, text) {
    const element = $(id);
    if (element.textContent !== text) element.textContent = text;
  }
  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }
  function barCell(share) {
    const td = document.createElement('td');
    td.className = 'share';
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.width = `${Math.max(0, Math.min(100, share * 100)).toFixed(1)}%`;
    td.appendChild(bar);
    return td;
  }
  function emptyRow(tbody, columns, text) {
    const tr = document.createElement('tr');
    const td = cell(text, 'empty');
    td.colSpan = columns;
    tr.appendChild(td);
    tbody.replaceChildren(tr);
  }

  // ------------------------------------------------------------------------------------------
  // Samples: one per event, with the cumulative counters kept so rates come from real deltas.

  /** @type {Array<Record<string, any>>} */
  const samples = [];
  /** Bumped when the gateway's uptime goes backwards (a restart): rates never span two runs. */
  let run = 0;
  let lastUptime = -1;

  function sampleOf(m) {
    if (m.uptime_seconds < lastUptime) run += 1;
    lastUptime = m.uptime_seconds;
    const overall = m.since_start.overall;
    const replicas = {};
    for (const [name, r] of Object.entries(m.replicas)) {
      replicas[name] = {
        inFlight: r.in_flight,
        queue: r.engine.available ? r.engine.waiting : null,
        kv: r.engine.available ? r.engine.kv_cache_usage_percent : null,
        gpu: r.gpu.source === 'none' ? null : r.gpu.utilization_percent,
      };
    }
    const windowHasRequests = m.requests.total > 0;
    return {
      t: Date.parse(m.generated_at) / 1000,
      run,
      requests: overall.requests.total,
      outputTokens: overall.tokens.total_output,
      costNanos: Number(overall.cost.total_nanos),
      errors: { ...overall.errors.by_type },
      success: windowHasRequests ? m.requests.success_rate_percent : null,
      ttft: m.slo.ttft.count > 0 ? [m.slo.ttft.p50, m.slo.ttft.p95, m.slo.ttft.p99] : [null, null, null],
      tpot: m.slo.tpot.count > 0 ? [m.slo.tpot.p50, m.slo.tpot.p95] : [null, null],
      decodeMean: m.slo.throughput.count > 0 ? m.slo.throughput.decoding_mean : null,
      affinity: m.routing.session_requests > 0 ? m.routing.affinity_ratio_percent : null,
      replicas,
    };
  }

  /** The sample about `secondsAgo` before the newest one in the same run (the oldest there is, at least one step back). */
  function baseline(index, secondsAgo) {
    const now = samples[index];
    let base;
    for (let i = index - 1; i >= 0; i--) {
      const candidate = samples[i];
      if (candidate.run !== now.run) break;
      base = candidate;
      if (now.t - candidate.t >= secondsAgo) break;
    }
    return base;
  }
  function rate(index, secondsAgo, read, perSeconds = 1) {
    const base = baseline(index, secondsAgo);
    if (base === undefined) return null;
    const dt = samples[index].t - base.t;
    if (!(dt > 0)) return null;
    const delta = read(samples[index]) - read(base);
    return delta < 0 ? null : (delta / dt) * perSeconds;
  }

  // ------------------------------------------------------------------------------------------
  // Charts

  const charts = {};

  /** A uPlot chart in `[data-chart=name]`, created again when its series change (a replica joins, say). */
  function drawChart(name, series, data, yAxes) {
    const host = document.querySelector(`[data-chart="${name}"]`);
    const key = JSON.stringify(series.map((s) => [s.label, s.scale || 'y']));
    let entry = charts[name];
    if (entry === undefined || entry.key !== key) {
      if (entry !== undefined) entry.plot.destroy();
      const width = Math.max(200, host.clientWidth);
      const plot = new uPlot(
        {
          width,
          height: chartHeight(),
          cursor: { drag: { x: false, y: false }, points: { size: 6 } },
          legend: { live: true },
          scales: Object.fromEntries(yAxes.map((axis) => [axis.scale, axis.range ? { range: axis.range } : { auto: true }])),
          series: [
            { label: 'time', value: (_u, v) => (v == null ? 'now' : new Date(v * 1000).toLocaleTimeString()) },
            ...series.map((s, i) => ({
              label: s.label,
              stroke: s.color,
              width: 2,
              scale: s.scale || 'y',
              dash: s.dash,
              fill: s.fill,
              spanGaps: false,
              points: { show: false },
              // Off the chart the legend shows the newest value rather than a dash.
              value: (u, v, _seriesIndex, dataIndex) => {
                const shown = dataIndex == null ? newest(u.data[i + 1]) : v;
                return shown == null ? '–' : s.format(shown);
              },
            })),
          ],
          axes: [
            { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } },
            ...yAxes.map((axis, i) => ({
              scale: axis.scale,
              side: i === 0 ? 3 : 1,
              stroke: AXIS,
              size: 64,
              grid: { show: i === 0, stroke: GRID, width: 1 },
              ticks: { stroke: GRID, width: 1 },
              values: (_u, ticks) => ticks.map(axis.format),
            })),
          ],
        },
        data,
        host,
      );
      host.dataset.seriesColors = series.map((s) => s.color).join(' ');
      entry = { plot, key };
      charts[name] = entry;
    } else {
      entry.plot.setData(data);
    }
  }

  function newest(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }

  function chartHeight() {
    return window.matchMedia('(max-width: 600px)').matches ? 180 : 210;
  }

  let resizeScheduled = false;
  function resizeCharts() {
    if (resizeScheduled) return;
    resizeScheduled = true;
    requestAnimationFrame(() => {
      resizeScheduled = false;
      for (const [name, entry] of Object.entries(charts)) {
        const host = document.querySelector(`[data-chart="${name}"]`);
        const width = Math.max(200, host.clientWidth);
        if (width !== entry.plot.width || chartHeight() !== entry.plot.height) entry.plot.setSize({ width, height: chartHeight() });
      }
    });
  }
  new ResizeObserver(resizeCharts).observe(document.querySelector('.charts'));

  const yAxis = (scale, format, range) => ({ scale, format, range });
  const percentRange = (_u, min, max) => [0, Math.max(100, max ?? 100)];
  const zeroBased = (_u, min, max) => [0, max > 0 ? max * 1.1 : 1];

  function replicaNames() {
    const names = new Set();
    for (const sample of samples) for (const name of Object.keys(sample.replicas)) names.add(name);
    return [...names].sort();
  }

  function drawCharts() {
    const xs = samples.map((s) => s.t);
    const column = (read) => samples.map((_s, i) => {
      const v = read(samples[i], i);
      return isNum(v) ? v : null;
    });

    drawChart(
      'traffic',
      [
        { label: 'requests/s', color: COLORS[0], format: compact, fill: 'rgba(76, 201, 240, 0.10)' },
        { label: 'success %', color: COLORS[3], format: percent, scale: '%' },
      ],
      [xs, column((_s, i) => rate(i, RATE_SECONDS, (s) => s.requests)), column((s) => s.success)],
      [yAxis('y', compact, zeroBased), yAxis('%', (v) => `${v}%`, percentRange)],
    );

    drawChart(
      'latency',
      [
        { label: 'TTFT p50', color: COLORS[0], format: seconds },
        { label: 'TTFT p95', color: COLORS[2], format: seconds },
        { label: 'TTFT p99', color: COLORS[1], format: seconds },
        { label: 'TPOT p50', color: COLORS[3], format: seconds, scale: 'tpot', dash: [6, 4] },
        { label: 'TPOT p95', color: COLORS[4], format: seconds, scale: 'tpot', dash: [6, 4] },
      ],
      [xs, column((s) => s.ttft[0]), column((s) => s.ttft[1]), column((s) => s.ttft[2]), column((s) => s.tpot[0]), column((s) => s.tpot[1])],
      [yAxis('y', secondsTick, zeroBased), yAxis('tpot', secondsTick, zeroBased)],
    );

    drawChart(
      'decode',
      [
        { label: 'output tokens/s (fleet)', color: COLORS[4], format: compact, fill: 'rgba(179, 136, 255, 0.10)' },
        { label: 'tokens/s per request (mean)', color: COLORS[2], format: compact, scale: 'per' },
      ],
      [xs, column((_s, i) => rate(i, RATE_SECONDS, (s) => s.outputTokens)), column((s) => s.decodeMean)],
      [yAxis('y', compact, zeroBased), yAxis('per', compact, zeroBased)],
    );

    const names = replicaNames();
    drawChart(
      'load',
      names.flatMap((name, i) => [
        { label: `${name} in flight`, color: COLORS[i % COLORS.length], format: compact },
        { label: `${name} queue`, color: COLORS[i % COLORS.length], format: compact, dash: [6, 4] },
      ]),
      [xs, ...names.flatMap((name) => [column((s) => s.replicas[name]?.inFlight), column((s) => s.replicas[name]?.queue)])],
      [yAxis('y', compact, zeroBased)],
    );

    drawChart(
      'memory',
      names.flatMap((name, i) => [
        { label: `${name} KV cache`, color: COLORS[i % COLORS.length], format: percent },
        { label: `${name} GPU mem`, color: COLORS[i % COLORS.length], format: percent, dash: [6, 4] },
      ]),
      [xs, ...names.flatMap((name) => [column((s) => s.replicas[name]?.kv), column((s) => s.replicas[name]?.gpu)])],
      [yAxis('y', (v) => `${v}%`, percentRange)],
    );

    drawChart(
      'cost',
      [{ label: `cost / min (${currency})`, color: COLORS[2], format: (v) => money(v, currency), fill: 'rgba(255, 209, 102, 0.10)' }],
      [xs, column((_s, i) => rate(i, COST_SECONDS, (s) => s.costNanos, 60 / 1e9))],
      [yAxis('y', (v) => compact(v), zeroBased)],
    );

    drawChart(
      'affinity',
      [{ label: 'affinity ratio', color: COLORS[3], format: percent, fill: 'rgba(6, 214, 160, 0.10)' }],
      [xs, column((s) => s.affinity)],
      [yAxis('y', (v) => `${v}%`, percentRange)],
    );

    const errorTypes = [...new Set(samples.flatMap((s) => Object.keys(s.errors)))].sort();
    const errorSeries = errorTypes.length > 0 ? errorTypes : ['errors'];
    drawChart(
      'errors',
      errorSeries.map((type, i) => ({ label: `${type}/s`, color: COLORS[(i + 1) % COLORS.length], format: compact })),
      [xs, ...errorSeries.map((type) => column((_s, i) => rate(i, RATE_SECONDS, (s) => s.errors[type] ?? 0)))],
      [yAxis('y', compact, zeroBased)],
    );
  }

  // ------------------------------------------------------------------------------------------
  // Tiles and tables

  let currency = '';

  function renderFigures(m) {
    const newest = samples.length - 1;
    const status = m.status;
    const statusPill = $('status');
    statusPill.dataset.status = status;
    setText('status', status);

    const rps = rate(newest, RATE_SECONDS, (s) => s.requests);
    setText('kpi-rps', compact(rps ?? m.requests.requests_per_second));
    setText('kpi-requests-total', `${m.since_start.overall.requests.total} since start`);
    setText('kpi-success', m.requests.total > 0 ? percent(m.requests.success_rate_percent) : '–');
    setText('kpi-window', `${m.requests.total} requests in ${duration(m.span_seconds)}`);
    setText('kpi-ttft', m.slo.ttft.count > 0 ? seconds(m.slo.ttft.p95) : '–');
    setText('kpi-ttft-hint', `p50 ${seconds(m.slo.ttft.p50)} · p99 ${seconds(m.slo.ttft.p99)}`);
    setText('kpi-tpot', m.slo.tpot.count > 0 ? seconds(m.slo.tpot.p50) : '–');
    setText('kpi-tpot-hint', `p95 ${seconds(m.slo.tpot.p95)} · p99 ${seconds(m.slo.tpot.p99)}`);
    setText('kpi-decode', compact(rate(newest, RATE_SECONDS, (s) => s.outputTokens) ?? m.slo.throughput.total));
    setText('kpi-decode-hint', `per request ${compact(m.slo.throughput.decoding_mean)}`);
    setText('kpi-load', `${m.requests.running} · ${m.requests.waiting}`);
    setText('kpi-load-hint', `peak ${m.requests.peak_concurrent} in flight`);
    const costPerMinute = rate(newest, COST_SECONDS, (s) => s.costNanos, 60 / 1e9);
    setText('kpi-cost-label', `Cost / min (${currency})`);
    setText('kpi-cost', money(costPerMinute ?? 0, ''));
    setText('kpi-cost-hint', `${money(Number(m.cost.total), currency)} in window`);
    setText('kpi-affinity', m.routing.session_requests > 0 ? percent(m.routing.affinity_ratio_percent) : '–');
    setText('kpi-affinity-hint', `${m.routing.session_requests} keyed requests`);
    setText('kpi-gpu', m.gpu.source === 'none' ? '–' : percent(m.gpu.utilization_percent));
    setText('kpi-gpu-hint', m.gpu.source === 'none' ? 'no GPU source' : `${fixed(m.gpu.allocated_gb, 1)} / ${fixed(m.gpu.total_gb, 1)} GB`);

    renderAlerts(m.alerts);
    renderReplicas(m.replicas);
    renderTenants(m);
    renderErrorTypes(m);
    setText('updated', `updated ${new Date(m.generated_at).toLocaleTimeString()} · up ${duration(m.uptime_seconds)}`);
  }

  function renderAlerts(alerts) {
    const list = $('alerts');
    const card = list.closest('.alerts');
    card.dataset.firing = String(alerts.length > 0);
    setText('alerts-count', String(alerts.length));
    if (alerts.length === 0) {
      const none = document.createElement('li');
      none.className = 'none';
      none.textContent = 'No firing alerts';
      list.replaceChildren(none);
      return;
    }
    list.replaceChildren(
      ...alerts.map((alert) => {
        const item = document.createElement('li');
        item.className = 'alert-item';
        item.dataset.severity = alert.severity;
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = `${alert.severity === 'critical' ? '●' : '▲'} ${alert.name}`;
        const message = document.createElement('span');
        message.className = 'message';
        message.textContent = alert.message;
        const since = document.createElement('span');
        since.className = 'since';
        since.textContent = `since ${new Date(alert.since).toLocaleTimeString()}`;
        item.append(name, message, since);
        return item;
      }),
    );
  }

  function renderReplicas(replicas) {
    const tbody = $('replicas').tBodies[0];
    const names = Object.keys(replicas);
    if (names.length === 0) return emptyRow(tbody, 8, 'No replicas configured');
    tbody.replaceChildren(
      ...names.map((name) => {
        const r = replicas[name];
        const tr = document.createElement('tr');
        const health = cell(r.health, 'health');
        health.dataset.health = r.health;
        const engine = r.engine.available;
        tr.append(
          cell(name),
          health,
          cell(String(r.in_flight), 'num'),
          cell(engine ? String(r.engine.waiting) : '–', 'num'),
          cell(engine ? String(r.engine.running) : '–', 'num'),
          cell(engine ? percent(r.engine.kv_cache_usage_percent) : '–', 'num'),
          cell(engine ? percent(r.engine.prefix_cache_hit_rate_percent) : '–', 'num'),
          cell(r.gpu.source === 'none' ? '–' : `${percent(r.gpu.utilization_percent)} of ${fixed(r.gpu.total_gb, 0)} GB`, 'num'),
        );
        return tr;
      }),
    );
  }

  function renderTenants(m) {
    const tbody = $('tenants').tBodies[0];
    setText('tenant-window', `last ${duration(m.span_seconds)}`);
    const tenants = Object.entries(m.by_tenant).filter(([, t]) => t.requests > 0);
    if (tenants.length === 0) return emptyRow(tbody, 6, 'No requests in the window');
    const totalNanos = tenants.reduce((sum, [, t]) => sum + Number(t.cost.total_nanos), 0);
    const minutes = m.span_seconds / 60;
    tenants.sort((a, b) => Number(b[1].cost.total_nanos) - Number(a[1].cost.total_nanos) || b[1].requests - a[1].requests);
    tbody.replaceChildren(
      ...tenants.map(([name, t]) => {
        const nanos = Number(t.cost.total_nanos);
        const tr = document.createElement('tr');
        tr.append(
          cell(name),
          cell(String(t.requests), 'num'),
          cell(compact(t.tokens.total_input + t.tokens.total_output), 'num'),
          cell(`${t.cost.total} ${t.cost.currency}`, 'num'),
          cell(minutes > 0 ? money(nanos / 1e9 / minutes, t.cost.currency) : '–', 'num'),
          barCell(totalNanos > 0 ? nanos / totalNanos : t.requests / Math.max(1, m.requests.total)),
        );
        return tr;
      }),
    );
  }

  function renderErrorTypes(m) {
    const tbody = $('error-types').tBodies[0];
    setText('errors-window', `last ${duration(m.span_seconds)}`);
    const types = Object.entries(m.errors.by_type).filter(([, count]) => count > 0).sort((a, b) => b[1] - a[1]);
    if (types.length === 0) return emptyRow(tbody, 3, 'No errors in the window');
    tbody.replaceChildren(
      ...types.map(([type, count]) => {
        const tr = document.createElement('tr');
        tr.append(cell(type), cell(String(count), 'num'), barCell(count / Math.max(1, m.errors.total)));
        return tr;
      }),
    );
  }

  function onSnapshot(m) {
    currency = m.cost.currency;
    samples.push(sampleOf(m));
    const oldest = samples[samples.length - 1].t - HISTORY_SECONDS;
    while (samples.length > 0 && samples[0].t < oldest) samples.shift();
    renderFigures(m);
    drawCharts();
  }

  // ------------------------------------------------------------------------------------------
  // The stream: fetch rather than EventSource, so the page can send the metrics credentials and
  // says itself when it is cut and when it reconnects.

  function setConnection(state, text) {
    const pill = $('connection');
    pill.dataset.state = state;
    setText('connection', text);
  }

  function authorization() {
    const stored = sessionStorage.getItem(CREDENTIAL_KEY);
    if (!stored) return {};
    return { authorization: stored.includes(':') ? `Basic ${btoa(stored)}` : `Bearer ${stored}` };
  }

  $('credentials').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(CREDENTIAL_KEY, $('credential-input').value);
    $('credentials').hidden = true;
    connect();
  });

  let attempt = 0;
  let connecting = false;

  async function connect() {
    if (connecting) return;
    connecting = true;
    const controller = new AbortController();
    let watchdog;
    const feed = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), STALL_MS);
    };
    let unauthorized = false;
    try {
      setConnection(attempt === 0 ? 'connecting' : 'reconnecting', attempt === 0 ? 'connecting…' : 'reconnecting…');
      feed();
      const response = await fetch(STREAM_URL, { headers: authorization(), cache: 'no-store', signal: controller.signal });
      unauthorized = response.status === 401;
      if (unauthorized) throw new Error('credentials needed');
      if (!response.ok || response.body === null) throw new Error(`stream answered ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed();
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
            .join('\n');
          if (data === '') continue;
          attempt = 0;
          setConnection('live', 'live');
          onSnapshot(JSON.parse(data));
        }
      }
    } catch {
      // Cut, refused, stalled or unauthorized: said below.
    } finally {
      clearTimeout(watchdog);
      connecting = false;
    }
    if (unauthorized) {
      sessionStorage.removeItem(CREDENTIAL_KEY);
      setConnection('unauthorized', 'credentials needed');
      $('credentials').hidden = false;
      return;
    }
    const delay = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)];
    attempt += 1;
    setConnection('reconnecting', `disconnected · reconnecting in ${Math.round(delay / 100) / 10} s`);
    setTimeout(connect, delay);
  }

  connect();
})();
