import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../../src/sim/index.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { startGatewayProcess } from '../../helpers/processes.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';
import { sampleSum } from '../../helpers/promtool.js';

const teardown = teardownAfterEach();

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'test-model',
  messages: [{ role: 'user', content }],
  max_tokens: 2,
  ...extra,
});

async function replicaOf(url: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const response = await postJson(`${url}/v1/chat/completions`, body, headers);
  expect(response.status).toBe(200);
  return response.headers.get('x-tollbooth-replica')!;
}

describe('session-aware routing', () => {
  it('keeps each session on one replica, spreads sessions, and another gateway process agrees on every one', async () => {
    const { gateway, simulators } = await teardown.fleet({ replicas: 4, simulator: { interTokenMs: 0, prefillBaseMs: 0 } });
    // A second gateway in its own process, with the replicas listed in another order: no shared state.
    const twin = await startGatewayProcess({
      replicas: simulators.map((simulator, index) => ({ name: `sim-${index}`, url: simulator.url, models: ['test-model'] })).reverse(),
    });
    teardown.defer(() => twin.stop());

    const homes = new Map<string, string>();
    for (let session = 0; session < 40; session += 1) {
      const id = `conversation-${session}`;
      const first = await replicaOf(gateway.url, chat(`turn 1 of ${id}`), { 'x-session-id': id });
      for (let turn = 2; turn <= 3; turn += 1) {
        expect(await replicaOf(gateway.url, chat(`turn ${turn} of ${id}`), { 'x-session-id': id })).toBe(first);
      }
      expect(await replicaOf(twin.url, chat('another gateway'), { 'x-session-id': id })).toBe(first);
      homes.set(id, first);
    }
    expect(new Set(homes.values()).size).toBe(4);
    expect((await gateway.accessLineOf((await postJson(`${gateway.url}/v1/chat/completions`, chat('x'), { 'x-session-id': 'conversation-1', 'x-request-id': 'logged-decision' })).headers.get('x-request-id')!)).routing).toBe('affinity');
  });

  it('uses prompt_cache_key, then user, then the shared prompt prefix as the session', async () => {
    const { gateway } = await teardown.fleet({ replicas: 4, simulator: { interTokenMs: 0, prefillBaseMs: 0 } });
    const system = { role: 'system', content: `You are the billing assistant. ${'Policy text. '.repeat(50)}` };
    const withPrefix = (question: string) => ({ model: 'test-model', max_tokens: 2, messages: [system, { role: 'user', content: question }] });
    const prefixHome = await replicaOf(gateway.url, withPrefix('first question'));
    for (const question of ['second', 'third', 'fourth']) expect(await replicaOf(gateway.url, withPrefix(question))).toBe(prefixHome);

    const cacheKeyHome = await replicaOf(gateway.url, chat('a', { prompt_cache_key: 'shared-cache' }));
    expect(await replicaOf(gateway.url, chat('b', { prompt_cache_key: 'shared-cache' }))).toBe(cacheKeyHome);
    const userHome = await replicaOf(gateway.url, chat('c', { user: 'user-42' }));
    expect(await replicaOf(gateway.url, chat('d', { user: 'user-42' }))).toBe(userHome);
    const line = await gateway.accessLineOf((await postJson(`${gateway.url}/v1/chat/completions`, chat('e', { user: 'user-42' }), { 'x-request-id': 'by-user' })).headers.get('x-request-id')!);
    expect(line).toMatchObject({ session_key: 'user', routing: 'affinity' });
  });

  it('can leave the replica header out', async () => {
    const { gateway } = await teardown.fleet({ gateway: { routing: { replicaHeader: false } } });
    const response = await postJson(`${gateway.url}/v1/chat/completions`, chat('hi'));
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tollbooth-replica')).toBeNull();
  });
});

describe('failover and ejection', () => {
  it('retries a request whose replica refuses the connection on the next one, then ejects that replica', async () => {
    const { gateway, simulators } = await teardown.fleet({
      replicas: 3,
      simulator: { interTokenMs: 0, prefillBaseMs: 0 },
      // Slow probes: the gateway learns of the dead replica from requests alone.
      gateway: { health: { probeIntervalMs: 60_000, ejectAfterFailures: 2, baseEjectionMs: 60_000 } },
    });
    // Find sessions that live on sim-1, then kill it.
    const onVictim: string[] = [];
    for (let session = 0; onVictim.length < 6 && session < 200; session += 1) {
      if ((await replicaOf(gateway.url, chat('probe'), { 'x-session-id': `s${session}` })) === 'sim-1') onVictim.push(`s${session}`);
    }
    expect(onVictim.length).toBe(6);
    await simulators[1]!.close();

    const served: string[] = [];
    for (const session of onVictim) served.push(await replicaOf(gateway.url, chat('after the crash'), { 'x-session-id': session, 'x-request-id': `after-${session}` }));
    expect(served.every((replica) => replica !== 'sim-1')).toBe(true);
    // The first two requests failed over; then the circuit opened and the rest went elsewhere directly.
    expect((await gateway.accessLineOf(`after-${onVictim[0]}`)).failovers).toBe(1);
    expect((await gateway.accessLineOf(`after-${onVictim[1]}`)).failovers).toBe(1);
    expect((await gateway.accessLineOf(`after-${onVictim[5]}`)).failovers).toBe(0);
    const exposition = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    expect(sampleSum(exposition, 'tollbooth_failovers_total')).toBe(2);
    expect(sampleSum(exposition, 'tollbooth_replica_ejections_total', { replica: 'sim-1' })).toBe(1);
    expect(sampleSum(exposition, 'tollbooth_replica_circuit_state', { replica: 'sim-1', state: 'open' })).toBe(1);
    const ready = (await (await fetch(`${gateway.adminUrl}/ready`)).json()) as { status: string; replicas: Array<Record<string, unknown>> };
    expect(ready.status).toBe('ready');
    expect(ready.replicas.find((replica) => replica.name === 'sim-1')).toMatchObject({ circuit: 'open', retry_in_ms: expect.any(Number) });
  });

  it('loses no request that had not started streaming when one of four replicas dies under load', async () => {
    const { gateway, simulators } = await teardown.fleet({
      replicas: 4,
      simulator: { interTokenMs: 1, prefillBaseMs: 2 },
      gateway: { health: { probeIntervalMs: 60_000 } },
    });
    let completed = 0;
    let killed = false;
    const statuses: number[] = [];
    const worker = async (id: number) => {
      for (let i = 0; i < 25; i += 1) {
        const response = await postJson(`${gateway.url}/v1/chat/completions`, chat(`load ${id}-${i}`), { 'x-session-id': `w${id}-${i % 5}` });
        statuses.push(response.status);
        completed += 1;
        if (!killed && completed === 60) {
          killed = true;
          await simulators[2]!.close();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, id) => worker(id)));
    expect(killed).toBe(true);
    expect(statuses).toHaveLength(200);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });
});

describe('engine stats', () => {
  it('scrapes each replica’s queue and KV cache, shows the fleet in one scrape, and drops stale figures', async () => {
    const simulator = await startSimulator({ models: ['test-model'], maxRunning: 1, interTokenMs: 20 });
    teardown.defer(() => simulator.close());
    const gateway = await startTestGateway({
      replicas: [{ name: 'busy', url: simulator.url, models: ['test-model'] }],
      health: { engineStatsIntervalMs: 50, engineStatsMaxAgeMs: 300 },
    });
    teardown.defer(() => gateway.close());
    // One running, two waiting behind maxRunning = 1.
    const pending = [0, 1, 2].map((i) => postJson(`${gateway.url}/v1/chat/completions`, chat(`queue ${i}`, { max_tokens: 20 }), { 'x-sim-tokens': '20' }));
    let exposition = '';
    for (let attempt = 0; attempt < 40; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      exposition = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
      if (sampleSum(exposition, 'tollbooth_replica_engine_waiting_requests', { replica: 'busy' }) === 2) break;
    }
    expect(sampleSum(exposition, 'tollbooth_replica_engine_waiting_requests', { replica: 'busy' })).toBe(2);
    expect(sampleSum(exposition, 'tollbooth_replica_engine_running_requests', { replica: 'busy' })).toBe(1);
    expect(exposition).toMatch(/tollbooth_replica_engine_kv_cache_usage_ratio\{replica="busy"\} [0-9.]+/);
    await Promise.all(pending);

    // The replica stops answering: its last figures steer nothing once they are older than the limit.
    await simulator.close();
    for (let attempt = 0; attempt < 40 && exposition.includes('tollbooth_replica_engine_waiting_requests{'); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      exposition = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    }
    expect(exposition).not.toContain('tollbooth_replica_engine_waiting_requests{');
    expect(gateway.gateway.registry.replicas[0]!.engineStats).toBeUndefined();
  });
});
