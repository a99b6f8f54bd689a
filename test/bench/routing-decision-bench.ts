/**
 * Micro-benchmark of the session-aware routing decision (not part of the tests): µs per
 * `chooseReplica` over 64 replicas, ring built beforehand, each call timed on its own (the timer's
 * own cost is measured and printed alongside), and the cost of `sessionKeyOf` for a chat body with
 * a long system prompt (the 1,024-character prefix key).
 *
 * Build and run (compiles only this file's imports):
 *   npx tsc --outDir /tmp/routing-bench --rootDir . --module nodenext --moduleResolution nodenext \
 *     --target es2022 --strict --skipLibCheck --types node test/bench/routing-decision-bench.ts
 *   node /tmp/routing-bench/test/bench/routing-decision-bench.js
 */

import { chooseReplica, leastLoaded, type Candidate } from '../../src/routing/balancer.js';
import { HashRing } from '../../src/routing/hash-ring.js';
import { DEFAULT_SESSION_KEY_SETTINGS, sessionKeyOf, type SessionKey } from '../../src/routing/session-key.js';
import { stableHash32 } from '../../src/routing/stable-hash.js';
import { seededRandom } from '../helpers/seeded-random.js';

const REPLICAS = 64;
const DECISIONS = Number(process.env.ROUTING_BENCH_DECISIONS ?? 200_000);


interface MutableCandidate extends Candidate {
  inFlight: number;
  waiting: number;
}

const names = Array.from({ length: REPLICAS }, (_, i) => `vllm-${i}.example.internal:8000`);
const ring = new HashRing(names);
const random = seededRandom(1);
const keys: SessionKey[] = Array.from({ length: 4096 }, (_, i) => ({ hash: stableHash32(`session-${i}`), source: 'header', conversationId: `session-${i}` }));

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function report(label: string, samples: Float64Array, timerNs: number): void {
  samples.sort();
  const us = (ns: number) => (ns / 1000).toFixed(2).padStart(7);
  console.log(
    `${label.padEnd(44)} p50 ${us(percentile(samples, 0.5))} µs  p99 ${us(percentile(samples, 0.99))} µs  p99.9 ${us(percentile(samples, 0.999))} µs  max ${us(samples[samples.length - 1]!)} µs  (timer ≈ ${timerNs.toFixed(0)} ns included)`,
  );
}

function timerOverhead(): number {
  const samples = new Float64Array(100_000);
  for (let i = 0; i < samples.length; i++) {
    const t0 = process.hrtime.bigint();
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  samples.sort();
  return percentile(samples, 0.5);
}

/**
 * `meanInFlight` per replica on average; `skew` keeps that share of the load on the first quarter
 * of the replicas (it starts there and finishes elsewhere), so their keys must walk on (overflow).
 */
function run(label: string, meanInFlight: number, skew: number, withKey: boolean, timerNs: number): void {
  const candidates: MutableCandidate[] = names.map((name) => ({ name, inFlight: 0, waiting: 0 }));
  const target = meanInFlight * REPLICAS;
  for (let i = 0; i < target; i++) {
    const index = random() < skew ? Math.floor(random() * (REPLICAS / 4)) : Math.floor(random() * REPLICAS);
    candidates[index]!.inFlight++;
  }
  for (const candidate of candidates) candidate.waiting = random() < 0.1 ? Math.floor(random() * 4) : 0;
  const samples = new Float64Array(DECISIONS);
  const outcomes = new Map<string, number>();
  let sink = 0;
  for (let i = -DECISIONS / 10; i < DECISIONS; i++) {
    const key = withKey ? keys[i & 4095] : undefined;
    const t0 = process.hrtime.bigint();
    const decision = withKey ? chooseReplica(candidates, ring, key, 1.25, random) : leastLoaded(candidates, random);
    const elapsed = Number(process.hrtime.bigint() - t0);
    if (i >= 0) {
      samples[i] = elapsed;
      outcomes.set(decision.outcome, (outcomes.get(decision.outcome) ?? 0) + 1);
    }
    // Keep the total steady: the chosen replica takes the request, a random busy one finishes one
    // (with skew, mostly outside the first quarter, so that quarter stays full).
    candidates[decision.index]!.inFlight++;
    const finishing = candidates[random() < skew ? REPLICAS / 4 + Math.floor(random() * (REPLICAS * 0.75)) : Math.floor(random() * REPLICAS)]!;
    if (finishing.inFlight > 0) finishing.inFlight--;
    else candidates[decision.index]!.inFlight--;
    sink += decision.index;
  }
  const mix = [...outcomes].map(([outcome, count]) => `${outcome} ${((100 * count) / DECISIONS).toFixed(0)}%`).join(', ');
  report(`${label} [${mix}]`, samples, timerNs);
  if (sink === -1) console.log(sink);
}

function runSessionKey(timerNs: number): void {
  const system = 'You are the support assistant of Example Corp. Answer politely and precisely. '.repeat(30);
  const bodies = Array.from({ length: 64 }, (_, i) => ({
    model: 'llama',
    messages: [
      { role: 'system', content: `${i} ${system}` },
      { role: 'user', content: 'What is my balance?' },
    ],
  }));
  const samples = new Float64Array(DECISIONS / 4);
  let sink = 0;
  for (let i = -samples.length / 10; i < samples.length; i++) {
    const t0 = process.hrtime.bigint();
    const key = sessionKeyOf({}, bodies[i & 63], 'tenant-a', DEFAULT_SESSION_KEY_SETTINGS);
    const elapsed = Number(process.hrtime.bigint() - t0);
    if (i >= 0) samples[i] = elapsed;
    sink += key?.hash ?? 0;
  }
  report('sessionKeyOf, 1,024-char prefix key', samples, timerNs);
  if (sink === -1) console.log(sink);
}

const timerNs = timerOverhead();
console.log(`routing decision, ${REPLICAS} replicas × ${ring.virtualNodes} virtual nodes, ${DECISIONS} decisions per case, Node ${process.version}`);
run('key, even load (8 in flight each)', 8, 0, true, timerNs);
run('key, skewed load (owners often full)', 8, 0.6, true, timerNs);
run('key, idle fleet', 0, 0, true, timerNs);
run('no key, power of two choices', 8, 0, false, timerNs);
runSessionKey(timerNs);
