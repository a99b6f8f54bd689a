import { describe, expect, it } from 'vitest';
import { escapedErrors, teardownAfterEach } from '../../helpers/fleet.js';

const teardown = teardownAfterEach();

describe('the first-byte deadline under the internal-errors guard', () => {
  it('reports a failure while timing out the replica, closes the client socket, and keeps serving', async () => {
    const escaped = escapedErrors(teardown, 'uncaughtException');

    const fleet = await teardown.fleet({ gateway: { upstream: { headersTimeoutMs: 300 } } });
    const gateway = fleet.gateway;
    const replica = gateway.gateway.registry.replicas[0]!;
    const onFailure = replica.circuit.onFailure.bind(replica.circuit);
    // The circuit breaker throws when told about the timeout.
    replica.circuit.onFailure = () => {
      throw new Error('circuit breaker failed');
    };

    // The 504 itself is tested in errors.test.ts; here the deadline's own path fails.
    const request = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'test-model', max_tokens: 4, messages: [{ role: 'user', content: 'slow' }] }),
      });
    // Nothing had been written yet: the client's socket is closed, not left open until the replica answers.
    await expect(request({ 'x-sim-fault': 'hang' })).rejects.toThrow();
    expect(escaped).toEqual([]);
    const report = gateway.logs.find((line) => line.stage === 'upstream_exchange');
    expect(report?.msg).toContain('internal error in upstream_exchange');
    const metric = await gateway.gateway.metricsRegistry.getSingleMetric('tollbooth_internal_errors_total')?.get();
    expect(metric?.values.find((value) => value.labels.stage === 'upstream_exchange')?.value).toBe(1);

    // The process still serves: the next request, fast this time, is answered.
    replica.circuit.onFailure = onFailure;
    const next = await request({});
    expect(next.status).toBe(200);
    expect(((await next.json()) as { object: string }).object).toBe('chat.completion');
  });

});
