import { request, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { MetricsApiResponse } from '../../../src/telemetry/stats/snapshot.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';

/**
 * GET /api/v1/metrics/stream and the dashboard's files over real sockets: where they are served,
 * behind which credentials, what an event holds, and that an open stream neither counts as
 * traffic nor keeps the gateway from closing.
 */
const teardown = teardownAfterEach();
const TOKEN = 'dashboard-token-0123456789';

/** Opens the stream; resolves with the response and a reader of its next events (parsed). */
async function openStream(url: string, headers: Record<string, string> = {}): Promise<{ response: IncomingMessage; next(): Promise<MetricsApiResponse>; ended: Promise<void>; close(): void }> {
  return new Promise((resolve, reject) => {
    const client = request(url, { headers }, (response) => {
      response.setEncoding('utf8');
      let buffer = '';
      const events: MetricsApiResponse[] = [];
      const waiting: Array<(event: MetricsApiResponse) => void> = [];
      response.on('data', (text: string) => {
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!frame.startsWith('data: ')) continue;
          const event = JSON.parse(frame.slice('data: '.length)) as MetricsApiResponse;
          const reader = waiting.shift();
          if (reader === undefined) events.push(event);
          else reader(event);
        }
      });
      const ended = new Promise<void>((done) => response.on('close', () => done()));
      resolve({
        response,
        next: () => (events.length > 0 ? Promise.resolve(events.shift()!) : new Promise((done) => waiting.push(done))),
        ended,
        close: () => client.destroy(),
      });
    });
    client.on('error', reject);
    client.end();
  });
}

describe('GET /api/v1/metrics/stream', () => {
  it('on the admin listener: the JSON of /api/v1/metrics once a second, as server-sent events', async () => {
    const { gateway } = await teardown.fleet({});
    expect((await postJson(`${gateway.url}/v1/chat/completions`, { model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })).status).toBe(200);
    const stream = await openStream(`${gateway.adminUrl}/api/v1/metrics/stream`);
    teardown.defer(async () => stream.close());
    expect(stream.response.statusCode).toBe(200);
    expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.response.headers['cache-control']).toBe('no-cache, no-transform');
    expect(stream.response.headers['x-request-id']).toBeTruthy();
    const first = await stream.next();
    const second = await stream.next();
    const polled = (await (await fetch(`${gateway.adminUrl}/api/v1/metrics`)).json()) as MetricsApiResponse;
    // The same document as the endpoint's, a second apart.
    expect(Object.keys(first)).toEqual(Object.keys(polled));
    expect(first.requests.total).toBe(1);
    expect(first.replicas['sim-0']).toBeDefined();
    expect(Date.parse(second.generated_at) - Date.parse(first.generated_at)).toBeGreaterThanOrEqual(900);
    // Watching is not traffic.
    expect(polled.requests.total).toBe(1);
  });

  it('serves the page, uPlot and its own files with a same-origin-only policy', async () => {
    const { gateway } = await teardown.fleet({});
    const page = await fetch(`${gateway.adminUrl}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('/dashboard/uplot.min.js');
    expect(html).not.toMatch(/https?:\/\//);
    const uplot = await fetch(`${gateway.adminUrl}/dashboard/uplot.min.js`);
    expect(uplot.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await uplot.text()).toContain('uPlot');
    for (const path of ['/dashboard/dashboard.js', '/dashboard/dashboard.css', '/dashboard/uplot.min.css']) expect((await fetch(`${gateway.adminUrl}${path}`)).status, path).toBe(200);
    expect((await fetch(`${gateway.adminUrl}/dashboard/`, { redirect: 'manual' })).headers.get('location')).toBe('/dashboard');
  });

  it('without an admin listener: on the API port behind the metrics credentials, ended when the gateway closes', async () => {
    const { gateway } = await teardown.fleet({ gateway: { admin: { enabled: false }, metrics: { bearerToken: TOKEN } } });
    expect((await fetch(`${gateway.url}/dashboard`)).status).toBe(200);
    const refused = await fetch(`${gateway.url}/api/v1/metrics/stream`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('metrics_unauthorized');
    const stream = await openStream(`${gateway.url}/api/v1/metrics/stream`, { authorization: `Bearer ${TOKEN}` });
    expect(stream.response.statusCode).toBe(200);
    const event = await stream.next();
    expect(event.requests.total).toBe(0);
    // Neither the page nor the stream counted as requests.
    expect((await stream.next()).requests.total).toBe(0);
    // Closing does not wait for the open stream (it never ends by itself): the server ends it.
    await gateway.close();
    await stream.ended;
  });
});
