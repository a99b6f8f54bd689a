/**
 * Deterministic CPU cost of the stream tap on the relay path, for instruction counting (not part
 * of the tests). Each stream is a 64-chunk vLLM chat stream as the simulator writes it (role
 * chunk, 62 content chunks, the finish chunk with the last text, the include_usage event, [DONE]),
 * one event per chunk, fed the way `UpstreamExchange.onResponseData` feeds it: a clock read on
 * arrival, `tap.process`, a write of what it returns (here a byte sum), a clock read after the write.
 *
 * Wall-clock time is noise on a shared machine; instructions are not. Count them with cachegrind
 * at two stream counts and take the difference, which cancels Node's start-up and the warm-up:
 *
 *   npx tsc -p tsconfig.json --outDir /tmp/tb
 *   test/bench/stream-tap-instructions.sh          (prints instructions per stream per variant)
 *
 * Arguments: `<variant> <streams>`, variant one of `relay` (no tap: instrumentation off),
 * `tap` (forwarding untouched), `tap-strip` (cutting out the usage event, as when the gateway
 * asked for it), `tap-split` (every chunk cut in two, stripping).
 */

import { StreamFramer } from '../../src/sim/frames.js';
import { StreamTap } from '../../src/streaming/stream-tap.js';

const WARM_UP_STREAMS = 4000;

export function chatStream(): Buffer[] {
  const framer = new StreamFramer('chat', { id: 'chatcmpl-0123456789abcdef0123456789abcdef', created: 1732290000, model: 'meta-llama/Llama-3.1-8B-Instruct' }, 1, false);
  const frames = [framer.roleChunk(0, null)!];
  for (let i = 0; i < 62; i++) frames.push(framer.content(0, i % 3 === 0 ? ' the' : ' token', null));
  frames.push(framer.final(0, '.', 'stop', null), framer.usage({ promptTokens: 120, completionTokens: 64, cachedTokens: 96 }), 'data: [DONE]\n\n');
  return frames.map((frame) => Buffer.from(frame));
}

let sink = 0;

/** Stands in for `response.write`: touches the bytes it is given. */
function write(bytes: Buffer): void {
  sink += bytes.length === 0 ? 0 : bytes[bytes.length - 1]!;
}

function relay(chunks: readonly Buffer[]): void {
  let relayDelay = 0;
  for (let i = 0; i < chunks.length; i++) {
    const arrivedAt = performance.now();
    write(chunks[i]!);
    relayDelay += performance.now() - arrivedAt;
  }
  sink += relayDelay > 0 ? 1 : 0;
}

function tapped(chunks: readonly Buffer[], stripUsageEvent: boolean): void {
  const tap = new StreamTap({ stripUsageEvent });
  let relayDelay = 0;
  let firstContentWrittenAt: number | undefined;
  for (let i = 0; i < chunks.length; i++) {
    const arrivedAt = performance.now();
    const contentBefore = tap.facts.contentEvents;
    const forward = tap.process(chunks[i]!, arrivedAt);
    if (forward.length === 0) continue;
    write(forward);
    const writtenAt = performance.now();
    relayDelay += writtenAt - arrivedAt;
    if (tap.facts.contentEvents > contentBefore) firstContentWrittenAt ??= writtenAt;
  }
  write(tap.finish());
  const facts = tap.facts;
  if (facts.contentEvents !== 63 || facts.usage?.completionTokens !== 64 || facts.finishReasons[0] !== 'stop' || !facts.done) {
    throw new Error(`the tap got the stream wrong: ${JSON.stringify(facts)}`);
  }
  sink += facts.chunkGapsMs.length + (firstContentWrittenAt ?? 0) + relayDelay;
}

const variants: Record<string, { chunks: Buffer[]; run: (chunks: readonly Buffer[]) => void }> = {
  relay: { chunks: chatStream(), run: relay },
  tap: { chunks: chatStream(), run: (chunks) => tapped(chunks, false) },
  'tap-strip': { chunks: chatStream(), run: (chunks) => tapped(chunks, true) },
  'tap-split': {
    chunks: chatStream().flatMap((chunk) => [chunk.subarray(0, chunk.length >> 1), chunk.subarray(chunk.length >> 1)]),
    run: (chunks) => tapped(chunks, true),
  },
};

const [variantName = 'tap-strip', streamsArg = '0'] = process.argv.slice(2);
const variant = variants[variantName];
if (variant === undefined) throw new Error(`unknown variant ${variantName}; one of ${Object.keys(variants).join(', ')}`);
for (let i = 0; i < WARM_UP_STREAMS; i++) variant.run(variant.chunks);
const streams = Number(streamsArg);
for (let i = 0; i < streams; i++) variant.run(variant.chunks);
if (sink === 0.5) console.log(sink);
