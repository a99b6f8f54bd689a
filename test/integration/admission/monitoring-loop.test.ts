import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startDemo, stopCli, type CliProcess } from '../../helpers/cli.js';

/**
 * The bar of issue 19: a monitoring loop written against the reference service's documented
 * example (test/fixtures/monitor_loop.py, Python 3, unchanged) runs against the demo
 * (`tollbooth demo --config config/demo.yaml`, built CLI, free ports), idle and under load.
 */

const MODEL = 'llama-3.1-8b-instruct';
const SCRIPT = resolve('test/fixtures/monitor_loop.py');
let demo: CliProcess | undefined;

afterEach(async () => {
  const running = demo;
  demo = undefined;
  await stopCli(running);
});

interface LoopRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runLoop(metricsUrl: string, iterations: number, intervalSeconds: number): Promise<LoopRun> {
  return new Promise((done) => {
    execFile(
      'python3',
      [SCRIPT],
      {
        env: { ...process.env, METRICS_URL: metricsUrl, MONITOR_ITERATIONS: String(iterations), MONITOR_INTERVAL_SECONDS: String(intervalSeconds) },
        timeout: 30_000,
      },
      (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }),
    );
  });
}

function queueLines(stdout: string): Array<{ waiting: number; running: number }> {
  return [...stdout.matchAll(/^Queue: (\d+) waiting, (\d+) running$/gm)].map((match) => ({ waiting: Number(match[1]), running: Number(match[2]) }));
}

describe('the reference monitoring loop against the demo', () => {
  it('runs unchanged idle and under load, and prints what the gateway measured', async () => {
    const { demo: running, apiKey, baseURL } = await startDemo((started) => (demo = started));
    const metricsLine = await running.waitForLine(/curl -s \S+\/api\/v1\/metrics/, 5_000);
    const metricsUrl = /curl -s (\S+\/api\/v1\/metrics)/.exec(metricsLine)![1]!;
    // Ready, and the GPU figures of the simulated replicas scraped.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ready = (await fetch(`${new URL(baseURL!).origin}/ready`)).status === 200;
      const body = (await (await fetch(metricsUrl)).json()) as { gpu: { source: string; replicas_reporting: number } };
      if (ready && body.gpu.replicas_reporting === 3) break;
      if (Date.now() > deadline) throw new Error(`the demo never became ready with GPU figures: ${JSON.stringify(body.gpu)}`);
      await new Promise((wake) => setTimeout(wake, 100));
    }

    // Idle.
    const idle = await runLoop(metricsUrl, 2, 0.2);
    expect(idle.stderr).toBe('');
    expect(idle.code).toBe(0);
    expect(idle.stdout).toContain('Status: ok');
    expect(queueLines(idle.stdout)).toEqual([{ waiting: 0, running: 0 }, { waiting: 0, running: 0 }]);
    expect(idle.stdout).toContain('TTFT P95: 0.00s');
    expect(idle.stdout).toContain('Alerts: 0');
    // The demo GPUs hold the weights: 15360 of 81920 MiB.
    expect(idle.stdout).toContain('GPU utilization: 18.75%');

    // Under load: five long streams while the loop polls.
    const client = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
    const stream = async (i: number): Promise<void> => {
      const chunks = await client.chat.completions.create(
        { model: MODEL, stream: true, max_tokens: 150, messages: [{ role: 'user', content: `Tell me a long story, number ${i}` }] },
        { headers: { 'x-sim-tokens': '150' } },
      );
      for await (const chunk of chunks) void chunk;
    };
    const load = Promise.all([0, 1, 2, 3, 4].map(stream));
    const busy = await runLoop(metricsUrl, 5, 0.25);
    await load;
    expect(busy.stderr).toBe('');
    expect(busy.code).toBe(0);
    expect(queueLines(busy.stdout).some((line) => line.running > 0)).toBe(true);

    // After the load: TTFT and decode throughput measured, formatted as floats.
    const after = await runLoop(metricsUrl, 1, 0);
    expect(after.code).toBe(0);
    const ttft = Number(/^TTFT P95: (\d+\.\d\d)s$/m.exec(after.stdout)?.[1]);
    const decode = Number(/^Decode throughput: (\d+\.\d\d) tokens\/s$/m.exec(after.stdout)?.[1]);
    expect(ttft).toBeGreaterThan(0);
    expect(decode).toBeGreaterThan(3); // the reference's target
    const json = (await (await fetch(metricsUrl)).json()) as {
      requests: { total: number };
      slo: { ttft: { p95: number } };
      by_model: Record<string, { requests: { total: number; successful: number } }>;
    };
    // The five streams, exactly: the /ready polls and the loop's own reads are not traffic.
    expect(json.by_model[MODEL]!.requests).toMatchObject({ total: 5, successful: 5 });
    expect(json.requests.total).toBe(5);
    expect(ttft).toBe(Number(json.slo.ttft.p95.toFixed(2)));

    running.child.kill('SIGTERM');
    expect(await running.exited()).toEqual({ code: 0, signal: null });
  });
});
