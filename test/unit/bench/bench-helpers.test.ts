import { describe, expect, it } from 'vitest';
import { processOfRound } from '../../../test/bench/pairing.js';
import { frameHasContent, SseScanner } from '../../../test/bench/sse-scan.js';
import { medianInterval, percentileOfSorted, spreadOf, summarize } from '../../../test/bench/stats.js';
import { parseWrkOutput } from '../../../test/bench/wrk.js';

describe('percentiles', () => {
  it('uses the nearest rank of an exact sort', () => {
    const values = Array.from({ length: 100 }, (_, index) => 100 - index); // 100 … 1, unsorted
    const summary = summarize(values);
    expect(summary).toMatchObject({ count: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
    expect(percentileOfSorted([7], 99)).toBe(7);
    expect(percentileOfSorted([1, 2, 3], 0)).toBe(1);
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
  });

  it('sorts numerically, not as strings', () => {
    expect(summarize([10, 9, 100, 2]).p50).toBe(9);
  });

  it('reports the median and range of rounds, ignoring rounds not measured', () => {
    expect(spreadOf([3, 1, 2])).toMatchObject({ median: 2, min: 1, max: 3 });
    expect(spreadOf([4, 1, Number.NaN, 2])).toMatchObject({ median: 2, min: 1, max: 4 });
  });

  it('brackets the median of rounds by the order statistics of the binomial tables', () => {
    // Published 95 % ranks: n = 10 → (2, 9), n = 24 → (7, 18), n = 50 → (18, 33).
    const shuffled = (n: number) => Array.from({ length: n }, (_, index) => ((index * 7) % n) + 1);
    expect(medianInterval(shuffled(10))).toMatchObject({ low: 2, high: 9 });
    expect(medianInterval(shuffled(24))).toMatchObject({ low: 7, high: 18 });
    expect(medianInterval(shuffled(50))).toMatchObject({ low: 18, high: 33 });
    // The exact coverage of (7, 18) of 24: 1 − 2 P(X ≤ 6), X ~ Binomial(24, ½).
    expect(medianInterval(shuffled(24)).coverage).toBeCloseTo(0.9773, 4);
    // Too few rounds for 95 %: the whole range, and the smaller coverage it has.
    expect(medianInterval([5, 1, 3, 2, 4])).toEqual({ low: 1, high: 5, coverage: 0.9375 });
    expect(medianInterval([3, Number.NaN, 1, 2, 6, 5, 4])).toMatchObject({ low: 1, high: 6 });
    expect(medianInterval([]).coverage).toBe(0);
  });
});

const ROLE = 'data: {"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n';
const CONTENT = 'data: {"id":"x","choices":[{"index":0,"delta":{"content":" toll"},"logprobs":null,"finish_reason":null}]}\n\n';
const USAGE = 'data: {"id":"x","choices":[],"usage":{"prompt_tokens":1}}\n\n';
const DONE = 'data: [DONE]\n\n';

describe('first content frame', () => {
  it('tells content frames from role, usage, [DONE] and error frames', () => {
    expect(frameHasContent(ROLE)).toBe(false);
    expect(frameHasContent(CONTENT)).toBe(true);
    expect(frameHasContent(USAGE)).toBe(false);
    expect(frameHasContent(DONE)).toBe(false);
    expect(frameHasContent('data: {"error":{"message":"boom"}}\n\n')).toBe(false);
    expect(frameHasContent('data: {"id":"c","choices":[{"index":0,"text":"hi"}]}\n\n')).toBe(true);
  });

  it('finds it across chunk boundaries, splitting frames and the blank line itself', () => {
    const bytes = Buffer.from(ROLE + CONTENT + CONTENT + DONE);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const scanner = new SseScanner();
      const firstCompleted = scanner.push(bytes.subarray(0, cut));
      const contentInFirst = scanner.contentSeen;
      scanner.push(bytes.subarray(cut));
      expect(scanner.frames).toBe(4);
      expect(scanner.contentSeen).toBe(true);
      // Content is seen in the first part exactly when the first content frame ended inside it.
      expect(contentInFirst).toBe(cut >= ROLE.length + CONTENT.length);
      expect(firstCompleted).toBeLessThanOrEqual(4);
    }
  });

  it('does not report content before the frame carrying it is complete', () => {
    const scanner = new SseScanner();
    expect(scanner.push(Buffer.from(ROLE))).toBe(1);
    expect(scanner.contentSeen).toBe(false);
    scanner.push(Buffer.from(CONTENT.slice(0, -1)));
    expect(scanner.contentSeen).toBe(false);
    expect(scanner.push(Buffer.from('\n'))).toBe(1);
    expect(scanner.contentSeen).toBe(true);
  });
});

describe('wrk report', () => {
  it('reads throughput, latency percentiles in any unit, and errors', () => {
    const output = `Running 8s test @ http://127.0.0.1:1234
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.75ms    1.20ms  40.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%    3.90ms
     90%    4.50ms
     99%    1.20s
  66000 requests in 8.00s, 50.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   8250.12
Transfer/sec:      6.25MB
`;
    expect(parseWrkOutput(output)).toEqual({ requests: 66000, requestsPerSecond: 8250.12, p50Ms: 0.85, p90Ms: 4.5, p99Ms: 1200, errors: 7 });
  });
});

describe('gateway processes per round', () => {
  it('pair every baseline process with every compared one once in processes² rounds, each used as often', () => {
    for (const processes of [1, 2, 3, 4]) {
      const rounds = processes * processes;
      const pairs = new Set<string>();
      const uses = new Map<string, number>();
      for (let round = 0; round < rounds; round++) {
        const baseline = processOfRound(round, processes, false);
        const compared = processOfRound(round, processes, true);
        pairs.add(`${baseline}-${compared}`);
        for (const key of [`b${baseline}`, `c${compared}`]) uses.set(key, (uses.get(key) ?? 0) + 1);
      }
      expect(pairs.size).toBe(rounds);
      expect(new Set(uses.values())).toEqual(new Set([processes]));
    }
  });
});
