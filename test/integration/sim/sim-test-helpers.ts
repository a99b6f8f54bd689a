import { startSimulator, type RunningSimulator, type SimulatorOptionsInput } from '../../../src/sim/index.js';

/** Fast defaults so tests do not wait on realistic latencies unless they ask for them. */
export async function fastSimulator(options: SimulatorOptionsInput = {}): Promise<RunningSimulator> {
  return startSimulator({ prefillBaseMs: 1, prefillPerTokenMs: 0, interTokenMs: 1, ...options });
}

export function postJson(sim: RunningSimulator, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(sim.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
}

export const chatBody = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'tollbooth-sim-model',
  messages: [{ role: 'user', content: 'Tell me about the gateway.' }],
  ...extra,
});

/** `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => frame.slice('data: '.length));
}

export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not met in time');
}
