import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startDemo, stopCli, type CliProcess } from '../../helpers/cli.js';

/**
 * The demo as a user runs it (`tollbooth demo --config config/demo.yaml`, built CLI): it prints a
 * key, and a few requests with the official SDK later that key gets a 429 whose headers say why
 * and when to retry. Free ports (TOLLBOOTH_PORT=0, TOLLBOOTH_ADMIN_PORT=0, TOLLBOOTH_DEMO_FREE_PORTS=1) keep it from
 * colliding with anything else on the machine.
 */

const MODEL = 'llama-3.1-8b-instruct';
const DEMO_REQUESTS_PER_MINUTE = 10;
/** How x-ratelimit-reset-* are written: "12ms", "1.5s", "1m0s". */
const GO_DURATION = /^(\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$/;
let demo: CliProcess | undefined;

afterEach(async () => {
  // Whatever happened in the test, the demo process does not outlive it.
  const running = demo;
  demo = undefined;
  await stopCli(running);
});

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('tollbooth demo', () => {
  it('prints a key whose small limit answers a 429 with retry hints the OpenAI SDK reads, and stops on SIGTERM', async () => {
    const { demo: running, apiKey, baseURL } = await startDemo((started) => (demo = started));
    expect(apiKey).toMatch(/^sk-tb-/);
    // The replicas are served once the first probe saw them.
    const deadline = Date.now() + 10_000;
    while ((await fetch(`${new URL(baseURL!).origin}/ready`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the demo gateway never became ready');
      await new Promise((wake) => setTimeout(wake, 100));
    }

    const client = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
    let admitted = 0;
    let refusal: unknown;
    for (let attempt = 0; attempt < 3 * DEMO_REQUESTS_PER_MINUTE && refusal === undefined; attempt += 1) {
      try {
        await client.chat.completions.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] });
        admitted += 1;
      } catch (error) {
        refusal = error;
      }
    }
    // The key's burst is a minute's worth of requests; the refill may add one while they run.
    expect(admitted).toBeGreaterThanOrEqual(DEMO_REQUESTS_PER_MINUTE);
    expect(refusal).toBeInstanceOf(OpenAI.RateLimitError);
    const limited = refusal as InstanceType<typeof OpenAI.RateLimitError>;
    expect(limited.status).toBe(429);
    expect(limited.code).toBe('rate_limit_exceeded');
    expect(limited.type).toBe('rate_limit_error');
    const headers = limited.headers;
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(headers.get('x-should-retry')).not.toBe('false');
    expect(headers.get('x-ratelimit-limit-requests')).toBe(String(DEMO_REQUESTS_PER_MINUTE));
    expect(headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(headers.get('x-ratelimit-reset-requests')).toMatch(GO_DURATION);
    expect(headers.get('x-ratelimit-limit-tokens')).toBe('2000');
    expect(Number(headers.get('x-ratelimit-remaining-tokens'))).toBeGreaterThan(0);
    expect(headers.get('x-ratelimit-reset-tokens')).toMatch(GO_DURATION);

    running.child.kill('SIGTERM');
    expect(await within(running.exited(), 10_000, 'the demo stopping')).toEqual({ code: 0, signal: null });
  });
});
