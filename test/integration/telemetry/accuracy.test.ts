import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatNanos } from '../../../src/cost/cost.js';
import { startGatewayProcess, startSimulatorProcess, type GatewayProcess, type SimulatorProcess } from '../../helpers/processes.js';

/**
 * Tollbooth's numbers against the truth: what the client observed (TTFT) and what the
 * simulator recorded when it emitted each token (TPOT, token counts). The simulator and the
 * gateway run as their own processes, as deployed, so the client's clock is not held up by
 * their work. Modest load here; the 100-stream distribution is measured by the benchmark
 * (test/bench/RESULTS.md).
 */
const PRICES = { input: 0.15, cachedInput: 0.075, output: 0.6 };
let simulators: SimulatorProcess[];
let gateway: GatewayProcess;

async function startProcesses(simulator: Parameters<typeof startSimulatorProcess>[0], replicas: number) {
  const started = await Promise.all(Array.from({ length: replicas }, () => startSimulatorProcess({ models: ['test-model'], ...simulator })));
  const front = await startGatewayProcess({
    replicas: started.map((process, index) => ({ name: `sim-${index}`, url: process.url, models: ['test-model'] })),
    cost: { currency: 'USD', tokenPrices: { 'test-model': PRICES } },
  });
  return { simulators: started, gateway: front, stop: async () => Promise.all([front.stop(), ...started.map((process) => process.stop())]) };
}

let stopAll: () => Promise<unknown>;
beforeAll(async () => {
  const processes = await startProcesses(
    { interTokenMs: 8, interTokenJitterMs: 4, prefillBaseMs: 20, prefillPerTokenMs: 0.2, reportCachedTokens: true },
    // One replica: on two cores every extra process is scheduling noise between the two clocks.
    1,
  );
  ({ simulators, gateway } = processes);
  stopAll = processes.stop;
});
afterAll(() => stopAll());

/** The truth of a request, from whichever simulator served it. */
async function truthOf(requestId: string, replica: unknown) {
  return simulators[Number(String(replica).slice('sim-'.length))]!.truth(requestId);
}

interface ClientView {
  requestId: string;
  ttftMs: number;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
afterAll(() => agent.destroy());

/** Streams one chat completion; TTFT is request start → the first chunk holding a content delta. */
function streamChat(requestId: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<ClientView> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify({ model: 'test-model', stream: true, ...body });
    const started = performance.now();
    const request = httpRequest(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
    });
    request.on('response', (response) => {
      let text = '';
      let ttftMs = Number.NaN;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
        if (Number.isNaN(ttftMs) && /"delta":\{"content":"[^"]/.test(text)) ttftMs = performance.now() - started;
      });
      response.on('end', () => resolve({ requestId, ttftMs, body: text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length * q) - 1]!;
}
const median = (values: number[]) => quantile(values, 0.5);
const p95 = (values: number[]) => quantile(values, 0.95);

function conversation(index: number) {
  // Eight system prompts, each shared by several requests: repeats hit the simulator's prefix
  // cache (cached tokens are priced apart).
  return [
    { role: 'system', content: `You are careful assistant number ${index % 8}. ${'Context sentence. '.repeat(40)}` },
    { role: 'user', content: `Question number ${index}: ${'why '.repeat(index % 7)}` },
  ];
}

/** `count` streams, one started every 20 ms, of 16 to 55 tokens; even ones ask for include_usage. */
function paceWave(name: string, count: number): Promise<ClientView[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 20));
      const tokens = 16 + ((index * 7) % 40);
      return streamChat(
        `${name}-${index}`,
        { messages: conversation(index), max_tokens: tokens, ...(index % 2 === 0 ? { stream_options: { include_usage: true } } : {}) },
        { 'x-sim-tokens': String(tokens) },
      );
    }),
  );
}

describe('accuracy against the truth', () => {
  let attempt = 0;
  it('TTFT agrees with the client, TPOT with the truth within 2% (p95), tokens and cost exactly', { retry: 1 }, async () => {
    // A warm-up wave of the same shape first, not scored. A fresh gateway process grows its heap
    // to its working size in its first second or two of traffic, and those collections pause its
    // event loop for 5–20 ms: a request arriving during one is stamped late by that much (time no
    // process can see from user space), which is start-up, not the steady state the bar is about.
    // Request ids carry the attempt, so a retry never reads the first try's log lines.
    attempt += 1;
    await paceWave(`warm-up-${attempt}`, 80);
    // 80 streams, one started every 20 ms (about 8 in flight at once), half of them with the
    // client's own include_usage.
    const views = await paceWave(`accuracy-${attempt}`, 80);

    const ttftErrors: number[] = [];
    const tpotErrors: number[] = [];
    for (const [index, view] of views.entries()) {
      const line = await gateway.accessLineOf(view.requestId);
      const truth = await truthOf(view.requestId, line.replica);
      expect(truth.outcome).toBe('completed');
      expect(line.outcome).toBe('success');

      ttftErrors.push(Math.abs((line.ttft_ms as number) - view.ttftMs));

      const truthTpot = (truth.chunkTimes.at(-1)! - truth.chunkTimes[0]!) / (truth.completionTokens - 1);
      tpotErrors.push(Math.abs((line.tpot_ms as number) - truthTpot) / truthTpot);

      expect(line).toMatchObject({
        tokens_source: 'exact',
        input_tokens: truth.promptTokens,
        cached_input_tokens: truth.cachedPromptTokens,
        output_tokens: truth.completionTokens,
      });
      const expectedNanos =
        BigInt(truth.promptTokens - truth.cachedPromptTokens) * 150n + BigInt(truth.cachedPromptTokens) * 75n + BigInt(truth.completionTokens) * 600n;
      expect(line.cost).toBe(formatNanos(expectedNanos));

      // The usage frame the gateway asked for never reaches a client that did not ask for it.
      const clientAskedForUsage = index % 2 === 0;
      expect(view.body.includes('"choices":[],"usage"')).toBe(clientAskedForUsage);
      expect(view.body.endsWith('data: [DONE]\n\n')).toBe(true);
    }
    // The bar: 95 % of requests within 3 ms of what the client saw. The clocks are read in
    // three processes sharing two cores with the test runner, so a wave can meet a scheduling storm
    // that no gateway can see; the test is retried once for that, while a wrong stamp (the role
    // chunk, the first upstream byte, a late arrival) is off by tens of milliseconds on every try.
    const worst = [...ttftErrors].sort((a, b) => b - a).slice(0, 5).map((error) => error.toFixed(1));
    expect(median(ttftErrors), `worst TTFT errors (ms): ${worst.join(', ')}`).toBeLessThan(1.5);
    expect(p95(ttftErrors), `worst TTFT errors (ms): ${worst.join(', ')}`).toBeLessThan(3);
    expect(p95(tpotErrors)).toBeLessThan(0.02);
    expect(views.some((view) => view.body.includes('"cached_tokens"'))).toBe(true);
  });

  it('counts tokens and TPOT from usage when one chunk carries several tokens', async () => {
    const multi = await startProcesses({ interTokenMs: 12, tokensPerChunk: 4, prefillBaseMs: 5 }, 1);
    try {
      const response = await fetch(`${multi.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'four-per-chunk', 'x-sim-tokens': '256' },
        body: JSON.stringify({ model: 'test-model', stream: true, max_tokens: 256, messages: conversation(1) }),
      });
      const text = await response.text();
      const line = await multi.gateway.accessLineOf('four-per-chunk');
      const truth = await multi.simulators[0]!.truth('four-per-chunk');
      // 256 tokens in 64 content chunks: counting chunks would say 64. The stream is long (about
      // 0.8 s) so that one pause of the fresh gateway process at its first or last chunk stays
      // well inside the 2 % bar.
      expect(truth.chunkTimes).toHaveLength(64);
      expect(text.split('"delta":{"content":"').length - 1).toBeGreaterThanOrEqual(64);
      expect(line.output_tokens).toBe(256);
      const truthTpot = (truth.chunkTimes.at(-1)! - truth.chunkTimes[0]!) / 255;
      expect(Math.abs((line.tpot_ms as number) - truthTpot) / truthTpot).toBeLessThan(0.02);
    } finally {
      await multi.stop();
    }
  });
});
