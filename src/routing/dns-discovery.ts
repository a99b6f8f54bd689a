import { promises as dns } from 'node:dns';
import type { Logger } from 'pino';
import type { DiscoveryConfig, ReplicaConfig } from './config.js';
import type { InternalErrors } from '../errors/internal-errors.js';

/** The DNS look-ups discovery needs; the system's by default, a stand-in in tests. */
export interface DiscoveryResolver {
  lookup(name: string, family: 4 | 6 | undefined): Promise<string[]>;
  resolveSrv(name: string): Promise<Array<{ name: string; port: number }>>;
}

export const systemResolver: DiscoveryResolver = {
  lookup: async (name, family) => (await dns.lookup(name, { all: true, family: family ?? 0, verbatim: true })).map((entry) => entry.address),
  resolveSrv: (name) => dns.resolveSrv(name),
};

/**
 * Look-ups asked of the given DNS servers (an entry's `servers`) instead of the system resolver:
 * A and/or AAAA records by `family`, no /etc/hosts. With both families, a name with records of
 * only one kind answers those; it fails only when both look-ups fail.
 */
export function serversResolver(servers: readonly string[]): DiscoveryResolver {
  const resolver = new dns.Resolver();
  resolver.setServers(servers);
  return {
    lookup: async (name, family) => {
      if (family === 4) return resolver.resolve4(name);
      if (family === 6) return resolver.resolve6(name);
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
      if (v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
      return [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    },
    resolveSrv: (name) => resolver.resolveSrv(name),
  };
}

/** The replicas one discovery entry names now, sorted so equal answers compare equal. */
export async function resolveDiscoveryEntry(entry: DiscoveryConfig, resolver: DiscoveryResolver): Promise<ReplicaConfig[]> {
  const targets =
    entry.srv !== undefined
      ? (await resolver.resolveSrv(entry.srv)).map((record) => ({ host: record.name, port: record.port }))
      : (await resolver.lookup(entry.dns!, entry.family)).map((address) => ({ host: address, port: entry.port }));
  return targets
    .map(({ host, port }) => {
      const hostInUrl = host.includes(':') ? `[${host}]` : host;
      return {
        name: `${hostInUrl}:${port}`,
        url: `${entry.scheme}://${hostInUrl}:${port}`,
        models: entry.models,
        ...(entry.apiKey === undefined ? {} : { apiKey: entry.apiKey }),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Re-resolves every discovery entry on its interval and reports the combined replica list when it
 * changes. A failed look-up keeps that entry's last answer (a DNS hiccup must not empty the
 * fleet) and is logged once per failure streak.
 */
export class DnsDiscovery {
  private readonly answers: ReplicaConfig[][];
  private readonly failing: boolean[];
  /** Per entry: its own `servers`, else the resolver given. */
  private readonly resolvers: DiscoveryResolver[];
  private readonly timers: NodeJS.Timeout[] = [];
  private lastReported = '';

  constructor(
    private readonly entries: readonly DiscoveryConfig[],
    resolver: DiscoveryResolver,
    private readonly log: Logger,
    private readonly onChange: (discovered: ReplicaConfig[]) => Promise<void>,
    private readonly internalErrors: InternalErrors,
  ) {
    this.answers = entries.map(() => []);
    this.failing = entries.map(() => false);
    this.resolvers = entries.map((entry) => (entry.servers === undefined ? resolver : serversResolver(entry.servers)));
  }

  /** Resolves every entry once, reports the result, then keeps resolving on each entry's interval. */
  async start(): Promise<void> {
    await Promise.all(this.entries.map((_, index) => this.resolve(index)));
    await this.report();
    this.entries.forEach((entry, index) => {
      this.timers.push(
        setInterval(this.internalErrors.guard('dns_discovery', () => this.resolve(index).then(() => this.report())), entry.refreshIntervalMs).unref(),
      );
    });
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }

  get discovered(): ReplicaConfig[] {
    return this.answers.flat();
  }

  private async resolve(index: number): Promise<void> {
    const entry = this.entries[index]!;
    try {
      this.answers[index] = await resolveDiscoveryEntry(entry, this.resolvers[index]!);
      if (this.failing[index]) this.log.info({ name: entry.srv ?? entry.dns }, 'replica discovery resolves again');
      this.failing[index] = false;
    } catch (error) {
      if (!this.failing[index]) {
        this.log.warn({ name: entry.srv ?? entry.dns, err: (error as Error).message }, 'replica discovery failed: keeping the last answer');
      }
      this.failing[index] = true;
    }
  }

  private async report(): Promise<void> {
    const discovered = this.discovered;
    const signature = JSON.stringify(discovered);
    if (signature === this.lastReported) return;
    this.lastReported = signature;
    try {
      await this.onChange(discovered);
    } catch (error) {
      this.lastReported = ''; // not applied: the next refresh tries the same answer again
      throw error;
    }
  }
}
