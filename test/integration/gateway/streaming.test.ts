import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { teardownAfterEach } from '../../helpers/fleet.js';
import { startTestGateway } from '../../helpers/gateway.js';

const teardown = teardownAfterEach();

/** Opens a streaming chat request with node:http, so the test controls reading and aborting. */
function openStream(baseUrl: string, requestId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return new Promise<{ response: IncomingMessage; abort: () => void }>((resolve, reject) => {
    const payload = JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'go' }], stream: true, ...body });
    const request = httpRequest(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
    });
    request.on('response', (response) => resolve({ response, abort: () => request.destroy() }));
    request.on('error', reject);
    request.end(payload);
  });
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('streaming pass-through', () => {
  it('writes each upstream chunk as it arrives, with the headers sent before the first token', async () => {
    const { gateway, simulators } = await teardown.fleet({ simulator: { interTokenMs: 40, prefillBaseMs: 150 } });
    const opened = performance.now();
    const { response } = await openStream(gateway.url, 'paced', { max_tokens: 5 });
    const headersAfter = performance.now() - opened;
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    // Headers arrive long before the 150 ms prefill is over: nothing waits for the first token.
    expect(headersAfter).toBeLessThan(120);
    const arrivals: number[] = [];
    response.on('data', () => arrivals.push(performance.now()));
    await new Promise((resolve) => response.on('end', resolve));
    const truth = await simulators[0]!.truth.waitFor('paced', 2_000);
    expect(truth?.chunkTimes).toHaveLength(5);
    // Chunks were not batched: the client saw them spread over the paced generation.
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(100);
  });

  it('aborts the upstream request as soon as the client goes away, and leaks no socket', async () => {
    // Quiet fleet monitor: its probe and scrape connections stay as they are during the test.
    const { gateway, simulators } = await teardown.fleet({
      simulator: { interTokenMs: 20 },
      gateway: { health: { probeIntervalMs: 60_000, modelRefreshIntervalMs: 60_000, engineStatsIntervalMs: 60_000 } },
    });
    const simulator = simulators[0]!;
    const monitorConnections = await simulator.openConnections();
    const { response, abort } = await openStream(gateway.url, 'walks-away', { max_tokens: 500 });
    await new Promise((resolve) => response.once('data', resolve));
    abort();
    const truth = await simulator.truth.waitFor('walks-away', 2_000);
    expect(truth?.outcome).toBe('client_closed');
    expect(truth!.chunkTimes.length).toBeLessThan(100);
    // The stream's upstream connection is closed; only the monitor's idle ones remain.
    await waitUntil(async () => (await simulator.openConnections()) <= monitorConnections);
    expect(await gateway.accessLineOf('walks-away')).toMatchObject({ client_disconnected: true, stream: true, status: 200 });
  });

  it('aborts a request still waiting for its first token when the client leaves', async () => {
    const { gateway, simulators } = await teardown.fleet({ simulator: { interTokenMs: 5 } });
    const { abort } = await openStream(gateway.url, 'waiting', { max_tokens: 5 }, { 'x-sim-fault': 'spike:5000' });
    abort();
    expect((await simulators[0]!.truth.waitFor('waiting', 2_000))?.outcome).toBe('client_closed');
  });

  it('aborts a request whose replica never answered when the client leaves', async () => {
    const { gateway, simulators } = await teardown.fleet({});
    const request = httpRequest(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'hung-then-gone', 'x-sim-fault': 'hang' },
    });
    request.on('error', () => undefined);
    request.end(JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'anyone there?' }] }));
    await waitUntil(() => simulators[0]!.truth.get('hung-then-gone') !== undefined);
    request.destroy();
    expect((await simulators[0]!.truth.waitFor('hung-then-gone', 2_000))?.outcome).toBe('client_closed');
  });

  it('a slow reader holds the upstream back instead of filling gateway memory, and loses nothing', async () => {
    // An upstream that writes 96 MiB of SSE as fast as its socket accepts it (it respects backpressure).
    const frame = Buffer.from(`data: ${JSON.stringify({ choices: [{ delta: { content: 'x'.repeat(1000) } }] })}\n\n`);
    const frames = Math.ceil((96 * 1024 * 1024) / frame.length);
    let acceptedFrames = 0;
    const upstream = createServer((request, response) => {
      if (request.method === 'GET') {
        // Health probes and model reads get an ordinary answer; only the proxied request streams.
        response.end(request.url === '/v1/models' ? '{"object":"list","data":[]}' : '');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const pump = (): void => {
        while (acceptedFrames < frames) {
          acceptedFrames += 1;
          if (!response.write(frame)) {
            response.once('drain', pump);
            return;
          }
        }
        response.end('data: [DONE]\n\n');
      };
      pump();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    teardown.defer(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
    const gateway = await startTestGateway({
      replicas: [{ url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, models: ['test-model'] }],
    });
    teardown.defer(() => gateway.close());

    const buffersBefore = process.memoryUsage().arrayBuffers;
    const { response } = await openStream(gateway.url, 'slow-reader', {});
    response.pause();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // Kernel socket buffers (tens of MiB on loopback) may hold data; the gateway's heap must not.
    const heldByGateway = process.memoryUsage().arrayBuffers - buffersBefore;
    expect(heldByGateway).toBeLessThan(16 * 1024 * 1024);
    expect(acceptedFrames).toBeLessThan(frames);

    let received = 0;
    let tail = '';
    response.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-32);
    });
    response.resume();
    await new Promise((resolve) => response.on('end', resolve));
    expect(received).toBe(frames * frame.length + 'data: [DONE]\n\n'.length);
    expect(tail.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});
