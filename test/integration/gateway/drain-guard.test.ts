import { describe, expect, it } from 'vitest';
import { escapedErrors, teardownAfterEach } from '../../helpers/fleet.js';

const teardown = teardownAfterEach();

describe('the drain deadline under the internal-errors guard', () => {
  it('reports a failure to end the open responses, closes the connections anyway, and stops cleanly', async () => {
    const escaped = escapedErrors(teardown, 'unhandledRejection');

    const fleet = await teardown.fleet({ simulator: { interTokenMs: 50, outputTokens: { min: 2000, max: 2000 } }, gateway: { server: { drainTimeoutMs: 200 } } });
    const gateway = fleet.gateway;
    Object.assign(gateway.gateway, { endOpenExchanges: () => Promise.reject(new Error('ending failed')) });

    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'a long answer' }] }),
    });
    expect(response.status).toBe(200);
    const body = response.text().catch((error: unknown) => error);

    // The gateway's own close waits for the stream; the deadline's failure must neither escape nor hang it.
    await gateway.shutdown('test');
    await body;
    await new Promise((resolve) => setImmediate(resolve));
    expect(escaped).toEqual([]);
    const report = gateway.logs.find((line) => line.stage === 'drain');
    expect(report?.msg).toContain('internal error in drain');
    const metric = await gateway.gateway.metricsRegistry.getSingleMetric('tollbooth_internal_errors_total')?.get();
    expect(metric?.values.find((value) => value.labels.stage === 'drain')?.value).toBe(1);
  });
});
