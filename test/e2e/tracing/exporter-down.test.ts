import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatorProcess, type SimulatorProcess } from '../../helpers/processes.js';
import { startTracedGateway, type TracedGateway } from './traced-gateway.js';

/** A loopback port nobody listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

const FAILING = 'trace export is failing';

describe('an unreachable trace collector', () => {
  let sim: SimulatorProcess;
  let gateway: TracedGateway;
  beforeAll(async () => {
    sim = await startSimulatorProcess({ models: ['llama-3-8b'], prefillBaseMs: 1, interTokenMs: 1 });
    gateway = await startTracedGateway(
      { replicas: [{ name: 'sim', url: sim.url, models: ['llama-3-8b'] }], tracing: { shutdownTimeoutMs: 1_000 } },
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
        OTEL_EXPORTER_OTLP_TIMEOUT: '300',
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
    );
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop();
    await sim?.stop();
  });

  it('costs no request and is logged once, not per request or per batch', async () => {
    const statuses: number[] = [];
    const send = async (index: number): Promise<void> => {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama-3-8b', stream: index % 2 === 0, max_tokens: 8, messages: [{ role: 'user', content: `hello ${index}` }] }),
      });
      await response.text();
      statuses.push(response.status);
    };
    for (let round = 0; round < 4; round += 1) {
      await Promise.all(Array.from({ length: 10 }, (_, index) => send(round * 10 + index)));
      // Let several export batches fail between rounds.
      await new Promise((wake) => setTimeout(wake, 400));
    }
    expect(statuses).toHaveLength(40);
    expect(statuses.every((status) => status === 200)).toBe(true);

    const lines = gateway.logLines();
    expect(lines.find((line) => line.msg === 'tracing on: spans are exported over OTLP')).toBeDefined();
    expect(lines.filter((line) => String(line.msg).startsWith(FAILING))).toHaveLength(1);
    expect(lines.filter((line) => line.component === 'access' && typeof line.trace_id === 'string')).toHaveLength(40);
  });

  it('does not hold up shutdown beyond tracing.shutdownTimeoutMs', async () => {
    const started = Date.now();
    const exit = await gateway.stop();
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
