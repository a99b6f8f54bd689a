import { describe, expect, it } from 'vitest';

import { compareAccuracy, parseAccessLog, truthTpotMs } from '../../bench/accuracy.js';

describe('bench accuracy helpers', () => {
  it('reads only access lines, by request id, and skips a line cut off mid-write', () => {
    const text = [
      '{"level":30,"msg":"listening"}',
      '{"level":30,"component":"access","request_id":"a","status":200,"ttft_ms":6.25,"tpot_ms":20.001,"output_tokens":64}',
      '{"level":30,"component":"access","request_id":"b","status":200,"ttft_ms":null,"tpot_ms":null,"output_tokens":0}',
      '{"level":30,"component":"access","request_id":"c","sta',
    ].join('\n');
    const lines = parseAccessLog(text);
    expect([...lines.keys()]).toEqual(['a', 'b']);
    expect(lines.get('a')).toEqual({ ttftMs: 6.25, tpotMs: 20.001, outputTokens: 64, status: 200 });
    expect(lines.get('b')?.ttftMs).toBeNull();
  });

  it('computes the true TPOT from the first and last content chunk', () => {
    expect(truthTpotMs({ completionTokens: 3, chunkTimes: [100, 120, 140], outcome: 'completed' })).toBe(20);
    expect(truthTpotMs({ completionTokens: 1, chunkTimes: [100], outcome: 'completed' })).toBeNull();
  });

  it('compares per request and counts mismatches and missing records', () => {
    const access = parseAccessLog(
      [
        '{"component":"access","request_id":"a","ttft_ms":10,"tpot_ms":20.2,"output_tokens":3}',
        '{"component":"access","request_id":"b","ttft_ms":10,"tpot_ms":20,"output_tokens":4}',
      ].join('\n'),
    );
    const truth = { completionTokens: 3, chunkTimes: [0, 20, 40], outcome: 'completed' };
    const result = compareAccuracy(
      [
        { requestId: 'a', clientTtftMs: 14 },
        { requestId: 'b', clientTtftMs: 10.5 },
        { requestId: 'c', clientTtftMs: 1 },
      ],
      access,
      new Map([
        ['a', truth],
        ['b', truth],
      ]),
    );
    expect(result.missing).toBe(1);
    expect(result.tokenMismatches).toBe(1);
    expect(result.ttftErrorsMs).toEqual([4, 0.5]);
    expect(result.ttftErrorMs.withinShare).toBe(0.5);
    expect(result.tpotRelativeErrors[0]).toBeCloseTo(0.01, 10);
    expect(result.tpotRelativeError.withinShare).toBe(1);
  });
});
