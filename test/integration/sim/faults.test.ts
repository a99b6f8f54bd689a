import { request } from 'node:http';

import { afterEach, describe, expect, it } from 'vitest';

import type { RunningSimulator } from '../../../src/sim/index.js';
import { chatBody, eventually, fastSimulator, postJson, sseData } from './sim-test-helpers.js';

let sim: RunningSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function current(): RunningSimulator {
  if (sim === undefined) throw new Error('no simulator');
  return sim;
}

/** Raw streamed bytes of one request over its own socket, and how the socket ended. */
function rawStream(path: string, headers: Record<string, string>, body: unknown, abortAfterMs?: number): Promise<{ text: string; status: number | null; ended: 'end' | 'error' | 'aborted' }> {
  return new Promise((resolve) => {
    let text = '';
    let status: number | null = null;
    const req = request(`${current().url}${path}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } });
    const timer = abortAfterMs === undefined ? null : setTimeout(() => {
      req.destroy();
      resolve({ text, status, ended: 'aborted' });
    }, abortAfterMs);
    req.on('response', (res) => {
      status = res.statusCode ?? null;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ text, status, ended: 'end' }));
      res.on('error', () => resolve({ text, status, ended: 'error' }));
    });
    req.on('error', () => {
      if (timer !== null) clearTimeout(timer);
      resolve({ text, status, ended: 'error' });
    });
    req.end(JSON.stringify(body));
  });
}

describe('per-request faults', () => {
  it.each([503, 429, 400])('error:%i answers with that status and a vLLM error body', async (status) => {
    sim = await fastSimulator();
    const res = await postJson(sim, '/v1/chat/completions', chatBody(), { 'x-sim-fault': `error:${status}`, 'x-request-id': `e${status}` });
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: number; message: string } };
    expect(body.error.code).toBe(status);
    expect((await sim.truth.waitFor(`e${status}`, 1000)).outcome).toBe('fault');
  });

  it('spike adds delay before the first token', async () => {
    sim = await fastSimulator();
    await postJson(sim, '/v1/chat/completions', chatBody({ stream: true }), { 'x-sim-fault': 'spike:250', 'x-request-id': 's1' }).then((r) => r.text());
    const truth = await sim.truth.waitFor('s1', 2000);
    expect((truth.firstTokenAt ?? 0) - truth.receivedAt).toBeGreaterThanOrEqual(245);
    expect(truth.outcome).toBe('completed');
    expect(truth.fault).toBe('spike:250');
  });

  it('disconnect:N drops the connection after N content chunks', async () => {
    sim = await fastSimulator();
    const result = await rawStream('/v1/chat/completions', { 'x-sim-fault': 'disconnect:2', 'x-request-id': 'd1', 'x-sim-tokens': '20' }, chatBody({ stream: true }));
    expect(result.ended).not.toBe('end');
    expect(result.text).not.toContain('[DONE]');
    const truth = await sim.truth.waitFor('d1', 2000);
    expect(truth.outcome).toBe('fault');
    expect(truth.chunkTimes).toHaveLength(2);
    await eventually(async () => (await current().openConnections()) === 0);
  });

  it('hang accepts and never sends headers', async () => {
    sim = await fastSimulator();
    const result = await rawStream('/v1/chat/completions', { 'x-sim-fault': 'hang', 'x-request-id': 'h1' }, chatBody(), 300);
    expect(result.status).toBeNull();
    const truth = await sim.truth.waitFor('h1', 2000);
    expect(truth.headersSentAt).toBeNull();
    expect(truth.outcome).toBe('client_closed');
    expect(truth.fault).toBe('hang');
  });

  it('hang-body:N sends headers and N chunks, then stalls', async () => {
    sim = await fastSimulator();
    const result = await rawStream('/v1/chat/completions', { 'x-sim-fault': 'hang-body:2', 'x-request-id': 'hb', 'x-sim-tokens': '20' }, chatBody({ stream: true }), 400);
    expect(result.status).toBe(200);
    expect(sseData(result.text)).toHaveLength(3); // role chunk + 2 content chunks
    const truth = await sim.truth.waitFor('hb', 2000);
    expect(truth.chunkTimes).toHaveLength(2);
    expect(truth.outcome).toBe('client_closed');
  });

  it('stream-error:N sends an in-band error and [DONE]', async () => {
    sim = await fastSimulator({ errorStyle: 'legacy' });
    const res = await postJson(sim, '/v1/completions', { prompt: 'x', stream: true, max_tokens: 10 }, { 'x-sim-fault': 'stream-error:1' });
    const frames = sseData(await res.text());
    expect(frames).toHaveLength(3);
    expect(JSON.parse(frames[1] as string)).toMatchObject({ error: { object: 'error', code: 500, type: 'InternalServerError' } });
    expect(frames[2]).toBe('[DONE]');
  });

  it('x-sim-tokens, x-sim-ttft-ms and x-sim-itl-ms override the plan', async () => {
    sim = await fastSimulator({ prefillBaseMs: 500 });
    await postJson(sim, '/v1/chat/completions', chatBody({ stream: true }), { 'x-sim-tokens': '5', 'x-sim-ttft-ms': '0', 'x-sim-itl-ms': '30', 'x-request-id': 'o1' }).then((r) => r.text());
    const truth = await sim.truth.waitFor('o1', 3000);
    expect(truth.completionTokens).toBe(5);
    expect((truth.firstTokenAt ?? 0) - truth.receivedAt).toBeLessThan(400);
    const span = (truth.chunkTimes.at(-1) ?? 0) - (truth.chunkTimes[0] ?? 0);
    expect(span).toBeGreaterThanOrEqual(4 * 30 - 10);
  });

  it('rejects an unknown fault with 400', async () => {
    sim = await fastSimulator();
    const res = await postJson(sim, '/v1/chat/completions', chatBody(), { 'x-sim-fault': 'explode' });
    expect(res.status).toBe(400);
  });

  it('draws random faults from the seeded options', async () => {
    sim = await fastSimulator({ seed: 3, faults: { errorRate: 1, errorStatus: 503 } });
    const res = await postJson(sim, '/v1/chat/completions', chatBody());
    expect(res.status).toBe(503);
  });
});
