/**
 * Session-aware routing benchmark (`npm run bench:routing`, started by run-routing-bench.sh, which
 * owns the processes: 4 simulator replicas with the prefix cache on, one gateway per routing
 * variant, one more session gateway for the failover scenario).
 *
 * Workload: conversations with a long system prompt (distinct per conversation, its distinguishing
 * text at the start so the 1,024-character prefix key tells them apart) and a history that grows
 * over TURNS turns: each turn resends the whole conversation (system, every earlier user message
 * and the assistant's actual reply) plus a new user message, streamed, as chat clients do.
 * CONCURRENCY conversations are in flight; each runs its turns back to back. Even-numbered
 * conversations send `x-session-id`, odd ones send no id at all (the gateway's prefix key carries
 * them). Each variant runs ROUNDS times, the variants interleaved (order reversed every other
 * round), with prompts unique to (round, variant) so no variant reuses another's cache entries.
 *
 * Per request: TTFT as the client sees it (request start → first content-bearing SSE frame, the
 * harness's SseScanner), the serving replica (x-tollbooth-replica), and the usage frame the client
 * asks for (stream_options.include_usage) with the simulator's prompt_tokens_details.cached_tokens.
 * Per replica: requests served and mean in-flight load (the client-side [start, end] intervals of
 * the requests it served, summed, ÷ phase wall time).
 *
 * Failover (ROUTING_FAILOVER): a fresh session gateway, non-streaming requests, and one replica
 * SIGKILLed FAILOVER_KILL_AFTER_MS into the run; client-visible errors and the gateway's
 * tollbooth_failovers_total are reported.
 */
import { Agent, request } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { SseScanner } from './sse-scan.js';
import { summarize, type Summary } from './stats.js';
import { seededRandom } from '../helpers/seeded-random.js';

interface Gateway {
  readonly name: string;
  readonly url: string;
  /** The admin listener, where /metrics is served. */
  readonly adminUrl: string;
  readonly strategy: string;
  readonly capacityFactor: number;
  /** Extra variants are reported but not gated. */
  readonly extra: boolean;
}
interface Sim {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
}

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const GATEWAYS = JSON.parse(env('ROUTING_GATEWAYS')) as Gateway[];
const SIMS = JSON.parse(env('ROUTING_SIMS')) as Sim[];
const FAILOVER = process.env.ROUTING_FAILOVER ? (JSON.parse(process.env.ROUTING_FAILOVER) as { url: string; adminUrl: string }) : undefined;
const CONVERSATIONS = Number(env('ROUTING_CONVERSATIONS', '100'));
const ROUNDS = Number(env('ROUTING_ROUNDS', '2'));
const TURNS = Number(env('ROUTING_TURNS', '6'));
const CONCURRENCY = Number(env('ROUTING_CONCURRENCY', '32'));
const FAILOVER_CONVERSATIONS = Number(env('ROUTING_FAILOVER_CONVERSATIONS', '64'));
const FAILOVER_CONCURRENCY = Number(env('ROUTING_FAILOVER_CONCURRENCY', '16'));
const FAILOVER_KILL_AFTER_MS = Number(env('ROUTING_FAILOVER_KILL_AFTER_MS', '3000'));
const OUT_DIR = env('ROUTING_OUT_DIR');
const DECISION_OUTPUT = process.env.ROUTING_DECISION_OUTPUT;
const SIM_CONFIG = process.env.ROUTING_SIM_CONFIG ?? '';
const MODEL = 'tollbooth-sim-model';
const REQUEST_TIMEOUT_MS = 30_000;

const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

// --- text --------------------------------------------------------------------------------------

const WORDS = (
  'account balance policy refund shipping order invoice customer support priority premium billing ' +
  'warranty return exchange delivery tracking address payment method subscription renewal cancel ' +
  'discount coupon product service contract region language escalate agent ticket status answer ' +
  'politely precisely always never confirm verify identity secure privacy data record history note'
).split(' ');
function words(random: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]!);
  return out.join(' ');
}

interface Conversation {
  readonly id: string;
  readonly withSessionId: boolean;
  readonly messages: { role: string; content: string }[];
  readonly random: () => number;
}

function newConversation(tag: string, index: number, seed: number): Conversation {
  const random = seededRandom(seed);
  // ~3,000 characters, distinct from the first character on (the prefix key reads 1,024).
  const system = `[${tag} #${index}] You are the assistant of tenant ${tag}-${index}. ${words(random, 420)}.`;
  return { id: `${tag}-${index}`, withSessionId: index % 2 === 0, messages: [{ role: 'system', content: system }], random };
}

// --- one request ---------------------------------------------------------------------------------

interface Sample {
  readonly variant: string;
  readonly round: number;
  readonly half: 'session-id' | 'prefix-key';
  readonly turn: number;
  readonly ok: boolean;
  readonly error: string | undefined;
  readonly status: number;
  readonly replica: string;
  readonly start: number;
  readonly end: number;
  readonly ttftMs: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
}

interface Exchange {
  status: number;
  replica: string;
  ttftMs: number;
  body: string;
  error: string | undefined;
  end: number;
}

function post(baseUrl: string, payload: string, headers: Record<string, string>, stream: boolean, start: number): Promise<Exchange> {
  return new Promise((resolve) => {
    const url = new URL('/v1/chat/completions', baseUrl);
    const result: Exchange = { status: 0, replica: '', ttftMs: Number.NaN, body: '', error: undefined, end: 0 };
    const finish = (error?: string): void => {
      if (result.end !== 0) return;
      result.end = performance.now();
      if (error !== undefined) result.error = error;
      resolve(result);
    };
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } },
      (res) => {
        result.status = res.statusCode ?? 0;
        const replica = res.headers['x-tollbooth-replica'];
        result.replica = typeof replica === 'string' ? replica : '';
        const scanner = new SseScanner();
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (stream && !scanner.contentSeen) {
            scanner.push(chunk);
            if (scanner.contentSeen) result.ttftMs = performance.now() - start;
          }
        });
        res.on('end', () => {
          result.body = Buffer.concat(chunks).toString('utf8');
          finish(result.status === 200 ? undefined : `HTTP ${result.status}`);
        });
        res.on('error', (error) => finish(`response: ${error.message}`));
        res.on('aborted', () => finish('response aborted'));
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => finish(`request: ${error.message}`));
    req.end(payload);
  });
}

interface Parsed {
  content: string;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  inBandError: boolean;
}
interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}
function parseBody(body: string, stream: boolean): Parsed {
  const parsed: Parsed = { content: '', promptTokens: 0, cachedTokens: 0, completionTokens: 0, inBandError: false };
  const takeUsage = (usage: Usage | undefined): void => {
    if (usage === undefined || usage === null) return;
    parsed.promptTokens = usage.prompt_tokens ?? 0;
    parsed.completionTokens = usage.completion_tokens ?? 0;
    parsed.cachedTokens = usage.prompt_tokens_details?.cached_tokens ?? 0;
  };
  if (!stream) {
    const json = JSON.parse(body) as { choices?: { message?: { content?: string } }[]; usage?: Usage };
    parsed.content = json.choices?.[0]?.message?.content ?? '';
    takeUsage(json.usage);
    return parsed;
  }
  for (const frame of body.split('\n\n')) {
    if (!frame.startsWith('data: ')) continue;
    const data = frame.slice(6);
    if (data === '[DONE]') continue;
    const json = JSON.parse(data) as { choices?: { delta?: { content?: string } }[]; usage?: Usage; error?: unknown };
    if (json.error !== undefined) parsed.inBandError = true;
    parsed.content += json.choices?.[0]?.delta?.content ?? '';
    takeUsage(json.usage ?? undefined);
  }
  return parsed;
}

async function runConversation(baseUrl: string, conversation: Conversation, variant: string, round: number, stream: boolean, samples: Sample[]): Promise<void> {
  for (let turn = 1; turn <= TURNS; turn++) {
    conversation.messages.push({ role: 'user', content: `Question ${turn}: ${words(conversation.random, 25 + Math.floor(conversation.random() * 30))}?` });
    const payload = JSON.stringify({
      model: MODEL,
      messages: conversation.messages,
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    });
    const headers: Record<string, string> = conversation.withSessionId ? { 'x-session-id': conversation.id } : {};
    const start = performance.now();
    const exchange = await post(baseUrl, payload, headers, stream, start);
    let parsed: Parsed | undefined;
    let error = exchange.error;
    if (error === undefined) {
      try {
        parsed = parseBody(exchange.body, stream);
        if (parsed.inBandError) error = 'in-band error frame';
      } catch (caught) {
        error = `bad body: ${(caught as Error).message}`;
      }
    }
    samples.push({
      variant,
      round,
      half: conversation.withSessionId ? 'session-id' : 'prefix-key',
      turn,
      ok: error === undefined,
      error,
      status: exchange.status,
      replica: exchange.replica,
      start,
      end: exchange.end,
      ttftMs: exchange.ttftMs,
      promptTokens: parsed?.promptTokens ?? 0,
      cachedTokens: parsed?.cachedTokens ?? 0,
      completionTokens: parsed?.completionTokens ?? 0,
    });
    // A failed turn still leaves the conversation going: the client retries with a new question.
    conversation.messages.push({ role: 'assistant', content: parsed?.content || 'Sorry, could you repeat that?' });
  }
}

async function runPhase(
  baseUrl: string,
  tag: string,
  conversations: number,
  concurrency: number,
  stream: boolean,
  variant: string,
  round: number,
  during?: (startedAt: number) => Promise<void>,
): Promise<{ samples: Sample[]; wallMs: number; startedAt: number }> {
  const samples: Sample[] = [];
  let next = 0;
  const startedAt = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      if (index >= conversations) return;
      await runConversation(baseUrl, newConversation(tag, index, (round + 1) * 100_003 + index), variant, round, stream, samples);
    }
  };
  const side = during?.(startedAt);
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  await side;
  return { samples, wallMs: performance.now() - startedAt, startedAt };
}

// --- figures -------------------------------------------------------------------------------------

interface ReplicaLoad {
  readonly requests: number;
  readonly meanInFlight: number;
}
interface VariantFigures {
  readonly name: string;
  readonly strategy: string;
  readonly capacityFactor: number;
  readonly extra: boolean;
  readonly requests: number;
  readonly errors: number;
  readonly ttft: Summary;
  readonly ttftByHalf: Record<string, Summary>;
  readonly ttftLaterTurns: Summary;
  readonly requestsPerSecond: number;
  readonly outputTokensPerSecond: number;
  readonly cachedShare: number;
  readonly cachedShareByHalf: Record<string, number>;
  readonly replicas: Record<string, ReplicaLoad>;
  readonly spreadRequests: number;
  readonly spreadInFlight: number;
  readonly decisions: Record<string, number>;
}

function cachedShare(samples: readonly Sample[]): number {
  let prompt = 0;
  let cached = 0;
  for (const sample of samples) {
    prompt += sample.promptTokens;
    cached += sample.cachedTokens;
  }
  return prompt === 0 ? Number.NaN : cached / prompt;
}

function figures(gateway: Gateway, phases: { samples: Sample[]; wallMs: number }[], decisions: Record<string, number>): VariantFigures {
  const samples = phases.flatMap((phase) => phase.samples);
  const ok = samples.filter((sample) => sample.ok);
  const wallMs = phases.reduce((sum, phase) => sum + phase.wallMs, 0);
  const replicas: Record<string, ReplicaLoad> = {};
  for (const sim of SIMS) {
    const served = ok.filter((sample) => sample.replica === sim.name);
    const busyMs = served.reduce((sum, sample) => sum + (sample.end - sample.start), 0);
    replicas[sim.name] = { requests: served.length, meanInFlight: busyMs / wallMs };
  }
  const loads = Object.values(replicas);
  const ratio = (values: number[]): number => Math.max(...values) / (values.reduce((a, b) => a + b, 0) / values.length);
  const halves = ['session-id', 'prefix-key'] as const;
  return {
    name: gateway.name,
    strategy: gateway.strategy,
    capacityFactor: gateway.capacityFactor,
    extra: gateway.extra,
    requests: samples.length,
    errors: samples.length - ok.length,
    ttft: summarize(ok.map((sample) => sample.ttftMs)),
    ttftByHalf: Object.fromEntries(halves.map((half) => [half, summarize(ok.filter((s) => s.half === half).map((s) => s.ttftMs))])),
    ttftLaterTurns: summarize(ok.filter((sample) => sample.turn > 1).map((sample) => sample.ttftMs)),
    requestsPerSecond: ok.length / (wallMs / 1000),
    outputTokensPerSecond: ok.reduce((sum, sample) => sum + sample.completionTokens, 0) / (wallMs / 1000),
    cachedShare: cachedShare(ok),
    cachedShareByHalf: Object.fromEntries(halves.map((half) => [half, cachedShare(ok.filter((s) => s.half === half))])),
    replicas,
    spreadRequests: ratio(loads.map((load) => load.requests)),
    spreadInFlight: ratio(loads.map((load) => load.meanInFlight)),
    decisions,
  };
}

async function scrape(adminUrl: string): Promise<string> {
  const response = await fetch(new URL('/metrics', adminUrl));
  return response.text();
}
function metricSum(text: string, name: string, filter: (labels: string) => boolean = () => true): Record<string, number> {
  const out: Record<string, number> = {};
  const pattern = new RegExp(`^${name}(\\{[^}]*\\})?\\s+([0-9.eE+-]+)$`, 'gm');
  for (const match of text.matchAll(pattern)) {
    const labels = match[1] ?? '';
    if (!filter(labels)) continue;
    const outcome = /outcome="([^"]+)"/.exec(labels)?.[1] ?? 'total';
    out[outcome] = (out[outcome] ?? 0) + Number(match[2]);
  }
  return out;
}

// --- report --------------------------------------------------------------------------------------

const ms = (value: number): string => (Number.isNaN(value) ? '–' : value.toFixed(1));
const pct = (value: number): string => (Number.isNaN(value) ? '–' : `${(100 * value).toFixed(1)} %`);

function decisionFigures(): { text: string; keyedP99Us: number; sessionKeyP99Us: number } | undefined {
  if (DECISION_OUTPUT === undefined) return undefined;
  const text = readFileSync(DECISION_OUTPUT, 'utf8').trim();
  let keyedP99Us = 0;
  let sessionKeyP99Us = Number.NaN;
  for (const line of text.split('\n')) {
    const p99 = /p99\s+([0-9.]+) µs/.exec(line);
    if (p99 === null) continue;
    if (line.startsWith('sessionKeyOf')) sessionKeyP99Us = Number(p99[1]);
    else keyedP99Us = Math.max(keyedP99Us, Number(p99[1]));
  }
  return { text, keyedP99Us, sessionKeyP99Us };
}

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  // Warm-up: connections and JIT of every gateway, a few conversations that are not measured.
  for (const gateway of GATEWAYS) await runPhase(gateway.url, `warm-${gateway.name}`, 8, 8, true, gateway.name, -1);

  const phases = new Map<string, { samples: Sample[]; wallMs: number }[]>(GATEWAYS.map((gateway) => [gateway.name, []]));
  const benchStart = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? GATEWAYS : [...GATEWAYS].reverse();
    for (const gateway of order) {
      const phase = await runPhase(gateway.url, `r${round}-${gateway.name}`, CONVERSATIONS, CONCURRENCY, true, gateway.name, round);
      phases.get(gateway.name)!.push(phase);
      const f = figures(gateway, [phase], {});
      console.error(
        `round ${round} ${gateway.name.padEnd(22)} ${String(phase.samples.length).padStart(5)} req  ${(phase.wallMs / 1000).toFixed(1)} s  TTFT p50 ${ms(f.ttft.p50)} p99 ${ms(f.ttft.p99)} ms  cached ${pct(f.cachedShare)}  spread ${f.spreadRequests.toFixed(2)}  errors ${f.errors}`,
      );
    }
  }
  const mainSeconds = (performance.now() - benchStart) / 1000;

  const results: VariantFigures[] = [];
  for (const gateway of GATEWAYS) {
    const decisions = metricSum(await scrape(gateway.adminUrl), 'tollbooth_routing_decisions_total');
    results.push(figures(gateway, phases.get(gateway.name)!, decisions));
  }

  // --- failover
  let failover:
    | { requests: number; errors: number; errorSamples: string[]; killed: string; killedAtMs: number; failovers: number; afterKill: number; ttfbAfterKill: Summary; replicas: Record<string, number> }
    | undefined;
  if (FAILOVER !== undefined) {
    const victim = SIMS[1]!;
    let killedAt = 0;
    const phase = await runPhase(FAILOVER.url, 'failover', FAILOVER_CONVERSATIONS, FAILOVER_CONCURRENCY, false, 'failover', 0, async (startedAt) => {
      await sleep(FAILOVER_KILL_AFTER_MS);
      killedAt = performance.now();
      process.kill(victim.pid, 'SIGKILL');
      console.error(`failover: SIGKILL ${victim.name} (pid ${victim.pid}) ${((killedAt - startedAt) / 1000).toFixed(1)} s into the run`);
    });
    const metrics = await scrape(FAILOVER.adminUrl);
    const failed = phase.samples.filter((sample) => !sample.ok);
    const afterKill = phase.samples.filter((sample) => sample.end >= killedAt);
    const replicas: Record<string, number> = {};
    for (const sample of phase.samples) replicas[sample.replica || '(none)'] = (replicas[sample.replica || '(none)'] ?? 0) + 1;
    failover = {
      requests: phase.samples.length,
      errors: failed.length,
      errorSamples: [...new Set(failed.map((sample) => `${sample.status} ${sample.error}`))].slice(0, 5),
      killed: victim.name,
      killedAtMs: killedAt - phase.startedAt,
      failovers: metricSum(metrics, 'tollbooth_failovers_total').total ?? 0,
      afterKill: afterKill.length,
      ttfbAfterKill: summarize(afterKill.filter((s) => s.ok && s.start <= killedAt).map((s) => s.end - s.start)),
      replicas,
    };
  }

  const decision = decisionFigures();
  const session = results.find((r) => r.strategy === 'session' && !r.extra)!;
  const roundRobin = results.find((r) => r.strategy === 'round-robin')!;
  const ttftGain = 1 - session.ttft.p50 / roundRobin.ttft.p50;

  const lines: string[] = [];
  lines.push(`Gateway code ${process.env.ROUTING_GIT_COMMIT ?? 'unknown'}; Node ${process.version}, ${SIMS.length} simulator replicas (${SIM_CONFIG}), ${ROUNDS} interleaved rounds × ${CONVERSATIONS} conversations × ${TURNS} turns per variant, ${CONCURRENCY} conversations in flight, streamed; main phase ${mainSeconds.toFixed(0)} s.`);
  lines.push('');
  lines.push('| variant | requests | errors | TTFT p50 ms | TTFT p99 ms | TTFT mean ms | TTFT p50 / mean turns ≥ 2 | req/s | output tok/s | prefix-cache hit share | busiest ÷ avg (requests) | busiest ÷ avg (mean in-flight) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    lines.push(
      `| ${r.name}${r.extra ? ' (extra)' : ''} | ${r.requests} | ${r.errors} | ${ms(r.ttft.p50)} | ${ms(r.ttft.p99)} | ${ms(r.ttft.mean)} | ${ms(r.ttftLaterTurns.p50)} / ${ms(r.ttftLaterTurns.mean)} | ${r.requestsPerSecond.toFixed(1)} | ${r.outputTokensPerSecond.toFixed(0)} | ${pct(r.cachedShare)} | ${r.spreadRequests.toFixed(2)} | ${r.spreadInFlight.toFixed(2)} |`,
    );
  }
  lines.push('');
  lines.push('By half (x-session-id vs. no id → prefix key): TTFT p50 / p99 ms, prefix-cache hit share');
  lines.push('');
  lines.push('| variant | session-id p50 | session-id p99 | session-id hit share | prefix-key p50 | prefix-key p99 | prefix-key hit share |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const a = r.ttftByHalf['session-id']!;
    const b = r.ttftByHalf['prefix-key']!;
    lines.push(`| ${r.name} | ${ms(a.p50)} | ${ms(a.p99)} | ${pct(r.cachedShareByHalf['session-id']!)} | ${ms(b.p50)} | ${ms(b.p99)} | ${pct(r.cachedShareByHalf['prefix-key']!)} |`);
  }
  lines.push('');
  lines.push('Per replica: requests served / mean in-flight requests; gateway routing decisions (tollbooth_routing_decisions_total, warm-up included)');
  lines.push('');
  lines.push(`| variant | ${SIMS.map((sim) => sim.name).join(' | ')} | decisions |`);
  lines.push(`|---|${SIMS.map(() => '---:').join('|')}|---|`);
  for (const r of results) {
    const cells = SIMS.map((sim) => `${r.replicas[sim.name]!.requests} / ${r.replicas[sim.name]!.meanInFlight.toFixed(2)}`);
    const mix = Object.entries(r.decisions).map(([outcome, count]) => `${outcome} ${count}`).join(', ');
    lines.push(`| ${r.name} | ${cells.join(' | ')} | ${mix} |`);
  }
  lines.push('');
  if (decision !== undefined) {
    lines.push('Routing decision micro-benchmark (dist/test/bench/routing-decision-bench.js):');
    lines.push('');
    lines.push('```');
    lines.push(decision.text);
    lines.push('```');
    lines.push('');
  }
  if (failover !== undefined) {
    lines.push(
      `Failover: session gateway, non-streaming, ${FAILOVER_CONVERSATIONS} conversations × ${TURNS} turns, ${FAILOVER_CONCURRENCY} in flight; ${failover.killed} SIGKILLed ${(failover.killedAtMs / 1000).toFixed(1)} s in. ` +
        `${failover.requests} requests, ${failover.errors} client-visible errors${failover.errors > 0 ? ` (${failover.errorSamples.join('; ')})` : ''}, ` +
        `tollbooth_failovers_total ${failover.failovers}; requests in flight at the kill: latency p50 ${ms(failover.ttfbAfterKill.p50)} / max ${ms(failover.ttfbAfterKill.max)} ms; served per replica ${JSON.stringify(failover.replicas)}.`,
    );
    lines.push('');
  }
  const bar = (pass: boolean): string => (pass ? 'PASS' : 'MISS');
  lines.push('Bars:');
  lines.push(`- session TTFT p50 ≥ 30 % below round-robin: ${ms(session.ttft.p50)} vs ${ms(roundRobin.ttft.p50)} ms → ${pct(ttftGain)} lower: ${bar(ttftGain >= 0.3)}`);
  lines.push(
    `- session load spread, busiest ÷ average ≤ 1.3 (gated on requests served; mean in-flight shown): ${session.spreadRequests.toFixed(2)} (in-flight ${session.spreadInFlight.toFixed(2)}): ${bar(session.spreadRequests <= 1.3)}` +
      ` (in-flight: ${bar(session.spreadInFlight <= 1.3)})`,
  );
  for (const r of results.filter((x) => x.extra)) {
    lines.push(`  - extra ${r.name}: TTFT p50 ${ms(r.ttft.p50)} ms (${pct(1 - r.ttft.p50 / roundRobin.ttft.p50)} below round-robin), spread ${r.spreadRequests.toFixed(2)} requests / ${r.spreadInFlight.toFixed(2)} in-flight`);
  }
  if (decision !== undefined) {
    lines.push(`- routing decision p99 ≤ 20 µs with 64 replicas (worst chooseReplica case): ${decision.keyedP99Us.toFixed(2)} µs: ${bar(decision.keyedP99Us <= 20)} (sessionKeyOf p99 ${decision.sessionKeyP99Us.toFixed(2)} µs on top)`);
  }
  if (failover !== undefined) lines.push(`- failover, client-visible errors = 0: ${failover.errors}: ${bar(failover.errors === 0)}; tollbooth_failovers_total ${failover.failovers}`);
  const report = lines.join('\n');
  console.log(report);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(`${OUT_DIR}/routing-${stamp}.md`, `${report}\n`);
  writeFileSync(`${OUT_DIR}/routing-${stamp}.json`, JSON.stringify({ results, failover, decision, mainSeconds }, null, 2));
  agent.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
