/** Fixture loading, chunkings and a driver for the stream tap tests. */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { createPrng } from '../../../src/sim/prng.js';
import { StreamTap } from '../../../src/streaming/stream-tap.js';
import type { StreamTapOptions } from '../../../src/streaming/stream-tap.js';
import type { StreamFacts } from '../../../src/streaming/stream-facts.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/sse/', import.meta.url));

export function loadFixture(name: string): Buffer {
  return readFileSync(`${FIXTURES}${name}`);
}

/** The fixture without its usage-only event (`"choices":[]` + usage, with its blank line), found independently of the tap. */
export function withoutUsageEvent(input: Buffer): Buffer {
  const text = input.toString('latin1');
  const pattern = /data: ?[^\r\n]*"choices":\[\],"usage":\{[^\r\n]*(?:\r\n|\r|\n)(?:\r\n|\r|\n)/g;
  const stripped = text.replace(pattern, '');
  return Buffer.from(stripped, 'latin1');
}

export interface TapRun {
  facts: StreamFacts;
  output: Buffer;
  /** What process() returned for each chunk, then what finish() returned. */
  returned: Buffer[];
}

/** Feeds `chunks` through a fresh tap; chunk i arrives at `now(i)`. */
export function runTap(chunks: readonly Buffer[], options: StreamTapOptions, now: (index: number) => number = () => 0): TapRun {
  const tap = new StreamTap(options);
  const returned = chunks.map((chunk, index) => tap.process(chunk, now(index)));
  returned.push(tap.finish());
  return { facts: tap.facts, output: Buffer.concat(returned), returned };
}

/** `input` cut in two at `at`. */
export function splitAt(input: Buffer, at: number): Buffer[] {
  return [input.subarray(0, at), input.subarray(at)];
}

/** `input` cut into seeded random pieces of 0..maxPiece bytes (empty chunks included). */
export function randomChunks(input: Buffer, seed: number, maxPiece: number): Buffer[] {
  const prng = createPrng(seed);
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const size = prng.int(0, maxPiece);
    chunks.push(input.subarray(at, Math.min(input.length, at + size)));
    at += size;
  }
  return chunks;
}

export function byteChunks(input: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; at++) chunks.push(input.subarray(at, at + 1));
  return chunks;
}

/** Each event with its blank line, split at blank lines (`\n`, `\r\n` or `\r` line ends, mixed), found independently of the tap. */
export function splitEvents(input: Buffer): Buffer[] {
  const text = input.toString('latin1');
  const events: Buffer[] = [];
  const blankLine = /(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)/g;
  let start = 0;
  for (let match = blankLine.exec(text); match !== null; match = blankLine.exec(text)) {
    events.push(Buffer.from(text.slice(start, match.index + match[0].length), 'latin1'));
    start = match.index + match[0].length;
  }
  if (start < text.length) events.push(Buffer.from(text.slice(start), 'latin1'));
  return events;
}

/** `input` as vLLM writes it: `perChunk` whole events per chunk (the first chunk holds `first` of them). */
export function eventChunks(input: Buffer, perChunk: number, first = perChunk): Buffer[] {
  const events = splitEvents(input);
  const chunks = [Buffer.concat(events.slice(0, first))];
  for (let at = first; at < events.length; at += perChunk) chunks.push(Buffer.concat(events.slice(at, at + perChunk)));
  return chunks;
}
