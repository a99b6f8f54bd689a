import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import { startSimulator, type RunningSimulator } from '../../../src/sim/index.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { CHROMIUM, launchChromium } from '../../helpers/chromium.js';
import { postJson } from '../../helpers/fleet.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';

/**
 * The live dashboard as a person sees it: Debian's Chromium (test/ensure-system-tools.sh installs
 * it) opens /dashboard on the admin listener of a gateway in front of two simulators with GPU
 * figures, while a load of two tenants' streams with session keys runs and some requests fail by
 * injected fault. The page must load without console errors, draw every chart, show figures that
 * move, show the error-rate alert firing, fit a phone's width, and come back after the gateway
 * restarts (the stream cut, the page reconnecting by itself).
 */
const MODEL = 'dash-model';
const OUTPUT_DIR = resolve('test/output');
const COMMITTED_SCREENSHOT = resolve('test/screenshots/dashboard.png');
const SYSTEM_PROMPT = 'You are a helpful assistant for a toll-road operator. '.repeat(20);
const CHARTS = ['traffic', 'latency', 'decode', 'load', 'memory', 'cost', 'affinity', 'errors'];

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Streams for two tenants with session keys, one in seven failing by the simulator's fault header, until stopped. */
function startLoad(url: () => string, secrets: readonly string[]): { stop(): Promise<void>; sent(): number } {
  let running = true;
  let sent = 0;
  const worker = async (index: number): Promise<void> => {
    while (running) {
      const n = sent++;
      const headers: Record<string, string> = { authorization: `Bearer ${secrets[n % secrets.length]!}` };
      if (n % 7 === 3) headers['x-sim-fault'] = 'error:500';
      try {
        const response = await fetch(`${url()}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({
            model: MODEL,
            stream: true,
            max_tokens: 24,
            user: `user-${(index * 31 + n) % 12}`,
            // A shared system prompt and 40 distinct questions: the replicas' prefix caches fill and hit.
            messages: [
              { role: 'system', content: SYSTEM_PROMPT },
              { role: 'user', content: `question ${n % 40}: ${'tell me more about the toll road '.repeat(8)}` },
            ],
          }),
        });
        await response.text();
      } catch {
        // The gateway is restarting: try again shortly.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  const workers = Array.from({ length: 4 }, (_, index) => worker(index));
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
    sent: () => sent,
  };
}

/**
 * Per chart: its canvas size, and how many pixels have (about) one of its series' colours. Runs in
 * the page (a string, so this file needs no DOM types).
 */
async function chartPixels(page: Page): Promise<Record<string, { width: number; height: number; seriesPixels: number }>> {
  return page.evaluate(`(() => {
    const parse = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const out = {};
    for (const name of ${JSON.stringify(CHARTS)}) {
      const host = document.querySelector('[data-chart="' + name + '"]');
      const canvas = host && host.querySelector('canvas');
      if (!canvas) continue;
      const colors = (host.dataset.seriesColors || '').split(' ').filter((c) => c !== '').map(parse);
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let seriesPixels = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] < 200) continue;
        for (const [r, g, b] of colors) {
          if (Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b) < 30) {
            seriesPixels += 1;
            break;
          }
        }
      }
      out[name] = { width: canvas.width, height: canvas.height, seriesPixels };
    }
    return out;
  })()`);
}

function launch(userDataDir: string): Promise<BrowserContext> {
  return launchChromium(userDataDir, { viewport: { width: 1440, height: 900 } });
}

describe('the live dashboard in Chromium', () => {
  it('draws every panel from the stream, moves with the load, shows a firing alert, fits a phone and reconnects after a restart', { timeout: 240_000 }, async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run bash test/ensure-system-tools.sh`).toBe(true);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    const simulators: RunningSimulator[] = await Promise.all(
      [0, 1].map(() => startSimulator({ seed: 11, models: [MODEL], prefillBaseMs: 30, interTokenMs: 15, outputTokens: { min: 12, max: 24 }, prefixCache: { enabled: true, blockTokens: 16, capacityBlocks: 1024 } })),
    );
    const secrets = [generateApiKey(), generateApiKey()];
    const gatewayConfig = (adminPort: number): Partial<TollboothConfigInput> & Pick<TollboothConfigInput, 'replicas'> => ({
      replicas: simulators.map((simulator, index) => ({ name: `gpu-${index}`, url: simulator.url, models: [MODEL], gpuMetricsUrl: `${simulator.url}/dcgm/metrics` })),
      admin: { host: '127.0.0.1', port: adminPort },
      auth: {
        enabled: true,
        tenants: ['acme', 'globex'],
        keys: [
          { id: 'acme-key', tenant: 'acme', hash: hashApiKey(secrets[0]!) },
          { id: 'globex-key', tenant: 'globex', hash: hashApiKey(secrets[1]!) },
        ],
      },
      cost: { currency: 'USD', tokenPrices: { [MODEL]: { input: 3, output: 15 } } },
      health: { probeIntervalMs: 500, ejectAfterFailures: 1000 },
      logging: { level: 'warn' },
      alerts: {
        evaluationIntervalMs: 250,
        rules: [{ name: 'ErrorRateTooHigh', figure: 'requests.error_rate_percent', threshold: 5, forMs: 1_000, severity: 'critical', summary: 'Error rate (%)' }],
      },
    });
    let gateway: TestGateway = await startTestGateway(gatewayConfig(0));
    const adminPort = Number(new URL(gateway.adminUrl!).port);
    const load = startLoad(() => gateway.url, secrets);
    const userDataDir = mkdtempSync(join(tmpdir(), 'tollbooth-dashboard-chromium-'));
    const context = await launch(userDataDir);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const consoleErrors: string[] = [];
      let restarting = false;
      const restartErrors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') (restarting ? restartErrors : consoleErrors).push(message.text());
      });
      page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
      const external: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(`http://127.0.0.1:${adminPort}/`)) external.push(request.url());
      });

      await page.goto(`${gateway.adminUrl}/dashboard`);
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });

      // Figures move while the load runs.
      const totalOf = async (): Promise<number> => Number((await page.textContent('#kpi-requests-total'))!.split(' ')[0]);
      const first = await waitFor('requests in the page', async () => ((await totalOf()) > 0 ? totalOf() : undefined));
      await waitFor('the request counter to grow', async () => (await totalOf()) > first + 5);

      // The error-rate alert fires (one request in seven fails; threshold 5 %, for 1 s).
      await page.waitForSelector('.alert-item[data-severity="critical"]', { timeout: 30_000 });
      expect(await page.textContent('.alert-item .name')).toContain('ErrorRateTooHigh');
      expect(await page.getAttribute('#status', 'data-status')).toBe('critical');

      // Every panel has drawn: a canvas with a size, and its series' colours on it.
      const drawn = await waitFor('every chart drawn', async () => {
        const charts = await chartPixels(page);
        return CHARTS.every((name) => (charts[name]?.width ?? 0) > 0 && (charts[name]?.height ?? 0) > 0 && charts[name]!.seriesPixels > 0) ? charts : undefined;
      });
      expect(Object.keys(drawn).sort()).toEqual([...CHARTS].sort());
      // Tables: both replicas with their GPU figures, both tenants with a cost, the injected errors by type.
      await waitFor('the tables', async () => (await page.locator('#tenants tbody tr').count()) === 2 && (await page.locator('#replicas tbody tr').count()) === 2);
      expect(await page.textContent('#tenants tbody')).toMatch(/acme[\s\S]*USD|globex[\s\S]*USD/);
      expect(await page.textContent('#replicas tbody')).toContain('GB');
      expect(await page.textContent('#error-types tbody')).toMatch(/upstream_5xx|upstream/);
      expect(await page.textContent('#kpi-gpu')).toMatch(/%/);

      // Enough history for a chart worth looking at, then the screenshot.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard.png'), fullPage: true });
      if (process.env.TOLLBOOTH_UPDATE_SCREENSHOTS === '1') {
        mkdirSync(resolve('test/screenshots'), { recursive: true });
        await page.screenshot({ path: COMMITTED_SCREENSHOT, fullPage: true });
      }

      // A phone: nothing wider than the screen, the charts resized to it.
      await page.setViewportSize({ width: 390, height: 844 });
      await waitFor('charts at phone width', async () => {
        const widths = await page.evaluate<number[]>(`[...document.querySelectorAll('.chart canvas')].map((canvas) => canvas.getBoundingClientRect().right)`);
        return widths.length === CHARTS.length && widths.every((right) => right <= 390);
      });
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard-phone.png'), fullPage: false });
      await page.setViewportSize({ width: 1440, height: 900 });

      expect(consoleErrors).toEqual([]);
      expect(external).toEqual([]);

      // The gateway restarts: the page says it is disconnected, then comes back live with the new process's figures.
      restarting = true;
      await gateway.close();
      await page.waitForSelector('#connection[data-state="reconnecting"]', { timeout: 15_000 });
      expect(await page.textContent('#connection')).toContain('reconnecting');
      gateway = await startTestGateway(gatewayConfig(adminPort));
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
      await waitFor('figures from the new process', async () => /up \d+s$/.test((await page.textContent('#updated')) ?? '') && (await totalOf()) > 0);
      const afterRestart = await totalOf();
      await waitFor('the counter to grow after the restart', async () => (await totalOf()) > afterRestart);
      // Only the refused reconnection attempts may have complained meanwhile.
      for (const message of restartErrors) expect(message).toMatch(/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to load resource/);
      restarting = false;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(consoleErrors).toEqual([]);
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
      await load.stop();
      await gateway.close();
      await Promise.all(simulators.map((simulator) => simulator.close()));
    }
  });

  it('asks for the metrics credentials when they are set, then goes live with them', { timeout: 120_000 }, async () => {
    const simulator = await startSimulator({ seed: 3, models: [MODEL] });
    const gateway = await startTestGateway({
      replicas: [{ name: 'gpu-0', url: simulator.url, models: [MODEL] }],
      metrics: { bearerToken: 'dashboard-secret-token-42' },
      logging: { level: 'warn' },
    });
    const userDataDir = mkdtempSync(join(tmpdir(), 'tollbooth-dashboard-chromium-'));
    const context = await launch(userDataDir);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${gateway.adminUrl}/dashboard`);
      await page.waitForSelector('#connection[data-state="unauthorized"]', { timeout: 30_000 });
      expect(await page.isVisible('#credentials')).toBe(true);
      await page.fill('#credential-input', 'dashboard-secret-token-42');
      await page.click('#credentials button');
      await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
      expect(await page.isVisible('#credentials')).toBe(false);
      await waitFor('figures', async () => (await page.textContent('#kpi-requests-total')) === '0 since start');
      expect(await page.getAttribute('#status', 'data-status')).toBe('ok');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
      await gateway.close();
      await simulator.close();
    }
  });
});
