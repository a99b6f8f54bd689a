import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import type { TollboothConfigInput } from '../../src/config/schema.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { createLogger } from '../../src/telemetry/logger.js';

export interface TestGateway extends RunningGateway {
  /** Every JSON log line the gateway wrote, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** The access-log lines only. */
  accessLines(): Array<Record<string, unknown>>;
  /** Resolves when the access line of `requestId` has been written (the response is over). */
  accessLineOf(requestId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** A real gateway on a free loopback port, with its log captured in memory. */
export async function startTestGateway(input: Partial<TollboothConfigInput> & Pick<TollboothConfigInput, 'replicas'>): Promise<TestGateway> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const config = parseConfig({
    ...input,
    server: { host: '127.0.0.1', port: 0, ...input.server },
    admin: { host: '127.0.0.1', port: 0, ...input.admin },
    health: { probeIntervalMs: 200, modelRefreshIntervalMs: 500, ...input.health },
    logging: { level: 'info', ...input.logging },
    // Most tests are about the proxy, not keys: auth is off unless a test configures it.
    auth: input.auth ?? { enabled: false },
  });
  const running = await startGateway(config, createLogger(config.logging.level, sink));
  const accessLines = (): Array<Record<string, unknown>> => logs.filter((line) => line.component === 'access');
  return {
    ...running,
    logs,
    accessLines,
    accessLineOf: async (requestId, timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = accessLines().find((candidate) => candidate.request_id === requestId);
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no access-log line for ${requestId}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () => running.shutdown('test finished'),
  };
}
