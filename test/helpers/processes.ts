import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TollboothConfigInput } from '../../src/config/schema.js';
import type { SimulatorOptionsInput, TruthRecord } from '../../src/sim/index.js';
import { runCli, type CliProcess } from './cli.js';

/**
 * The simulator and the gateway as real processes, the way they are deployed: used where a
 * test compares timings, so the client, the gateway and the replica do not share one event loop.
 */
export interface SimulatorProcess {
  readonly url: string;
  /** The simulator's ground truth for a request, once it has finished. */
  truth(requestId: string, timeoutMs?: number): Promise<TruthRecord>;
  stop(): Promise<void>;
}

export interface GatewayProcess {
  readonly url: string;
  accessLineOf(requestId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The process has not exited. */
  running(): boolean;
  /** Everything it wrote to stdout so far (its JSON log lines). */
  stdout(): string;
  stop(): Promise<void>;
}

function yamlFile(name: string, content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-proc-')), name);
  writeFileSync(file, stringify(content));
  return file;
}

async function stop(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null) cli.child.kill('SIGTERM');
  await cli.exited();
}

async function poll<T>(read: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function startSimulatorProcess(options: SimulatorOptionsInput): Promise<SimulatorProcess> {
  const cli = runCli(['sim', '--config', yamlFile('sim.yaml', { port: 0, ...options })]);
  const { url } = JSON.parse(await cli.waitForLine(/vLLM simulator listening/)) as { url: string };
  return {
    url,
    truth: (requestId, timeoutMs = 5_000) =>
      poll(
        async () => {
          const response = await fetch(`${url}/sim/truth/${encodeURIComponent(requestId)}`);
          if (response.status !== 200) return undefined;
          const record = (await response.json()) as TruthRecord;
          return record.outcome === null ? undefined : record;
        },
        `the truth of ${requestId}`,
        timeoutMs,
      ),
    stop: () => stop(cli),
  };
}

export async function startGatewayProcess(config: TollboothConfigInput): Promise<GatewayProcess> {
  const cli = runCli(['start', '--config', yamlFile('tollbooth.yaml', { auth: { enabled: false }, ...config, server: { host: '127.0.0.1', port: 0, ...config.server }, admin: { port: 0, ...config.admin } })]);
  const { url } = JSON.parse(await cli.waitForLine(/tollbooth is listening/)) as { url: string };
  return {
    url,
    accessLineOf: (requestId, timeoutMs = 5_000) =>
      poll(
        () =>
          cli
            .stdout()
            .split('\n')
            .filter((line) => line.includes('"component":"access"'))
            .map((line) => JSON.parse(line) as Record<string, unknown>)
            .find((line) => line.request_id === requestId),
        `the access-log line of ${requestId}`,
        timeoutMs,
      ),
    running: () => cli.child.exitCode === null && cli.child.signalCode === null,
    stdout: () => cli.stdout(),
    stop: () => stop(cli),
  };
}
