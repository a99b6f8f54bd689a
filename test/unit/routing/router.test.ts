import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { ReplicaRegistry } from '../../../src/routing/registry.js';
import { Router } from '../../../src/routing/router.js';
import { sessionIdHash } from '../../../src/routing/session-key.js';

function fleet(routing: TollboothConfigInput['routing'] = {}) {
  const config = parseConfig({ auth: { enabled: false },
    replicas: [
      { name: 'a', url: 'http://10.0.0.1:8000', models: ['llama'] },
      { name: 'b', url: 'http://10.0.0.2:8000', models: ['llama', 'qwen'] },
      { name: 'c', url: 'http://10.0.0.3:8000', models: 'auto' },
    ],
    routing,
    health: { ejectAfterFailures: 2, baseEjectionMs: 1_000 },
  });
  const registry = new ReplicaRegistry(config);
  let draw = 0;
  // A fixed sequence instead of Math.random: the test decides the power-of-two draws.
  const random = () => [0.1, 0.9, 0.6, 0.2][draw++ % 4]!;
  return { config, registry, router: new Router(registry, config.routing, random), byName: (name: string) => registry.replicas.find((replica) => replica.name === name)! };
}

const key = (value: string) => ({ hash: sessionIdHash(undefined, value), source: 'header' as const, conversationId: value });

function errorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as GatewayError).code;
  }
  return 'no error';
}

describe('Router', () => {
  it('round-robin rotates among the replicas serving the model, with a cursor per model', () => {
    const { router } = fleet({ strategy: 'round-robin' });
    expect([1, 2, 3, 4].map(() => router.pick('llama', undefined, 0).replica.name)).toEqual(['a', 'b', 'a', 'b']);
    expect([1, 2].map(() => router.pick('qwen', undefined, 0))).toEqual([
      expect.objectContaining({ outcome: 'round_robin' }),
      expect.objectContaining({ outcome: 'round_robin' }),
    ]);
  });

  it('keeps a session on one replica, and sends it to the next on the ring when that one is down', () => {
    const { router, byName } = fleet();
    const first = router.pick('llama', key('conversation-1'), 0);
    expect(first.outcome).toBe('affinity');
    for (let i = 0; i < 20; i += 1) expect(router.pick('llama', key('conversation-1'), 0).replica).toBe(first.replica);
    first.replica.health = 'unhealthy';
    const moved = router.pick('llama', key('conversation-1'), 0);
    expect(moved.replica).not.toBe(first.replica);
    expect(moved.replica).toBe(first.replica === byName('a') ? byName('b') : byName('a'));
  });

  it('overflows a session whose replica is over its load bound', () => {
    const { router } = fleet();
    const home = router.pick('llama', key('hot'), 0).replica;
    const begun = Array.from({ length: 3 }, () => home.load.begin(0));
    const route = router.pick('llama', key('hot'), 0);
    expect(route.outcome).toBe('overflow');
    expect(route.replica).not.toBe(home);
    for (const start of begun) home.load.end(1, start);
    expect(router.pick('llama', key('hot'), 1).outcome).toBe('affinity');
  });

  it('excludes replicas a request already failed on, and ejected ones until their backoff ends', () => {
    const { router, byName } = fleet();
    const a = byName('a');
    expect(router.pick('llama', key('k'), 0, new Set([a])).replica.name).toBe('b');
    a.circuit.onFailure(0);
    a.circuit.onFailure(0); // two consecutive failures open it for 1 s
    expect(new Set(Array.from({ length: 10 }, (_, i) => router.pick('llama', key(`s${i}`), 10).replica.name))).toEqual(new Set(['b']));
    // After the ejection, one trial request is let through.
    const trial = Array.from({ length: 30 }, (_, i) => router.pick('llama', key(`t${i}`), 1_500).replica.name).filter((name) => name === 'a');
    expect(trial).toHaveLength(1);
  });

  it('uses the less loaded of two for keyless requests', () => {
    const { router, byName } = fleet({ strategy: 'least-loaded' });
    const b = byName('b');
    b.load.begin(0);
    const route = router.pick('llama', undefined, 0);
    expect(route).toEqual({ replica: byName('a'), outcome: 'least_loaded' });
  });

  it('says 503 when no replica serving the model can take it, 404 when nobody serves it', () => {
    const { router, byName } = fleet();
    byName('a').health = 'unhealthy';
    byName('b').health = 'unhealthy';
    expect(errorCode(() => router.pick('llama', undefined, 0))).toBe('no_replica_available');
    expect(errorCode(() => router.pick('mistral', undefined, 0))).toBe('model_not_found');
  });

  it('learns the models of `auto` replicas and lists the union once', () => {
    const { registry, router, byName } = fleet();
    expect(errorCode(() => router.pick('phi', undefined, 0))).toBe('model_not_found');
    registry.updateModels(byName('c'), [{ id: 'phi', object: 'model', owned_by: 'vllm', max_model_len: 8192 }]);
    expect(router.pick('phi', undefined, 0).replica.name).toBe('c');
    registry.updateModels(byName('b'), [{ id: 'qwen', object: 'model', created: 5, owned_by: 'vllm' }]);
    const listed = registry.listModels(1);
    expect(listed.map((card) => card.id)).toEqual(['llama', 'qwen', 'phi']);
    expect(listed[0]).toEqual({ id: 'llama', object: 'model', created: 1, owned_by: 'vllm', root: 'llama', parent: null });
    expect(listed[1]).toMatchObject({ created: 5 });
    expect(listed[2]).toMatchObject({ max_model_len: 8192 });
  });

  it('keeps the state of unchanged replicas across a new replica set', () => {
    const { registry, config, byName } = fleet();
    const a = byName('a');
    a.health = 'healthy';
    const change = registry.applyReplicaSet([config.replicas[0]!, { name: 'd', url: 'http://10.0.0.4:8000', models: ['llama'] }]);
    expect(change.added.map((replica) => replica.name)).toEqual(['d']);
    expect(change.removed.map((replica) => replica.name)).toEqual(['b', 'c']);
    expect(registry.replicas[0]).toBe(a);
    expect(registry.replicasServing('llama').map((replica) => replica.name)).toEqual(['a', 'd']);
  });
});
