import { afterEach } from 'vitest';
import { startSimulator, type RunningSimulator, type SimulatorOptionsInput } from '../../src/sim/index.js';
import type { TollboothConfigInput } from '../../src/config/schema.js';
import { startTestGateway, type TestGateway } from './gateway.js';

export interface TestFleet {
  readonly simulators: RunningSimulator[];
  readonly gateway: TestGateway;
  close(): Promise<void>;
}

/**
 * Simulated replicas (each serving `models`) and a gateway in front of them, all on real
 * loopback sockets. `gateway` overrides the gateway config (replicas are filled in).
 */
export async function startFleet(options: {
  replicas?: number;
  models?: string[];
  simulator?: SimulatorOptionsInput;
  gateway?: Partial<TollboothConfigInput>;
}): Promise<TestFleet> {
  const models = options.models ?? ['test-model'];
  const simulators = await Promise.all(
    Array.from({ length: options.replicas ?? 1 }, () => startSimulator({ seed: 7, models, ...options.simulator })),
  );
  const gateway = await startTestGateway({
    ...options.gateway,
    replicas: simulators.map((simulator, index) => ({ name: `sim-${index}`, url: simulator.url, models })),
  });
  return {
    simulators,
    gateway,
    close: async () => {
      await gateway.close();
      await Promise.all(simulators.map((simulator) => simulator.close()));
    },
  };
}

/** POSTs JSON with fetch and returns status, headers and the exact body text. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/**
 * Per-test teardown for files that start fleets and servers: call once at module level; whatever
 * `defer` or `fleet` registers is closed after each test, newest first.
 */
export function teardownAfterEach(): {
  defer(cleanup: () => Promise<unknown>): void;
  fleet(options: Parameters<typeof startFleet>[0]): Promise<TestFleet>;
} {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  return {
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
    fleet: async (options) => {
      const fleet = await startFleet(options);
      cleanups.push(() => fleet.close());
      return fleet;
    },
  };
}

/**
 * Errors that escape to the process (`event`: an uncaught exception or an unhandled rejection)
 * until `teardown` runs: a guarded callback must leave this empty.
 */
export function escapedErrors(teardown: ReturnType<typeof teardownAfterEach>, event: 'uncaughtException' | 'unhandledRejection'): unknown[] {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => void escaped.push(error);
  process.on(event, onEscape);
  teardown.defer(async () => process.off(event, onEscape));
  return escaped;
}
