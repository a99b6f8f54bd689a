import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartHtml, CHROMIUM, panelSvg, writeChartPng, type ChartPanel } from '../../../test/bench/peers/chart.js';
import { histogramTotals, meanMsBetween } from '../../../test/bench/peers/exposition.js';
import { routerBars } from '../../../test/bench/peers/router-bars.js';
import { FigureBook } from '../../../test/bench/report.js';
import { spreadOf } from '../../../test/bench/stats.js';

const EXPOSITION = `# HELP tollbooth_time_to_first_token_seconds Arrival to first content.
# TYPE tollbooth_time_to_first_token_seconds histogram
tollbooth_time_to_first_token_seconds_bucket{le="0.005",model="m",replica="a"} 3
tollbooth_time_to_first_token_seconds_sum{model="m",replica="a"} 0.25
tollbooth_time_to_first_token_seconds_count{model="m",replica="a"} 10
tollbooth_time_to_first_token_seconds_sum{model="m",replica="b"} 0.05
tollbooth_time_to_first_token_seconds_count{model="m",replica="b"} 2
tollbooth_upstream_time_to_first_token_seconds_sum{model="m",replica="a"} 99
tollbooth_upstream_time_to_first_token_seconds_count{model="m",replica="a"} 99
litellm_llm_api_time_to_first_token_metric_sum{model="m"} 1.5
litellm_llm_api_time_to_first_token_metric_count{model="m"} 3
litellm_llm_api_time_to_first_token_metric_created{model="m"} 1.7e9
vllm_router_generate_duration_seconds_sum 0.002
vllm_router_generate_duration_seconds_count 1
`;

describe("a gateway's own TTFT from its exposition", () => {
  it('adds _sum and _count over every series of exactly the named histogram', () => {
    expect(histogramTotals(EXPOSITION, 'tollbooth_time_to_first_token_seconds')).toEqual({ sum: 0.3, count: 12 });
    // _created is a timestamp, not an observation.
    expect(histogramTotals(EXPOSITION, 'litellm_llm_api_time_to_first_token_metric')).toEqual({ sum: 1.5, count: 3 });
    expect(histogramTotals(EXPOSITION, 'vllm_router_generate_duration_seconds')).toEqual({ sum: 0.002, count: 1 });
    expect(histogramTotals(EXPOSITION, 'absent_metric')).toEqual({ sum: 0, count: 0 });
  });

  it('gives the mean in ms of what was observed between two readings, NaN when nothing was', () => {
    expect(meanMsBetween({ sum: 1, count: 10 }, { sum: 1.5, count: 20 })).toBeCloseTo(50, 9);
    expect(meanMsBetween({ sum: 1, count: 10 }, { sum: 1, count: 10 })).toBeNaN();
  });
});

const PANEL: ChartPanel = {
  title: 'CPU per request (µs)',
  better: 'lower',
  bars: [
    { target: 'tollbooth', value: spreadOf([160, 170, 180]) },
    { target: 'nginx', value: spreadOf([12]) },
    { target: 'litellm', value: spreadOf([11_000]) },
  ],
};

describe('the peer chart', () => {
  it('switches to a log scale when positive values span more than 50×, and labels bars with medians', () => {
    const colours = new Map([['tollbooth', '#111111']]);
    const svg = panelSvg(PANEL, colours);
    expect(svg).toContain('lower is better, log scale');
    expect(svg).toContain('>170<');
    expect(svg).toContain('fill="#111111"');
    // The range of a target measured in several rounds is a whisker; one round has none.
    expect(svg.match(/<line /g)).toHaveLength(2);
    const linear = panelSvg({ ...PANEL, bars: [{ target: 'a', value: spreadOf([-2]) }, { target: 'b', value: spreadOf([5]) }] }, colours);
    expect(linear).not.toContain('log scale');
    expect(panelSvg({ ...PANEL, bars: [{ target: 'a', value: spreadOf([]) }] }, colours)).toContain('not measured');
    expect(panelSvg({ ...PANEL, bars: [{ target: 'a', value: spreadOf([0.0034]) }, { target: 'b', value: spreadOf([0.8]) }] }, colours)).toContain('>0.0034<');
  });

  it('escapes text and keeps one colour per target across panels', () => {
    const html = chartHtml('a < b', [PANEL, { ...PANEL, title: 'other' }]);
    expect(html).toContain('a &lt; b');
    const tollboothColours = [...html.matchAll(/<text x="\d+" y="\d+" text-anchor="end">tollbooth<\/text><rect [^>]*fill="(#[0-9a-f]+)"/g)].map((match) => match[1]);
    expect(tollboothColours).toHaveLength(2);
    expect(new Set(tollboothColours).size).toBe(1);
  });

  it('renders a PNG in headless Chromium', { timeout: 60_000 }, async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run bash test/ensure-system-tools.sh`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tollbooth-peers-chart-'));
    try {
      const file = join(dir, 'chart.png');
      await writeChartPng(file, 'peers', [PANEL]);
      const png = readFileSync(file);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      // IHDR width: at least one panel wide.
      expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(440);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("issue 24's bars against vllm-router, with the Node floor beside them", () => {
  // Two rounds; each target's per-round values, in the figures the peer benchmark records.
  const book = new FigureBook(2);
  const put = (id: string, kind: 'time' | 'size', values: Record<string, [number, number]>): void => {
    for (const [target, rounds] of Object.entries(values)) rounds.forEach((value, round) => book.put(id, id, 'x', kind, target, round, value));
  };
  put('nonstream.c32.cpu', 'time', { 'vllm-router': [100, 110], tollbooth: [180, 220], 'node-floor': [90, 121] });
  put('paced.n10.cpustream', 'time', { 'vllm-router': [4, 4], tollbooth: [8, 8], 'node-floor': [6, 7] });
  put('paced.n100.fc99', 'time', { 'vllm-router': [21, 22], tollbooth: [22.5, 22.5], 'node-floor': [21, 30] });
  put('memory.perstream', 'size', { 'vllm-router': [80, 80], tollbooth: [20, 40], 'node-floor': [10, 10] });

  it('judges Tollbooth on paired ratios and differences, and shows the floor on the same ones unjudged', () => {
    const bars = routerBars(book.all(), ['direct', 'tollbooth', 'node-floor', 'vllm-router']);
    expect(bars.gateway.map((outcome) => [outcome.value.median, outcome.pass])).toEqual([
      [1.9, false], // 1.8 and 2.0 per round
      [2, false],
      [1, true], // +1.5 and +0.5 ms
      [30, true],
    ]);
    expect(bars.floor.map((outcome) => outcome.value.median)).toEqual([1, 1.625, 4]);
    expect(bars.text).toContain("MISS  tollbooth CPU per non-streaming request, c=32, ÷ vllm-router's: 1.90 [1.80…2.00] (bar ≤ 1.6)");
    expect(bars.text).toContain("PASS  tollbooth KiB per open stream: 30.00 [20.00…40.00] (bar ≤ 32)");
    expect(bars.text).toContain("node-floor CPU per paced stream, 10 streams, ÷ vllm-router's: 1.63 [1.50…1.75] (above Tollbooth's bar ≤ 1.5)");
    expect(bars.text).toContain("node-floor CPU per non-streaming request, c=32, ÷ vllm-router's: 1.00 [0.900…1.10] (within Tollbooth's bar ≤ 1.6)");
  });

  it('says so when the router was not measured', () => {
    const bars = routerBars(book.all(), ['direct', 'tollbooth', 'node-floor']);
    expect(bars.gateway).toEqual([]);
    expect(bars.floor).toEqual([]);
    expect(bars.text).toContain('not judged');
  });
});
