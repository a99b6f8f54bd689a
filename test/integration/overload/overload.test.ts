import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../../src/auth/key-format.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { startFleet, postJson, type TestFleet } from '../../helpers/fleet.js';

/**
 * Overload control end to end: a real gateway in front of a simulator whose engine runs two
 * sequences at once (vLLM's max_num_seqs) and queues the rest, driven by a closed loop of critical
 * requests at twice, then four times its capacity. The engine queue the fleet monitor scrapes
 * raises the model to pressure (batch and standard get their max_tokens clamped), then overload
 * (batch is shed with 503 overloaded and a Retry-After, critical still passes), and when the load
 * stops the level comes back to normal once the queue has stayed below the exit thresholds.
 */
const MODEL = 'busy-model';
const CEILING = 8;
const secrets = { critical: generateApiKey(), standard: generateApiKey(), batch: generateApiKey() };

const overload: TollboothConfigInput['overload'] = {
  enabled: true,
  evaluateIntervalMs: 100,
  exitAfterMs: 1_000,
  pressure: { waitingPerReplica: { enter: 1, exit: 0.5 } },
  overload: { waitingPerReplica: { enter: 3, exit: 1.5 } },
  clamp: { maxTokens: CEILING },
  // The batch key has no priority of its own: its tenant's default makes it batch.
  tenantPriorities: { nightly: 'batch' },
};

/** The busy simulator and a gateway with the three keys, under the given overload settings. */
function busyFleet(settings: TollboothConfigInput['overload']): Promise<TestFleet> {
  return startFleet({
    models: [MODEL],
    simulator: { maxRunning: 2, interTokenMs: 10 },
    gateway: {
      health: { engineStatsIntervalMs: 100 },
      auth: {
        enabled: true,
        keys: [
          { id: 'pager', tenant: 'ops', hash: hashApiKey(secrets.critical), priority: 'critical' },
          { id: 'web', tenant: 'web', hash: hashApiKey(secrets.standard) },
          // A token limit, so the reservation it makes is counted (tollbooth_rate_limit_reserved_tokens_total).
          { id: 'reports', tenant: 'nightly', hash: hashApiKey(secrets.batch), limits: { tokensPerMinute: 1_000_000 } },
        ],
        tenants: ['nightly'],
      },
      overload: settings,
    },
  });
}

let fleet: TestFleet;
beforeAll(async () => {
  fleet = await busyFleet(overload);
}, 60_000);
afterAll(async () => {
  await fleet?.close();
});

function chatTo(gatewayUrl: string, secret: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return postJson(`${gatewayUrl}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'hello there' }], ...body }, { authorization: `Bearer ${secret}`, ...headers });
}

function chat(secret: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return chatTo(fleet.gateway.url, secret, body, headers);
}

interface ModelState {
  level: string;
  signals: { waiting_per_replica: number };
  decisions: Record<string, Record<string, number>>;
}

async function modelState(): Promise<ModelState | undefined> {
  const json = (await (await fetch(`${fleet.gateway.adminUrl}/api/v1/metrics`)).json()) as { overload?: Record<string, ModelState> };
  return json.overload?.[MODEL];
}

async function waitForLevel(level: string, timeoutMs = 30_000): Promise<ModelState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await modelState();
    if (state?.level === level) return state;
    if (Date.now() > deadline) throw new Error(`the model did not reach ${level}: ${JSON.stringify(state)}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
}

/** Keeps `workers` critical requests in flight (each ~20 tokens), until stopped. */
function closedLoop(workers: number): { stop(): Promise<void>; statuses: number[] } {
  let running = true;
  const statuses: number[] = [];
  const loops = Array.from({ length: workers }, async () => {
    while (running) statuses.push((await chat(secrets.critical, { max_tokens: 20 }, { 'x-sim-tokens': '20' })).status);
  });
  return {
    statuses,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('overload control (gateway + simulator at 2x and 4x its capacity)', () => {
  it('clamps lower classes under pressure, sheds batch in overload while critical passes, and recovers', async () => {
    expect((await modelState())?.level).toBe('normal');

    // 2x capacity: four in flight for two running slots, so about two wait per replica.
    const twice = closedLoop(4);
    await waitForLevel('pressure');
    const clamped = await chat(secrets.batch, { max_tokens: 1000 }, { 'x-sim-tokens': '100' });
    expect(clamped.status).toBe(200);
    expect(clamped.headers.get('x-tollbooth-max-tokens-clamped')).toBe(String(CEILING));
    const clampedBody = JSON.parse(clamped.text) as { usage: { completion_tokens: number }; choices: Array<{ finish_reason: string }> };
    expect(clampedBody.usage.completion_tokens).toBe(CEILING);
    expect(clampedBody.choices[0]!.finish_reason).toBe('length');
    const clampedLine = await fleet.gateway.accessLineOf(clamped.headers.get('x-request-id')!);
    expect(clampedLine).toMatchObject({ priority: 'batch', overload_action: 'clamped', max_tokens_clamped_to: CEILING, status: 200 });
    // The rate limiter reserved the clamped cap (a short prompt + 8), not the 1000 the client asked for.
    const reserved = /^tollbooth_rate_limit_reserved_tokens_total\{tenant="nightly",outcome="admitted"\} (\d+)$/m.exec(await (await fetch(`${fleet.gateway.adminUrl}/metrics`)).text());
    expect(Number(reserved?.[1])).toBeGreaterThan(CEILING);
    expect(Number(reserved?.[1])).toBeLessThan(100);
    // A stream is clamped the same way, and the usage the gateway asks for on its behalf composes with it.
    const stream = await chat(secrets.standard, { max_tokens: 1000, stream: true, stream_options: { include_usage: true } }, { 'x-sim-tokens': '100' });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-tollbooth-max-tokens-clamped')).toBe(String(CEILING));
    expect(stream.text).toContain(`"completion_tokens":${CEILING}`);
    expect(stream.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    // A critical request under pressure is neither clamped nor refused.
    const criticalUnderPressure = await chat(secrets.critical, { max_tokens: 1000 }, { 'x-sim-tokens': '30' });
    expect(criticalUnderPressure.status).toBe(200);
    expect(criticalUnderPressure.headers.get('x-tollbooth-max-tokens-clamped')).toBeNull();
    expect((JSON.parse(criticalUnderPressure.text) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(30);

    // 4x capacity: the queue passes overload's threshold.
    const more = closedLoop(4);
    await waitForLevel('overload');
    const shed = await chat(secrets.batch, { max_tokens: 4 });
    expect(shed.status).toBe(503);
    expect(JSON.parse(shed.text)).toMatchObject({ error: { code: 'overloaded', type: 'server_error' } });
    const retryAfter = Number(shed.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const shedLine = await fleet.gateway.accessLineOf(shed.headers.get('x-request-id')!);
    expect(shedLine).toMatchObject({ priority: 'batch', overload_level: 'overload', overload_action: 'shed', status: 503, error_code: 'overloaded' });
    // Standard is clamped in overload, critical passes untouched.
    const standard = await chat(secrets.standard, { max_completion_tokens: 500 }, { 'x-sim-tokens': '50' });
    expect(standard.status).toBe(200);
    expect(standard.headers.get('x-tollbooth-max-tokens-clamped')).toBe(String(CEILING));
    const critical = await chat(secrets.critical, {}, { 'x-sim-tokens': '12' });
    expect(critical.status).toBe(200);
    expect(critical.headers.get('x-tollbooth-max-tokens-clamped')).toBeNull();
    expect((await fleet.gateway.accessLineOf(critical.headers.get('x-request-id')!)).overload_action).toBe('admitted');

    const inOverload = await modelState();
    expect(inOverload?.decisions.batch?.shed).toBeGreaterThanOrEqual(1);
    expect(inOverload?.decisions.batch?.clamped).toBeGreaterThanOrEqual(1);
    expect(inOverload?.decisions.standard?.clamped).toBeGreaterThanOrEqual(1);
    expect(inOverload?.decisions.critical?.shed).toBe(0);
    const exposition = await (await fetch(`${fleet.gateway.adminUrl}/metrics`)).text();
    expect(exposition).toMatch(new RegExp(`^tollbooth_overload_level\\{model="${MODEL}"\\} 2$`, 'm'));
    expect(exposition).toMatch(new RegExp(`^tollbooth_overload_decisions_total\\{model="${MODEL}",class="batch",action="shed"\\} [1-9]`, 'm'));
    expect(exposition).toMatch(new RegExp(`^tollbooth_overload_decisions_total\\{model="${MODEL}",class="batch",action="clamped"\\} [1-9]`, 'm'));
    expect(exposition).toMatch(new RegExp(`^tollbooth_overload_decisions_total\\{model="${MODEL}",class="critical",action="admitted"\\} [1-9]`, 'm'));
    expect(exposition).not.toMatch(/class="critical",action="shed"/);

    // The load stops: once the queue has stayed below the exits for exitAfterMs, back to normal.
    await Promise.all([twice.stop(), more.stop()]);
    expect([...twice.statuses, ...more.statuses].every((status) => status === 200)).toBe(true);
    await waitForLevel('normal');
    const recovered = await chat(secrets.batch, { max_tokens: 1000 }, { 'x-sim-tokens': '20' });
    expect(recovered.status).toBe(200);
    expect(recovered.headers.get('x-tollbooth-max-tokens-clamped')).toBeNull();
    expect((JSON.parse(recovered.text) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(20);
    const exit = fleet.gateway.logs.filter((line) => line.msg === 'overload level changed').map((line) => `${String(line.from)}>${String(line.to)}`);
    expect(exit).toContain('normal>pressure');
    expect(exit.at(-1)).toMatch(/>normal$/);
  }, 120_000);
});

describe('overload control with a critical reserve', () => {
  it('sheds lower classes that would take the reserved engine slot, already at the normal level, while critical goes on', async () => {
    // The engine runs 2 at once; 1 of the 2 is kept for critical: one lower-class request at a time.
    const reserved = await busyFleet({ ...overload, concurrencyPerReplica: 2, criticalReservePerReplica: 1 });
    try {
      const base = reserved.gateway;
      const send = (secret: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => chatTo(base.url, secret, body, headers);
      const state = async () => ((await (await fetch(`${base.adminUrl}/api/v1/metrics`)).json()) as { overload?: Record<string, { level: string; in_flight: Record<string, number> }> }).overload?.[MODEL];
      const long = send(secrets.standard, { max_tokens: 1000 }, { 'x-sim-tokens': '300' });
      const deadline = Date.now() + 30_000;
      while ((await state())?.in_flight.standard !== 1) {
        if (Date.now() > deadline) throw new Error(`the long request never went in flight: ${JSON.stringify(await state())}`);
        await new Promise((wake) => setTimeout(wake, 20));
      }

      const batch = await send(secrets.batch, { max_tokens: 4 });
      expect(batch.status).toBe(503);
      expect(JSON.parse(batch.text)).toMatchObject({ error: { code: 'overloaded' } });
      expect(Number(batch.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await base.accessLineOf(batch.headers.get('x-request-id')!)).toMatchObject({ priority: 'batch', overload_level: 'normal', overload_action: 'shed', status: 503 });
      const critical = await send(secrets.critical, { max_tokens: 1000 }, { 'x-sim-tokens': '5' });
      expect(critical.status).toBe(200);
      expect(critical.headers.get('x-tollbooth-max-tokens-clamped')).toBeNull();
      expect((await state())?.level).toBe('normal');

      // The slot is free again: the lower classes go on.
      expect((await long).status).toBe(200);
      const after = await send(secrets.batch, { max_tokens: 4 });
      expect(after.status).toBe(200);
      expect((await base.accessLineOf(after.headers.get('x-request-id')!)).overload_action).toBe('admitted');
    } finally {
      await reserved.close();
    }
  }, 60_000);
});

describe('overload control off (the default)', () => {
  it('installs nothing: no state in the JSON, no series, no access-log decision, max_tokens forwarded as sent', async () => {
    const plain = await startFleet({ models: [MODEL], simulator: { maxRunning: 1 } });
    try {
      const answer = await postJson(`${plain.gateway.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000 }, { 'x-sim-tokens': '20' });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-tollbooth-max-tokens-clamped')).toBeNull();
      expect((JSON.parse(answer.text) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(20);
      const line = await plain.gateway.accessLineOf(answer.headers.get('x-request-id')!);
      expect(line).toMatchObject({ priority: null, overload_action: null, max_tokens_clamped_to: null });
      const json = (await (await fetch(`${plain.gateway.adminUrl}/api/v1/metrics`)).json()) as Record<string, unknown>;
      expect(json).not.toHaveProperty('overload');
      // The decisions counter is declared (HELP and TYPE) with no series; the level gauge does not exist.
      const exposition = await (await fetch(`${plain.gateway.adminUrl}/metrics`)).text();
      expect(exposition).not.toMatch(/^tollbooth_overload_\w+\{/m);
      expect(exposition).not.toContain('tollbooth_overload_level');
    } finally {
      await plain.close();
    }
  }, 60_000);
});

describe('overload control with the gateway queue', () => {
  it('holds batch and standard in overload: batch is shed at its deadline, standard goes on once the load stops', async () => {
    const queued = await busyFleet({ ...overload, queue: { enabled: true, deadlineMs: { batch: 300, standard: 60_000 } } });
    try {
      const base = queued.gateway;
      const send = (secret: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => chatTo(base.url, secret, body, headers);
      const level = async () => ((await (await fetch(`${base.adminUrl}/api/v1/metrics`)).json()) as { overload?: Record<string, { level: string; queued: number }> }).overload?.[MODEL];
      const until = async (check: (state: { level: string; queued: number } | undefined) => boolean, what: string) => {
        const deadline = Date.now() + 30_000;
        for (let state = await level(); !check(state); state = await level()) {
          if (Date.now() > deadline) throw new Error(`never ${what}: ${JSON.stringify(state)}`);
          await new Promise((wake) => setTimeout(wake, 50));
        }
      };

      let running = true;
      const loops = Array.from({ length: 8 }, async () => {
        while (running) await send(secrets.critical, { max_tokens: 20 }, { 'x-sim-tokens': '20' });
      });
      await until((state) => state?.level === 'overload', 'overloaded');

      const batch = await send(secrets.batch, { max_tokens: 4 });
      expect(batch.status).toBe(503);
      expect(JSON.parse(batch.text)).toMatchObject({ error: { code: 'overloaded' } });
      expect(Number(batch.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const batchLine = await base.accessLineOf(batch.headers.get('x-request-id')!);
      expect(batchLine).toMatchObject({ priority: 'batch', overload_action: 'shed' });
      expect(batchLine.overload_queued_ms as number).toBeGreaterThanOrEqual(250);

      const standard = send(secrets.standard, { max_tokens: 1000 }, { 'x-sim-tokens': '20' });
      await until((state) => state?.queued === 1, 'holding the standard request');
      running = false;
      await Promise.all(loops);
      const released = await standard;
      expect(released.status).toBe(200);
      const releasedLine = await base.accessLineOf(released.headers.get('x-request-id')!);
      expect(releasedLine).toMatchObject({ priority: 'standard', overload_level: 'overload', status: 200 });
      expect(['admitted', 'clamped']).toContain(releasedLine.overload_action);
      expect(releasedLine.overload_queued_ms as number).toBeGreaterThan(0);

      const exposition = await (await fetch(`${base.adminUrl}/metrics`)).text();
      expect(exposition).toMatch(new RegExp(`^tollbooth_overload_queue_wait_seconds_count\\{model="${MODEL}",class="batch",action="shed"\\} 1$`, 'm'));
      expect(exposition).toMatch(new RegExp(`^tollbooth_overload_queue_wait_seconds_count\\{model="${MODEL}",class="standard",action="(admitted|clamped)"\\} 1$`, 'm'));
    } finally {
      await queued.close();
    }
  }, 120_000);
});
