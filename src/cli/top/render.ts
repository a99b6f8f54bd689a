import type { Alert, MetricsApiResponse, ReplicaNow, Statistics } from '../../telemetry/stats/snapshot.js';
import { formatAge, formatCount, formatGb, formatPercent, formatRate, formatSeconds, MISSING } from './format.js';
import { cell, fit, lineWidth, seg, serialize, type Line, type Segment, type Style } from './styled-text.js';

/**
 * The screen of `tollbooth top` as a pure function: what was last read from GET /api/v1/metrics
 * (and whether the last read failed), a width and optionally a height → the lines to print, each
 * exactly `width` columns wide. No clock, no I/O: src/cli/top/run.ts feeds it.
 */
export interface TopView {
  /** The gateway URL as given (without credentials), shown in the title. */
  readonly url: string;
  /** Wall-clock text for the title (the caller's time zone), e.g. "12:01:02". */
  readonly clock: string;
  readonly nowMs: number;
  /** The last snapshot read successfully; undefined before the first. */
  readonly snapshot: MetricsApiResponse | undefined;
  /** When that snapshot was read (same clock as nowMs). */
  readonly readAtMs: number | undefined;
  /** Why the last read failed; undefined when it succeeded (or none finished yet). */
  readonly problem: string | undefined;
  /** The concurrency bar's scale (--max-concurrency); undefined: the window's peak. */
  readonly maxConcurrency: number | undefined;
  /** Time between reads; 0 for a single frame (--once), which promises no retry. */
  readonly intervalMs: number;
}

export interface RenderOptions {
  readonly width: number;
  /** The terminal's rows: long replica and alert lists are cut to fit ("… N more"). */
  readonly height?: number | undefined;
  readonly color: boolean;
}

/** The reference's targets (REFERENCES.md): TTFT p95 < 1 s (its alert at 3 s), GPU memory < 90 %, success > 99 %. */
const TTFT_P95_TARGET_S = 1;
const TTFT_P95_ALERT_S = 3;
const GPU_MEMORY_TARGET_PERCENT = 90;
const SUCCESS_TARGET_PERCENT = 99;

const LABEL_WIDTH = 12;
const MAX_BAR = 50;

export function renderTop(view: TopView, options: RenderOptions): string[] {
  return layoutTop(view, options.width, options.height).map((line) => serialize(line, options.color));
}

/** The styled lines, before colour is decided. */
function layoutTop(view: TopView, width: number, height?: number): Line[] {
  const inner = Math.max(1, width - 4);
  const body = (content: Line): Line => [seg('│ ', 'border'), ...fit(content, inner), seg(' │', 'border')];
  const top = rule('┌', '┐', [seg('Tollbooth', 'title'), seg(' '), seg(view.url, 'dim')], [seg(view.clock, 'plain')], width);
  const refreshing = view.intervalMs > 0;
  const bottom = refreshing ? rule('└', '┘', [seg('q', 'title'), seg(' quit', 'dim')], [seg(`every ${formatInterval(view.intervalMs)}`, 'dim')], width) : rule('└', '┘', [], [], width);

  const head: Line[] = [top, ...statusLines(view).map(body)];
  const snapshot = view.snapshot;
  if (snapshot === undefined) {
    const waiting = view.problem === undefined ? `connecting to ${view.url}…` : refreshing ? `no answer yet; retrying every ${formatInterval(view.intervalMs)}` : 'no answer';
    return [...head, body([seg(waiting, 'dim')]), bottom];
  }
  head.push(
    body(requestLine(snapshot)),
    body(concurrencyLine(snapshot, view.maxConcurrency, inner)),
    body(ttftLine(snapshot)),
    body(throughputLine(snapshot)),
    body(gpuLine(snapshot, inner)),
  );

  const replicaNames = Object.keys(snapshot.replicas);
  const alerts = snapshot.alerts;
  const table = replicaColumns(inner);
  const replicaRows = replicaNames.map((name) => replicaRow(name, snapshot.replicas[name]!, snapshot.by_replica[name], table));
  const alertRows = alerts.map((alert) => alertRow(alert, view.nowMs));
  if (replicaRows.length === 0) replicaRows.push([seg('no replicas configured', 'dim')]);
  if (alertRows.length === 0) alertRows.push([seg('none firing', 'dim')]);

  // Rows left for the two lists once the fixed lines are drawn: two separators, the table header, the bottom.
  const room = height === undefined ? Infinity : height - head.length - 4;
  const [replicaRoom, alertRoom] = share(room, replicaRows.length, alertRows.length);
  const lines: Line[] = [
    ...head,
    rule('├', '┤', [seg('Replicas', 'title'), seg(` (${replicaNames.length})`, 'dim')], [], width),
    body(tableHeader(table)),
    ...cut(replicaRows, replicaRoom, 'replicas').map(body),
    rule('├', '┤', [seg('Alerts', 'title'), seg(` (${alerts.length} firing)`, alerts.length > 0 ? severityStyle(snapshot.status) : 'dim')], [], width),
    ...cut(alertRows, alertRoom, 'alerts').map(body),
    bottom,
  ];
  // A terminal too short even for the fixed lines: keep the top and the closing border.
  return height !== undefined && lines.length > height ? [...lines.slice(0, Math.max(0, height - 1)), bottom] : lines;
}

/** Splits `room` rows between the replica and alert lists: each gets at least one; alerts up to half unless replicas leave more. */
function share(room: number, replicas: number, alerts: number): [number, number] {
  if (replicas + alerts <= room) return [replicas, alerts];
  let alertRoom = Math.min(alerts, Math.max(1, Math.floor(room / 2)));
  const replicaRoom = Math.max(1, room - alertRoom);
  if (replicas < replicaRoom) alertRoom = Math.min(alerts, room - replicas);
  return [Math.min(replicas, replicaRoom), Math.max(1, alertRoom)];
}

function cut(rows: Line[], room: number, what: string): Line[] {
  if (rows.length <= room) return rows;
  const kept = Math.max(0, room - 1);
  return [...rows.slice(0, kept), [seg(`… ${rows.length - kept} more ${what}`, 'dim')]];
}

/** ┌─ title ───── right ─┐, exactly `width` wide (the title is cut first); either title may be empty. */
function rule(left: string, right: string, title: Line, rightTitle: Line, width: number): Line {
  const rightPart: Line = rightTitle.length === 0 ? [] : [seg(' '), ...rightTitle, seg(' ─', 'border')];
  const rightWidth = lineWidth(rightPart);
  // left, "─", " title ", at least one "─", the right part, right.
  const titleRoom = Math.max(0, width - 3 - rightWidth - 3);
  const titleShown = trimEnd(fit(title, titleRoom));
  const titlePart: Line = titleShown.length === 0 ? [] : [seg(' '), ...titleShown, seg(' ')];
  const fill = Math.max(0, width - 2 - lineWidth(titlePart) - rightWidth - 1);
  return fit([seg(`${left}─`, 'border'), ...titlePart, seg('─'.repeat(fill), 'border'), ...rightPart, seg(right, 'border')], width);
}

function trimEnd(line: Line): Segment[] {
  const out = [...line];
  while (out.length > 0 && out[out.length - 1]!.text.trim() === '') out.pop();
  if (out.length > 0) {
    const last = out[out.length - 1]!;
    out[out.length - 1] = seg(last.text.trimEnd(), last.style);
  }
  return out;
}

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

function label(text: string): Segment {
  return cell(text, LABEL_WIDTH, 'label');
}

function severityStyle(status: string): Style {
  return status === 'critical' ? 'alarm' : status === 'warning' ? 'warn' : 'ok';
}

function statusLines(view: TopView): Line[] {
  const snapshot = view.snapshot;
  if (view.problem !== undefined) {
    const lines: Line[] = [[label('Status'), seg('● UNREACHABLE', 'alarm'), seg('  '), seg(view.problem, 'bad')]];
    if (snapshot !== undefined && view.readAtMs !== undefined) {
      const retrying = view.intervalMs > 0 ? `retrying every ${formatInterval(view.intervalMs)}; ` : '';
      lines.push([label(''), seg(`${retrying}figures below are ${formatAge(view.nowMs - view.readAtMs)} old`, 'dim')]);
    }
    return lines;
  }
  if (snapshot === undefined) return [[label('Status'), seg('…', 'dim')]];
  return [
    [
      label('Status'),
      seg(`● ${String(snapshot.status).toUpperCase()}`, severityStyle(snapshot.status)),
      seg(`   up ${formatAge(snapshot.uptime_seconds * 1000)}`, 'dim'),
      seg(`   window ${formatAge(snapshot.window_seconds * 1000)}`, 'dim'),
    ],
  ];
}

function figure(name: string, value: string, style: Style = 'value'): Segment[] {
  return [seg(`${name} `, 'dim'), seg(value, value === MISSING ? 'dim' : style), seg('  ')];
}

function requestLine(snapshot: MetricsApiResponse): Line {
  const requests = snapshot.requests;
  const success = requests.total === 0 ? MISSING : formatPercent(requests.success_rate_percent);
  const successStyle: Style = requests.success_rate_percent >= SUCCESS_TARGET_PERCENT ? 'ok' : requests.success_rate_percent >= 90 ? 'warn' : 'bad';
  return [
    label('Requests'),
    ...figure('waiting', formatCount(requests.waiting), requests.waiting > 0 ? 'warn' : 'value'),
    ...figure('running', formatCount(requests.running)),
    ...figure('total', formatCount(requests.total)),
    ...figure('req/s', formatRate(requests.requests_per_second)),
    ...figure('success', success, successStyle),
  ];
}

function concurrencyLine(snapshot: MetricsApiResponse, maxConcurrency: number | undefined, inner: number): Line {
  const used = snapshot.requests.running;
  // The window's peak was counted before this instant's figure: the bar never shows more than full by its own scale.
  const scale = maxConcurrency ?? Math.max(snapshot.requests.peak_concurrent, used);
  const suffix = ` ${formatCount(used)} / ${formatCount(scale)} ${maxConcurrency === undefined ? 'peak' : 'max'}`;
  const barWidth = Math.min(MAX_BAR, Math.max(5, inner - LABEL_WIDTH - suffix.length - 2));
  const fraction = scale > 0 ? used / scale : 0;
  // Against the peak a full bar is ordinary (it is full whenever the load is at its high); only a real maximum warns.
  const style: Style = maxConcurrency === undefined ? 'label' : fraction >= 1 ? 'bad' : fraction >= 0.8 ? 'warn' : 'ok';
  return [label('Concurrency'), ...bar(fraction, barWidth, style), seg(suffix, 'value')];
}

/** [█████▍░░░░]: eighths of a cell for the fraction (clamped to 0–1), `width` cells inside the brackets. */
function bar(fraction: number, width: number, style: Style): Segment[] {
  const eighths = Math.round(Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)) * width * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  const filled = '█'.repeat(full) + (part > 0 ? ' ▏▎▍▌▋▊▉'[part]! : '');
  return [seg('[', 'dim'), seg(filled, style), seg('░'.repeat(width - Array.from(filled).length), 'barEmpty'), seg(']', 'dim')];
}

function ttftLine(snapshot: MetricsApiResponse): Line {
  const ttft = snapshot.slo.ttft;
  const measured = ttft.count > 0;
  const shown = (value: number | undefined): string => (measured ? formatSeconds(value) : MISSING);
  const p95Style: Style = !measured ? 'value' : ttft.p95 >= TTFT_P95_ALERT_S ? 'bad' : ttft.p95 >= TTFT_P95_TARGET_S ? 'warn' : 'ok';
  return [
    label('TTFT'),
    ...figure('mean', shown(ttft.mean)),
    ...figure('p50', shown(ttft.p50)),
    ...figure('p95', shown(ttft.p95), p95Style),
    ...figure('p99', shown(ttft.p99)),
    seg(`n=${formatCount(ttft.count)}`, 'dim'),
  ];
}

function throughputLine(snapshot: MetricsApiResponse): Line {
  const throughput = snapshot.slo.throughput;
  const measured = throughput.count > 0;
  const decode = (value: number | undefined): string => (measured ? `${formatRate(value)} tok/s` : MISSING);
  return [
    label('Throughput'),
    ...figure('decode mean', decode(throughput.decoding_mean)),
    ...figure('p50', decode(throughput.decoding_p50)),
    ...figure('total', `${formatRate(throughput.total)} tok/s`),
  ];
}

function gpuLine(snapshot: MetricsApiResponse, inner: number): Line {
  const gpu = snapshot.gpu;
  if (gpu.source !== 'dcgm') return [label('GPU memory'), seg('none: no replica’s gpuMetricsUrl answered recently', 'dim')];
  const percent = gpu.utilization_percent;
  const style: Style = percent >= GPU_MEMORY_TARGET_PERCENT ? 'bad' : percent >= 0.8 * GPU_MEMORY_TARGET_PERCENT ? 'warn' : 'ok';
  const barWidth = Math.min(20, Math.max(5, inner - LABEL_WIDTH - 50));
  return [
    label('GPU memory'),
    ...bar(percent / 100, barWidth, style),
    seg(` ${formatPercent(percent)}`, style),
    seg(`  ${formatGb(gpu.allocated_gb)} / ${formatGb(gpu.total_gb)} GB`, 'value'),
    seg(`  ${gpu.gpu_count}× ${gpu.name ?? 'GPU'}`, 'dim'),
  ];
}

// ---------------------------------------------------------------------------------------------
// The replica table: the columns that fit the width, the name column takes what is left.

interface Column {
  readonly title: string;
  readonly width: number;
  readonly align: 'left' | 'right';
  /** The smallest inner width that shows this column. */
  readonly from: number;
  /** The cell: a text and its style (aligned in the column), or segments exactly `width` wide. */
  readonly value: (replica: ReplicaNow, window: Statistics | undefined, width: number) => { text: string; style: Style } | Segment[];
}

const NAME_MIN = 6;
const GAP = 2;

const COLUMNS: readonly Column[] = [
  { title: 'health', width: 9, align: 'left', from: 0, value: (r) => ({ text: r.health, style: r.health === 'healthy' ? 'ok' : r.health === 'unhealthy' ? 'bad' : 'warn' }) },
  { title: 'in-flight', width: 9, align: 'right', from: 0, value: (r) => ({ text: formatCount(r.in_flight), style: 'value' }) },
  { title: 'queue', width: 5, align: 'right', from: 0, value: (r) => engineFigure(r, formatCount(r.engine.waiting), r.engine.waiting > 0 ? 'warn' : 'value') },
  { title: 'running', width: 7, align: 'right', from: 96, value: (r) => engineFigure(r, formatCount(r.engine.running), 'value') },
  {
    title: 'KV cache',
    width: 15,
    align: 'left',
    from: 0,
    value: (r, _w, width) => {
      if (!r.engine.available) return { text: MISSING, style: 'dim' };
      const percent = r.engine.kv_cache_usage_percent;
      const style: Style = percent >= 90 ? 'bad' : percent >= 70 ? 'warn' : 'ok';
      return [...bar(percent / 100, 6, style), cell(formatPercent(percent), width - 8, style, 'right')];
    },
  },
  { title: 'prefix hit', width: 10, align: 'right', from: 96, value: (r) => engineFigure(r, formatPercent(r.engine.prefix_cache_hit_rate_percent), 'value') },
  {
    title: 'GPU memory',
    width: 13,
    align: 'right',
    from: 0,
    value: (r) =>
      r.gpu.source !== 'dcgm'
        ? { text: MISSING, style: 'dim' }
        : { text: `${formatGb(r.gpu.allocated_gb)}/${formatGb(r.gpu.total_gb)} GB`, style: r.gpu.utilization_percent >= GPU_MEMORY_TARGET_PERCENT ? 'bad' : 'value' },
  },
  { title: 'req/s', width: 7, align: 'right', from: 116, value: (_r, w) => ({ text: formatRate(w?.requests.requests_per_second), style: 'value' }) },
  {
    title: 'TTFT p95',
    width: 9,
    align: 'right',
    from: 116,
    value: (_r, w) => ({ text: w !== undefined && w.slo.ttft.count > 0 ? formatSeconds(w.slo.ttft.p95) : MISSING, style: 'value' }),
  },
];

interface Table {
  readonly nameWidth: number;
  readonly columns: readonly Column[];
}

function replicaColumns(inner: number): Table {
  const columns = COLUMNS.filter((column) => inner >= column.from);
  const used = columns.reduce((sum, column) => sum + column.width + GAP, 0);
  return { nameWidth: Math.max(NAME_MIN, inner - used), columns };
}

/** An engine figure, or "–" while the engine's figures are unknown or stale. */
function engineFigure(replica: ReplicaNow, text: string, style: Style): { text: string; style: Style } {
  return replica.engine.available ? { text, style } : { text: MISSING, style: 'dim' };
}

function columnCell(column: Column, replica: ReplicaNow, window: Statistics | undefined): Segment[] {
  const value = column.value(replica, window, column.width);
  return Array.isArray(value) ? value : [cell(value.text, column.width, value.style, column.align)];
}

function tableHeader(table: Table): Line {
  return [cell('replica', table.nameWidth, 'label'), ...table.columns.flatMap((column) => [seg(' '.repeat(GAP)), cell(column.title, column.width, 'label', column.align)])];
}

function replicaRow(name: string, replica: ReplicaNow, window: Statistics | undefined, table: Table): Line {
  return [cell(name, table.nameWidth, 'value'), ...table.columns.flatMap((column) => [seg(' '.repeat(GAP)), ...columnCell(column, replica, window)])];
}

function alertRow(alert: Alert, nowMs: number): Line {
  const since = Date.parse(alert.since);
  return [
    seg(alert.severity === 'critical' ? '● CRITICAL ' : '● WARNING  ', alert.severity === 'critical' ? 'bad' : 'warn'),
    seg(`${alert.name} `, 'value'),
    seg(Number.isFinite(since) ? `for ${formatAge(nowMs - since)}  ` : '', 'dim'),
    seg(alert.message, 'plain'),
  ];
}
