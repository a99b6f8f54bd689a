/**
 * Micro-benchmark of the stream tap (not part of the tests): ns per upstream chunk for a 64-chunk
 * vLLM chat stream (role chunk, 61 content chunks, finish chunk, usage event, [DONE] = 65 chunks
 * counted as 64 + [DONE]), against a plain loop that only touches each chunk.
 *
 * Build and run: `npx tsc -p tsconfig.json --outDir /tmp/tb && node /tmp/tb/test/bench/stream-tap-bench.js`
 * (or after `npm run build`: `node dist/test/bench/stream-tap-bench.js`).
 */

import { StreamFramer } from '../../src/sim/frames.js';
import { StreamTap } from '../../src/streaming/stream-tap.js';

const STREAMS = Number(process.env.TAP_BENCH_STREAMS ?? 20_000);

function chatStream(): Buffer[] {
  const framer = new StreamFramer('chat', { id: 'chatcmpl-0123456789abcdef0123456789abcdef', created: 1732290000, model: 'meta-llama/Llama-3.1-8B-Instruct' }, 1, false);
  const frames = [framer.roleChunk(0, null)!];
  for (let i = 0; i < 61; i++) frames.push(framer.content(0, i % 3 === 0 ? ' the' : ' token', null));
  frames.push(framer.final(0, '.', 'stop', null), framer.usage({ promptTokens: 120, completionTokens: 62, cachedTokens: 96 }), 'data: [DONE]\n\n');
  return frames.map((frame) => Buffer.from(frame));
}

/** Every event cut in two: the tap holds (and, stripping, copies) half an event per chunk. */
function halves(chunks: readonly Buffer[]): Buffer[] {
  return chunks.flatMap((chunk) => [chunk.subarray(0, chunk.length >> 1), chunk.subarray(chunk.length >> 1)]);
}

let sink = 0;

function plain(chunks: readonly Buffer[]): void {
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    sink += chunk[chunk.length - 1]! + i;
  }
}

function tapped(chunks: readonly Buffer[], stripUsageEvent: boolean): void {
  const tap = new StreamTap({ stripUsageEvent });
  for (let i = 0; i < chunks.length; i++) sink += tap.process(chunks[i]!, i).length;
  sink += tap.finish().length + tap.facts.contentEvents;
}

function measure(label: string, chunks: readonly Buffer[], run: (chunks: readonly Buffer[]) => void): void {
  for (let i = 0; i < STREAMS / 10; i++) run(chunks); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < STREAMS; i++) run(chunks);
  const ns = Number(process.hrtime.bigint() - started) / (STREAMS * chunks.length);
  console.log(`${label.padEnd(36)} ${ns.toFixed(1).padStart(8)} ns/chunk  (${chunks.length} chunks × ${STREAMS} streams)`);
}

const whole = chatStream();
const split = halves(whole);
measure('plain loop', whole, plain);
measure('tap, forwarding untouched', whole, (chunks) => tapped(chunks, false));
measure('tap, stripping the usage event', whole, (chunks) => tapped(chunks, true));
measure('tap, events cut in two', split, (chunks) => tapped(chunks, false));
measure('tap, events cut in two, stripping', split, (chunks) => tapped(chunks, true));
if (sink === 0.5) console.log(sink);
