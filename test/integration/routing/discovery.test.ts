import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { startGateway } from '../../../src/main.js';
import type { DiscoveryResolver } from '../../../src/routing/dns-discovery.js';
import { startSimulator } from '../../../src/sim/index.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { startDnsServer } from '../../helpers/dns-server.js';
import { postJson, teardownAfterEach } from '../../helpers/fleet.js';

const teardown = teardownAfterEach();
const quietLog = () => createLogger('warn', new Writable({ write: (_chunk, _encoding, callback) => callback() }));

describe('replicas from DNS', () => {
  it('serves through replicas found by the system resolver', async () => {
    const simulator = await startSimulator({ models: ['test-model'], interTokenMs: 0 });
    teardown.defer(() => simulator.close());
    const config = parseConfig({ auth: { enabled: false },
      server: { host: '127.0.0.1', port: 0 },
      admin: { port: 0 },
      discovery: [{ dns: 'localhost', family: 4, port: simulator.port }],
    });
    const running = await startGateway(config, quietLog());
    teardown.defer(() => running.shutdown('test over'));
    const response = await postJson(`${running.url}/v1/completions`, { model: 'test-model', prompt: 'hi', max_tokens: 1 });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tollbooth-replica')).toBe(`127.0.0.1:${simulator.port}`);
  });

  it('asks the DNS servers an entry names instead of the system resolver, and follows their answers', async () => {
    // Two replicas on one port at two loopback addresses, as a headless service's pods share a port.
    const first = await startSimulator({ models: ['test-model'], interTokenMs: 0, host: '127.0.0.1' });
    teardown.defer(() => first.close());
    const second = await startSimulator({ models: ['test-model'], interTokenMs: 0, host: '127.0.0.2', port: first.port });
    teardown.defer(() => second.close());
    const dns = await startDnsServer();
    teardown.defer(() => dns.close());
    const name = 'vllm.models.svc.cluster.local';
    dns.setAddresses(name, ['127.0.0.1']);
    const config = parseConfig({ auth: { enabled: false }, server: { host: '127.0.0.1', port: 0 }, admin: { port: 0 },
      discovery: [{ dns: name, port: first.port, servers: [dns.address], refreshIntervalMs: 50 }],
    });
    const running = await startGateway(config, quietLog());
    teardown.defer(() => running.shutdown('test over'));
    const names = () => running.gateway.registry.replicas.map((replica) => replica.name);
    expect(names()).toEqual([`127.0.0.1:${first.port}`]);
    expect(dns.queries(name)).toBeGreaterThanOrEqual(1);

    dns.setAddresses(name, ['127.0.0.1', '127.0.0.2']);
    const deadline = Date.now() + 10_000;
    while (names().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(names()).toEqual([`127.0.0.1:${first.port}`, `127.0.0.2:${first.port}`]);
    const response = await postJson(`${running.url}/v1/completions`, { model: 'test-model', prompt: 'hi', max_tokens: 1 });
    expect(response.status).toBe(200);
  });

  it('follows the answers as they change, keeping the last one through a failed look-up', async () => {
    const simulator = await startSimulator({ models: ['test-model'], interTokenMs: 0 });
    teardown.defer(() => simulator.close());
    let answer: string[] | Error = ['127.0.0.1'];
    const resolver: DiscoveryResolver = {
      lookup: async () => {
        if (answer instanceof Error) throw answer;
        return answer;
      },
      resolveSrv: async () => [],
    };
    const config = parseConfig({ auth: { enabled: false }, server: { host: '127.0.0.1', port: 0 }, admin: { port: 0 }, discovery: [{ dns: 'vllm.test', port: simulator.port, refreshIntervalMs: 50 }] });
    const running = await startGateway(config, quietLog(), { resolver });
    teardown.defer(() => running.shutdown('test over'));
    const names = () => running.gateway.registry.replicas.map((replica) => replica.name);
    const complete = async () => (await postJson(`${running.url}/v1/completions`, { model: 'test-model', prompt: 'hi', max_tokens: 1 })).status;
    expect(names()).toEqual([`127.0.0.1:${simulator.port}`]);
    expect(await complete()).toBe(200);

    answer = new Error('SERVFAIL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(names()).toEqual([`127.0.0.1:${simulator.port}`]);
    expect(await complete()).toBe(200);

    answer = [];
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(names()).toEqual([]);
    expect(await complete()).toBe(404);

    answer = ['127.0.0.1'];
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(names()).toEqual([`127.0.0.1:${simulator.port}`]);
    expect(await complete()).toBe(200);
  });
});
