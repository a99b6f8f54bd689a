import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAge, formatCount, formatPercent, formatRate, formatSeconds } from '../../../src/cli/top/format.js';
import { renderTop, type TopView } from '../../../src/cli/top/render.js';
import { columns } from '../../../src/cli/top/styled-text.js';
import type { Alert } from '../../../src/telemetry/stats/snapshot.js';
import { busySnapshot, FIRING, idleSnapshot, NOW, replicaInput, viewOf } from './top-fixtures.js';

const SGR = /\u001b\[[0-9;]*m/g;

function plain(view: TopView, width = 80, height: number | 'unbounded' = 24): string[] {
  return renderTop(view, { width, height: height === 'unbounded' ? undefined : height, color: false });
}

/** The box: ┌…┐ first, └…┘ last, every other line starts with │ or ├ and ends with │ or ┤, each exactly `width` wide. */
function expectBox(lines: string[], width: number): void {
  for (const line of lines) expect(columns(line), line).toBe(width);
  expect(lines[0]!.startsWith('┌─')).toBe(true);
  expect(lines[0]!.endsWith('┐')).toBe(true);
  expect(lines.at(-1)!.startsWith('└─')).toBe(true);
  expect(lines.at(-1)!.endsWith('┘')).toBe(true);
  for (const line of lines.slice(1, -1)) {
    expect(line[0] === '│' || line[0] === '├', line).toBe(true);
    expect(line.endsWith('│') || line.endsWith('┤'), line).toBe(true);
  }
}

/** The row of the box whose label is `label`, without the borders. */
function row(lines: string[], label: string): string {
  const found = lines.find((line) => line.startsWith(`│ ${label}`));
  if (found === undefined) throw new Error(`no row ${label} in\n${lines.join('\n')}`);
  return found.slice(2, -2);
}

describe('tollbooth top: the renderer', () => {
  it('draws a closed box exactly 80 columns wide that fits 24 rows', () => {
    const lines = plain(viewOf(busySnapshot(undefined, [FIRING])));
    expectBox(lines, 80);
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(lines[0]).toContain('http://127.0.0.1:8081/api/v1/metrics');
    expect(lines[0]).toContain('12:00:05');
    expect(lines.at(-1)).toContain('q quit');
    expect(lines.at(-1)).toContain('every 1s');
  });

  it('shows the snapshot’s figures, formatted with their units', () => {
    const snapshot = busySnapshot();
    const lines = plain(viewOf(snapshot));
    const { requests, slo } = snapshot;
    expect(requests).toMatchObject({ total: 120, failed: 3, waiting: 4, running: 11 });
    expect(row(lines, 'Requests')).toMatch(/waiting 4 +running 11 +total 120 +req\/s 1\.0 +success 97\.5%/);
    expect(row(lines, 'TTFT')).toContain(
      `mean ${formatSeconds(slo.ttft.mean)}  p50 ${formatSeconds(slo.ttft.p50)}  p95 ${formatSeconds(slo.ttft.p95)}  p99 ${formatSeconds(slo.ttft.p99)}  n=117`,
    );
    expect(formatSeconds(slo.ttft.p95)).toMatch(/^1[45]\dms$/); // TTFTs of 40–158 ms
    expect(row(lines, 'Throughput')).toContain(`decode mean 40.0 tok/s  p50 ${formatRate(slo.throughput.decoding_p50)} tok/s  total ${formatRate(slo.throughput.total)} tok/s`);
    expect(row(lines, 'GPU memory')).toContain('66.7%  30.0 / 45.0 GB  2× NVIDIA L4');
    expect(row(lines, 'Status')).toContain('● OK');
    expect(row(lines, 'Status')).toContain('up 2m05s');
    const replica = row(lines, 'sim-1');
    expect(replica).toMatch(/^sim-1 +healthy +7 +2 +\[██▊░░░\] +45\.5% +15\.0\/22\.5 GB$/);
  });

  it('draws the concurrency bar as running over the window’s peak, or over --max-concurrency', () => {
    const snapshot = busySnapshot([replicaInput('sim-0', { inFlight: 3 })]);
    const byPeak = row(plain(viewOf(snapshot)), 'Concurrency');
    expect(byPeak).toMatch(/\[█+░*\] 3 \/ 3 peak/); // no load was recorded at the gateway: the peak is what runs now
    const byMax = row(plain(viewOf(snapshot, { maxConcurrency: 12 })), 'Concurrency');
    const inside = /\[([█▏▎▍▌▋▊▉░]+)\]/.exec(byMax)![1]!;
    expect(byMax).toContain(' 3 / 12 max');
    // A quarter of the bar is filled.
    expect(inside.split('').filter((c) => c === '█').length).toBe(Math.floor(inside.length / 4));
  });

  it('shows an idle gateway with dashes for figures measured over nothing, and no GPU source', () => {
    const lines = plain(viewOf(idleSnapshot()));
    expectBox(lines, 80);
    expect(row(lines, 'Requests')).toMatch(/waiting 0 +running 0 +total 0 +req\/s 0\.0 +success –/);
    expect(row(lines, 'Concurrency')).toMatch(/\[░+\] 0 \/ 0 peak/);
    expect(row(lines, 'TTFT')).toMatch(/mean – +p50 – +p95 – +p99 – +n=0/);
    expect(row(lines, 'Throughput')).toMatch(/decode mean – +p50 – +total 0\.0 tok\/s/);
    expect(row(lines, 'GPU memory')).toContain('none: no replica’s gpuMetricsUrl answered recently');
    expect(row(lines, 'sim-0')).toMatch(/^sim-0 +unknown +0 +– +– +–$/);
    expect(lines.join('\n')).toContain('│ none firing');
  });

  it('lists the firing alerts with severity, name, age and message, and the status they make', () => {
    const warning: Alert = { name: 'QueueTooLong', severity: 'warning', message: 'Requests waiting in the engine queues: requests.waiting = 7 (> 5 for 60 s)', since: new Date(NOW - 5_000).toISOString() };
    const lines = plain(viewOf(busySnapshot(undefined, [FIRING, warning])));
    expectBox(lines, 80);
    expect(row(lines, 'Status')).toContain('● CRITICAL');
    expect(lines).toContain('├─ Alerts (2 firing) ──────────────────────────────────────────────────────────┤');
    expect(row(lines, '● CRITICAL')).toMatch(/^● CRITICAL ErrorRateTooHigh for 1m12s  Error rate \(%\): requests\.error_rate_…$/);
    expect(row(lines, '● WARNING')).toMatch(/^● WARNING  QueueTooLong for 5s  Requests waiting/);
  });

  it('cuts long replica and alert lists to the terminal’s height, saying how many are left out', () => {
    const replicas = Array.from({ length: 30 }, (_, i) => replicaInput(`replica-${String(i).padStart(2, '0')}`));
    const alerts = Array.from({ length: 8 }, (_, i) => ({ ...FIRING, name: `Alert${i}` }));
    const lines = plain(viewOf(busySnapshot(replicas, alerts)));
    expectBox(lines, 80);
    expect(lines).toHaveLength(24);
    expect(lines.join('\n')).toContain('├─ Replicas (30)');
    // 24 rows less 11 fixed ones leave 13: alerts take up to half (6), replicas the rest (7), each with its "… more" line.
    expect(lines.filter((line) => line.startsWith('│ replica-'))).toHaveLength(6);
    expect(lines.join('\n')).toMatch(/│ … 24 more replicas +│/);
    expect(lines.filter((line) => line.startsWith('│ ● CRITICAL'))).toHaveLength(5);
    expect(lines.join('\n')).toMatch(/│ … 3 more alerts +│/);

    // Without a height (a pipe), everything.
    const all = plain(viewOf(busySnapshot(replicas, alerts)), 80, 'unbounded');
    expect(all.filter((line) => line.startsWith('│ replica-'))).toHaveLength(30);
    expect(all.filter((line) => line.startsWith('│ ● CRITICAL'))).toHaveLength(8);

    // Few alerts leave their rows to the replicas.
    const oneAlert = plain(viewOf(busySnapshot(replicas, [FIRING])));
    expect(oneAlert).toHaveLength(24);
    expect(oneAlert.filter((line) => line.startsWith('│ replica-'))).toHaveLength(11);
    expect(oneAlert.join('\n')).toMatch(/│ … 19 more replicas +│/);
  });

  it('adds per-replica columns on wider terminals', () => {
    const at80 = plain(viewOf(busySnapshot()), 80);
    const at130 = plain(viewOf(busySnapshot()), 130);
    expectBox(at130, 130);
    const header80 = row(at80, 'replica');
    const header130 = row(at130, 'replica');
    expect(header80).not.toContain('prefix hit');
    for (const title of ['running', 'prefix hit', 'req/s', 'TTFT p95']) expect(header130).toContain(title);
    expect(row(at130, 'sim-0')).toMatch(/ 40\.0% +15\.0\/22\.5 GB +0\.5 +1\d\dms$/);
  });

  it('keeps the box exact at any width and height, in colour and without', () => {
    const snapshot = busySnapshot(Array.from({ length: 7 }, (_, i) => replicaInput(`r${i}`)), [FIRING]);
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 300 }), fc.integer({ min: 16, max: 80 }), (width, height) => {
        const bare = plain(viewOf(snapshot), width, height);
        expectBox(bare, width);
        expect(bare.length).toBeLessThanOrEqual(height);
        const colored = renderTop(viewOf(snapshot), { width, height, color: true });
        expect(colored.map((line) => line.replace(SGR, ''))).toEqual(bare);
      }),
      { numRuns: 60 },
    );
  });

  it('writes escape codes only when asked for colour', () => {
    const view = viewOf(busySnapshot(undefined, [FIRING]));
    expect(plain(view).join('')).not.toContain('\u001b');
    const colored = renderTop(view, { width: 80, height: 24, color: true }).join('\n');
    expect(colored).toContain('\u001b[1;37;41m● CRITICAL\u001b[0m');
    expect(colored).toContain('\u001b[32mhealthy  \u001b[0m');
  });

  it('neutralises control characters in names and messages from the gateway', () => {
    const evil = replicaInput('evil\u001b[2Jname');
    const lines = plain(viewOf(busySnapshot([evil], [{ ...FIRING, message: 'line\nbreak\u0007' }])));
    expectBox(lines, 80);
    expect(lines.join('')).not.toMatch(/[\u0000-\u0008\u000a-\u001f]/);
    expect(lines.join('\n')).toContain('evil [2Jname');
  });

  it('says when the gateway cannot be read: before any answer, and over the last figures it had', () => {
    const never = plain(viewOf(undefined, { problem: 'connect ECONNREFUSED 127.0.0.1:8081' }));
    expectBox(never, 80);
    expect(never).toHaveLength(4);
    expect(row(never, 'Status')).toMatch(/^Status +● UNREACHABLE  connect ECONNREFUSED 127\.0\.0\.1:8081 +$/);
    expect(never[2]).toMatch(/│ no answer yet; retrying every 1s +│/);

    const stale = plain(viewOf(busySnapshot(), { problem: 'no answer within 5s', readAtMs: NOW - 42_000 }));
    expectBox(stale, 80);
    expect(stale[1]).toContain('● UNREACHABLE  no answer within 5s');
    expect(stale[2]).toMatch(/^│ +retrying every 1s; figures below are 42s old +│$/);
    expect(row(stale, 'Requests')).toContain('total 120');

    const connecting = plain(viewOf(undefined));
    expect(connecting[2]).toContain('connecting to http://127.0.0.1:8081/api/v1/metrics…');

    const once = plain(viewOf(undefined, { problem: 'HTTP 404 from x', intervalMs: 0 }));
    expect(once.join('\n')).not.toContain('retrying');
    expect(once.join('\n')).not.toContain('q quit');
    expect(once.at(-1)).toBe(`└${'─'.repeat(78)}┘`);
  });
});

describe('tollbooth top: number formats', () => {
  it('writes durations in ms below a second and in seconds above', () => {
    expect([0.0004, 0.0042, 0.0421, 0.9994, 0.9996, 1.234, 12.34, 123.4].map(formatSeconds)).toEqual([
      '0.4ms', '4.2ms', '42ms', '999ms', '1.00s', '1.23s', '12.3s', '123s',
    ]);
    expect(formatSeconds(undefined)).toBe('–');
    expect(formatSeconds(Number.NaN)).toBe('–');
  });

  it('groups counts, shortens rates and percentages, and writes ages in two units', () => {
    expect(formatCount(1_234_567.4)).toBe('1,234,567');
    expect([0, 45.64, 99.94, 99.96, 1234.4].map(formatRate)).toEqual(['0.0', '45.6', '99.9', '100', '1,234']);
    expect([0, 97.5, 99.96, 100].map(formatPercent)).toEqual(['0.0%', '97.5%', '99.9%', '100%']);
    expect([0, 59_999, 185_000, 3_723_000, 183_600_000].map(formatAge)).toEqual(['0s', '59s', '3m05s', '1h02m', '2d03h']);
  });
});
