/**
 * The peer benchmark's chart: one small panel per figure, one horizontal bar per target (the
 * median over rounds, a whisker for the range), drawn as SVG in a page and screenshotted by
 * headless Chromium (playwright-core with Debian's chromium) to a PNG.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Spread } from '../stats.js';

export interface ChartPanel {
  readonly title: string;
  /** Whether more is better (shown in the title, so a reader knows which way to look). */
  readonly better: 'higher' | 'lower';
  readonly bars: readonly { readonly target: string; readonly value: Spread }[];
}

export const CHROMIUM = '/usr/bin/chromium';
const PANEL_WIDTH = 440;
const LABEL_WIDTH = 140;
const BAR_HEIGHT = 18;
const BAR_GAP = 6;
const PALETTE = ['#7f8c8d', '#2e86de', '#e67e22', '#27ae60', '#16a085', '#8e44ad', '#c0392b', '#34495e'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function label(value: number): string {
  if (Number.isNaN(value)) return 'not measured';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  // Two significant digits below 1: LiteLLM keeps 0.003 of direct's throughput, not 0.00.
  return magnitude >= 1 ? value.toFixed(2) : Number(value.toPrecision(2)).toString();
}

/**
 * A log scale when every value is positive and they span more than 50×: a Python proxy can cost a
 * hundred times what the others do, and on a linear scale their bars would vanish.
 */
function scaleOf(values: readonly number[]): { kind: 'linear' | 'log'; at: (value: number) => number } {
  const finite = values.filter((value) => Number.isFinite(value));
  const max = Math.max(...finite, 0);
  const min = Math.min(...finite, 0);
  const positives = finite.filter((value) => value > 0);
  const span = PANEL_WIDTH - LABEL_WIDTH - 70;
  if (positives.length === finite.length && positives.length > 1 && Math.max(...positives) / Math.min(...positives) > 50) {
    const low = Math.log10(Math.min(...positives)) - 0.3;
    const high = Math.log10(Math.max(...positives));
    return { kind: 'log', at: (value) => ((Math.log10(Math.max(value, 10 ** low)) - low) / (high - low)) * span };
  }
  const range = max - min || 1;
  return { kind: 'linear', at: (value) => ((value - min) / range) * span };
}

/** SVG of one panel. Targets keep one colour across panels (`colours`). */
export function panelSvg(panel: ChartPanel, colours: ReadonlyMap<string, string>): string {
  const scale = scaleOf(panel.bars.flatMap((bar) => [bar.value.median, bar.value.min, bar.value.max]));
  const zero = scale.kind === 'linear' ? scale.at(0) : 0;
  const height = 48 + panel.bars.length * (BAR_HEIGHT + BAR_GAP);
  const rows = panel.bars.map((bar, index) => {
    const y = 42 + index * (BAR_HEIGHT + BAR_GAP);
    const { median, min, max } = bar.value;
    const x0 = LABEL_WIDTH + Math.min(zero, Number.isNaN(median) ? zero : scale.at(median));
    const width = Number.isNaN(median) ? 0 : Math.abs(scale.at(median) - zero);
    const whisker =
      Number.isNaN(min) || min === max
        ? ''
        : `<line x1="${LABEL_WIDTH + scale.at(min)}" x2="${LABEL_WIDTH + scale.at(max)}" y1="${y + BAR_HEIGHT / 2}" y2="${y + BAR_HEIGHT / 2}" stroke="#222" stroke-width="1.5"/>`;
    const end = LABEL_WIDTH + Math.max(zero, Number.isNaN(median) ? zero : scale.at(median), Number.isNaN(max) ? 0 : scale.at(max));
    return (
      `<text x="${LABEL_WIDTH - 6}" y="${y + 13}" text-anchor="end">${escape(bar.target)}</text>` +
      `<rect x="${x0}" y="${y}" width="${Math.max(width, 1)}" height="${BAR_HEIGHT}" fill="${colours.get(bar.target) ?? '#999'}"/>` +
      whisker +
      `<text x="${end + 4}" y="${y + 13}">${label(median)}</text>`
    );
  });
  const note = `${panel.better} is better${scale.kind === 'log' ? ', log scale' : ''}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH}" height="${height}" font-family="sans-serif" font-size="12">
<text x="4" y="15" font-weight="bold">${escape(panel.title)}</text>
<text x="4" y="30" fill="#666">${escape(note)}</text>
<line x1="${LABEL_WIDTH + zero}" x2="${LABEL_WIDTH + zero}" y1="36" y2="${height - 4}" stroke="#bbb"/>
${rows.join('\n')}
</svg>`;
}

/** The whole page: a heading, then the panels in a grid. */
export function chartHtml(heading: string, panels: readonly ChartPanel[]): string {
  const targets = [...new Set(panels.flatMap((panel) => panel.bars.map((bar) => bar.target)))];
  const colours = new Map(targets.map((target, index) => [target, PALETTE[index % PALETTE.length]!]));
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #fff; }
#chart { display: inline-block; padding: 12px; font-family: sans-serif; }
#chart h1 { font-size: 15px; margin: 0 0 8px; }
#grid { display: grid; grid-template-columns: repeat(2, ${PANEL_WIDTH}px); gap: 10px 24px; }
</style></head><body><div id="chart"><h1>${escape(heading)}</h1><div id="grid">
${panels.map((panel) => panelSvg(panel, colours)).join('\n')}
</div></div></body></html>`;
}

/** Renders the page in headless Chromium and writes a PNG of the chart to `file`. */
export async function writeChartPng(file: string, heading: string, panels: readonly ChartPanel[]): Promise<void> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'tollbooth-peers-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1000, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await context.newPage();
      await page.setContent(chartHtml(heading, panels));
      await page.locator('#chart').screenshot({ path: file });
    } finally {
      await context.close();
    }
  } finally {
    rmSync(userDataDir, { recursive: true, force: true });
  }
}
