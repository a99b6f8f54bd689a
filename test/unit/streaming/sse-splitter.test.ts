import { describe, expect, it } from 'vitest';

import { SseSplitter } from '../../../src/streaming/sse-splitter.js';
import { byteChunks, randomChunks, splitAt } from './tap-harness.js';

interface Split {
  /** Completed events, each with its terminators (a CRLF's LF attributed to its event). */
  events: string[];
  /** Non-empty lines per completed event. */
  lines: number[];
  /** Bytes of the event still in progress. */
  rest: string;
}

function split(chunks: readonly Buffer[]): Split {
  const splitter = new SseSplitter();
  const result: Split = { events: [], lines: [], rest: '' };
  for (const chunk of chunks) {
    let start = splitter.begin(chunk);
    if (start === 1) result.events[result.events.length - 1] += chunk.toString('latin1', 0, 1);
    for (let end = splitter.next(); end !== -1; end = splitter.next()) {
      result.events.push(result.rest + chunk.toString('latin1', start, end));
      result.lines.push(splitter.eventLines);
      result.rest = '';
      start = end;
    }
    result.rest += chunk.toString('latin1', start);
  }
  return result;
}

function everySplit(input: Buffer): Buffer[][] {
  const splits: Buffer[][] = [];
  for (let at = 0; at <= input.length; at++) splits.push(splitAt(input, at));
  return splits;
}

const MIXED = 'data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\r\n\ndata: e\n\r\ndata: f\n\rdata: g';

describe('SseSplitter', () => {
  it('ends events at every blank-line form and keeps the partial tail', () => {
    const result = split([Buffer.from(MIXED, 'latin1')]);
    expect(result.events).toEqual(['data: a\n\n', 'data: b\r\n\r\n', 'data: c\r\r', 'data: d\r\n\n', 'data: e\n\r\n', 'data: f\n\r']);
    expect(result.lines).toEqual([1, 1, 1, 1, 1, 1]);
    expect(result.rest).toBe('data: g');
  });

  it('gives the same events for a cut at every byte, byte-by-byte feeding and random chunkings', () => {
    const input = Buffer.from(MIXED, 'latin1');
    const whole = split([input]);
    for (const chunks of everySplit(input)) expect(split(chunks)).toEqual(whole);
    expect(split(byteChunks(input))).toEqual(whole);
    for (let seed = 1; seed <= 200; seed++) expect(split(randomChunks(input, seed, 7))).toEqual(whole);
  });

  it('counts lines per event and treats CR, LF and CRLF as one line end each', () => {
    const result = split([Buffer.from(': c\r\nevent: x\rid: 1\ndata: a\r\ndata: b\n\n\n', 'latin1')]);
    expect(result.events).toEqual([': c\r\nevent: x\rid: 1\ndata: a\r\ndata: b\n\n', '\n']);
    expect(result.lines).toEqual([5, 0]);
  });

  it('does not end an event at a CRLF split between chunks', () => {
    const result = split([Buffer.from('data: a\r'), Buffer.from('\ndata: b\r'), Buffer.from('\n\r'), Buffer.from('\nx')]);
    expect(result.events).toEqual(['data: a\r\ndata: b\r\n\r\n']);
    expect(result.lines).toEqual([2]);
    expect(result.rest).toBe('x');
  });

  it('attributes the LF after an event-ending CR to that event across chunks, and ignores empty chunks', () => {
    const result = split([Buffer.from('data: a\r\n\r'), Buffer.alloc(0), Buffer.from('\ndata: b\r\r'), Buffer.from('data: c\n\n')]);
    expect(result.events).toEqual(['data: a\r\n\r\n', 'data: b\r\r', 'data: c\n\n']);
  });

  it('treats a blank line at the very start as an empty event', () => {
    expect(split([Buffer.from('\n\ndata: a\n\n')]).events).toEqual(['\n', '\n', 'data: a\n\n']);
  });
});
