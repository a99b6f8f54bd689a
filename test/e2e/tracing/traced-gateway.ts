import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { runCli, type CliProcess } from '../../helpers/cli.js';

/** The built gateway as a real process with OTEL_* in its environment (the SDK starts before fastify, pino and ioredis load). */
export interface TracedGateway {
  readonly url: string;
  readonly cli: CliProcess;
  /** Parsed JSON log lines written so far. */
  logLines(): Array<Record<string, unknown>>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startTracedGateway(config: TollboothConfigInput, otelEnv: NodeJS.ProcessEnv): Promise<TracedGateway> {
  const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-traced-')), 'tollbooth.yaml');
  writeFileSync(file, stringify({ auth: { enabled: false }, ...config, server: { host: '127.0.0.1', port: 0, ...config.server }, admin: { port: 0, ...config.admin } }));
  const cli = runCli(['start', '--config', file], otelEnv);
  const { url } = JSON.parse(await cli.waitForLine(/tollbooth is listening/, 20_000)) as { url: string };
  return {
    url,
    cli,
    logLines: () =>
      cli
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: async () => {
      if (cli.child.exitCode === null) cli.child.kill('SIGTERM');
      return cli.exited();
    },
  };
}
