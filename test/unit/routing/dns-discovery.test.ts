import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ReplicaConfig } from '../../../src/routing/config.js';
import { DnsDiscovery, resolveDiscoveryEntry, systemResolver, type DiscoveryResolver } from '../../../src/routing/dns-discovery.js';
import { InternalErrors } from '../../../src/errors/internal-errors.js';
import { createInstruments } from '../../../src/telemetry/metrics/instruments.js';

const entriesOf = (discovery: unknown[]) => parseConfig({ auth: { enabled: false }, discovery }).discovery;

describe('DNS discovery', () => {
  it('turns a name’s addresses into replicas on the configured port, sorted, IPv6 bracketed', async () => {
    const resolver: DiscoveryResolver = {
      lookup: async () => ['10.0.0.12', 'fd00::5', '10.0.0.3'],
      resolveSrv: async () => [],
    };
    const [entry] = entriesOf([{ dns: 'vllm.default.svc.cluster.local', port: 8001, models: ['llama'] }]);
    expect(await resolveDiscoveryEntry(entry!, resolver)).toEqual([
      { name: '10.0.0.12:8001', url: 'http://10.0.0.12:8001', models: ['llama'] },
      { name: '10.0.0.3:8001', url: 'http://10.0.0.3:8001', models: ['llama'] },
      { name: '[fd00::5]:8001', url: 'http://[fd00::5]:8001', models: ['llama'] },
    ]);
  });

  it('takes hosts and ports from SRV records', async () => {
    const resolver: DiscoveryResolver = {
      lookup: async () => [],
      resolveSrv: async () => [
        { name: 'vllm-1.vllm.default.svc.cluster.local', port: 8000 },
        { name: 'vllm-0.vllm.default.svc.cluster.local', port: 9000 },
      ],
    };
    const [entry] = entriesOf([{ srv: '_http._tcp.vllm.default.svc.cluster.local', apiKey: 'k' }]);
    expect((await resolveDiscoveryEntry(entry!, resolver)).map((replica) => [replica.url, replica.models, replica.apiKey])).toEqual([
      ['http://vllm-0.vllm.default.svc.cluster.local:9000', 'auto', 'k'],
      ['http://vllm-1.vllm.default.svc.cluster.local:8000', 'auto', 'k'],
    ]);
  });

  it('resolves through the system resolver (localhost from /etc/hosts)', async () => {
    const [entry] = entriesOf([{ dns: 'localhost', family: 4, port: 8000 }]);
    expect(await resolveDiscoveryEntry(entry!, systemResolver)).toEqual([{ name: '127.0.0.1:8000', url: 'http://127.0.0.1:8000', models: 'auto' }]);
  });

  it('validates entries at boot', () => {
    expect(() => parseConfig({ auth: { enabled: false }, discovery: [{ dns: 'a', srv: 'b' }] })).toThrow(/discovery\.0: give exactly one of dns or srv/);
    expect(() => parseConfig({ auth: { enabled: false },})).toThrow(/replicas: list at least one replica, or a discovery entry/);
  });

  it('takes DNS servers as IP addresses with optional ports, and refuses anything else at boot', () => {
    const servers = ['10.96.0.10', '127.0.0.1:8600', 'fd00::a', '[fd00::a]:53'];
    expect(entriesOf([{ dns: 'vllm', servers }])[0]?.servers).toEqual(servers);
    for (const bad of ['kube-dns.kube-system', '127.0.0.1:0', '127.0.0.1:65536', 'fd00::a:53:x', '[10.0.0.1]:53', '[fd00::a]', '']) {
      expect(() => entriesOf([{ dns: 'vllm', servers: [bad] }]), bad).toThrow(/discovery\.0\.servers\.0: an IP address, optionally with a port/);
    }
    expect(() => entriesOf([{ dns: 'vllm', servers: [] }])).toThrow(/discovery\.0\.servers/);
  });
});

describe('DNS discovery on its interval', () => {
  it('reports a change it could not apply, tries it again, and keeps resolving and applying', async () => {
    // DNS answers 10.0.0.1, 10.0.0.2, 10.0.0.2 (the same again), 10.0.0.4, 10.0.0.5…; the first apply of .2 fails.
    let lookups = 0;
    const resolver: DiscoveryResolver = { lookup: async () => [`10.0.0.${[1, 2, 2][lookups++] ?? lookups}`], resolveSrv: async () => [] };
    const applied: string[][] = [];
    const onChange = async (found: ReplicaConfig[]): Promise<void> => {
      applied.push(found.map((replica) => replica.url));
      if (applied.length === 2) throw new Error('the new replica set could not be applied');
    };
    const registry = new Registry();
    const log = pino({ level: 'silent' });
    const internalErrors = new InternalErrors(log);
    internalErrors.countInto(createInstruments(registry, { replicas: () => [] }, 'test').internalErrors);
    const discovery = new DnsDiscovery(entriesOf([{ dns: 'vllm.internal', refreshIntervalMs: 20 }]), resolver, log, onChange, internalErrors);
    try {
      await discovery.start();
      const deadline = Date.now() + 10_000;
      while (applied.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      discovery.stop();
    }
    expect(applied.slice(0, 4)).toEqual([['http://10.0.0.1:8000'], ['http://10.0.0.2:8000'], ['http://10.0.0.2:8000'], ['http://10.0.0.4:8000']]);
    const counted = (await registry.getSingleMetric('tollbooth_internal_errors_total')?.get())?.values.find((value) => value.labels.stage === 'dns_discovery');
    expect(counted?.value).toBe(1);
  });
});
