import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Replica } from '../../../src/routing/replica.js';
import { DEFAULT_CIRCUIT_SETTINGS } from '../../../src/routing/circuit-breaker.js';
import { renderExposition } from '../../../src/telemetry/metrics/exposition.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';
import { promtoolCheckMetrics } from '../../helpers/promtool.js';

function instrumentedRegistry(replicas: readonly Replica[] = []): Registry {
  const registry = new Registry();
  createInstruments(registry, { replicas: () => replicas }, '0.0.0');
  return registry;
}

describe('the gateway registry', () => {
  it("exports the process's CPU, memory, event-loop lag and GC under the tollbooth_ prefix", async () => {
    const registry = instrumentedRegistry();
    // GC figures appear once a collection has been observed; event-loop lag once a tick passed.
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const text = await registry.metrics();
    for (const name of [
      'tollbooth_process_cpu_seconds_total',
      'tollbooth_process_resident_memory_bytes',
      'tollbooth_nodejs_heap_size_used_bytes',
      'tollbooth_nodejs_eventloop_lag_p99_seconds',
      'tollbooth_nodejs_gc_duration_seconds',
    ]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
  });

  it('keeps the default metrics on its own registry: two gateways in one process do not collide', () => {
    expect(() => {
      instrumentedRegistry();
      instrumentedRegistry();
    }).not.toThrow();
  });

  it('names each model a replica serves, so per-replica alerts can carry the model', async () => {
    const replicas = [
      new Replica({ name: 'gpu-a', url: 'http://10.0.0.5:8000', models: ['llama-3-8b', 'qwen-7b'] }, DEFAULT_CIRCUIT_SETTINGS),
      new Replica({ name: 'gpu-b', url: 'http://10.0.0.6:8000', models: 'auto' }, DEFAULT_CIRCUIT_SETTINGS),
    ];
    const lines = (await instrumentedRegistry(replicas).metrics()).split('\n').filter((line) => line.startsWith('tollbooth_replica_model_info{'));
    expect(lines).toEqual([
      'tollbooth_replica_model_info{replica="gpu-a",model="llama-3-8b"} 1',
      'tollbooth_replica_model_info{replica="gpu-a",model="qwen-7b"} 1',
    ]);
  });

  it('passes promtool check metrics (promtool lints the Prometheus text format)', async () => {
    const result = await promtoolCheckMetrics(await renderExposition(instrumentedRegistry(), 'prometheus'));
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('renders the process metrics in the OpenMetrics exposition too', async () => {
    const text = await renderExposition(instrumentedRegistry(), 'openmetrics');
    expect(text).toContain('# TYPE tollbooth_process_cpu_seconds counter');
    expect(text).toMatch(/^tollbooth_process_cpu_seconds_total \d/m);
  });
});
