import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';
import { ReplicaRegistry } from '../../../src/routing/registry.js';
import { Router } from '../../../src/routing/router.js';

function fleet() {
  const config = parseConfig({
    replicas: [
      { name: 'a', url: 'http://10.0.0.1:8000', models: ['llama'] },
      { name: 'b', url: 'http://10.0.0.2:8000', models: ['llama', 'qwen'] },
      { name: 'c', url: 'http://10.0.0.3:8000', models: 'auto' },
    ],
  });
  const registry = new ReplicaRegistry(config);
  return { registry, router: new Router(registry), byName: (name: string) => registry.replicas.find((replica) => replica.name === name)! };
}

function errorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as GatewayError).code;
  }
  return 'no error';
}

describe('Router', () => {
  it('rotates among the replicas serving the model, with a cursor per model', () => {
    const { router } = fleet();
    expect([1, 2, 3, 4].map(() => router.pick('llama').name)).toEqual(['a', 'b', 'a', 'b']);
    expect([1, 2].map(() => router.pick('qwen').name)).toEqual(['b', 'b']);
  });

  it('skips unhealthy replicas and says 503 when none is left, 404 when nobody serves the model', () => {
    const { router, byName } = fleet();
    byName('a').health = 'unhealthy';
    expect([1, 2].map(() => router.pick('llama').name)).toEqual(['b', 'b']);
    byName('b').health = 'unhealthy';
    expect(errorCode(() => router.pick('llama'))).toBe('no_replica_available');
    expect(errorCode(() => router.pick('mistral'))).toBe('model_not_found');
  });

  it('learns the models of `auto` replicas and lists the union once', () => {
    const { registry, router, byName } = fleet();
    expect(errorCode(() => router.pick('phi'))).toBe('model_not_found');
    registry.updateModels(byName('c'), [{ id: 'phi', object: 'model', owned_by: 'vllm', max_model_len: 8192 }]);
    expect(router.pick('phi').name).toBe('c');
    registry.updateModels(byName('b'), [{ id: 'qwen', object: 'model', created: 5, owned_by: 'vllm' }]);
    const listed = registry.listModels(1);
    expect(listed.map((card) => card.id)).toEqual(['llama', 'qwen', 'phi']);
    expect(listed[0]).toEqual({ id: 'llama', object: 'model', created: 1, owned_by: 'vllm', root: 'llama', parent: null });
    expect(listed[1]).toMatchObject({ created: 5 });
    expect(listed[2]).toMatchObject({ max_model_len: 8192 });
  });

  it('sends requests without a model to any routable replica', () => {
    const { router, byName } = fleet();
    byName('b').health = 'unhealthy';
    expect([1, 2, 3].map(() => router.pick(undefined).name)).toEqual(['a', 'c', 'a']);
  });
});
