import { describe, expect, it } from 'vitest';

import { drawRandomFaults, parseFaultHeader } from '../../../src/sim/faults.js';
import { createPrng } from '../../../src/sim/prng.js';

const noFaults = { errorRate: 0, errorStatus: 500, spikeRate: 0, spikeMs: 100, disconnectRate: 0, hangRate: 0 };

describe('fault header', () => {
  it('parses every fault and combinations', () => {
    expect(parseFaultHeader('error:503').errorStatus).toBe(503);
    expect(parseFaultHeader('spike:250').spikeMs).toBe(250);
    expect(parseFaultHeader('disconnect:3').disconnectAfterChunks).toBe(3);
    expect(parseFaultHeader('hang').hang).toBe(true);
    expect(parseFaultHeader('hang-body:2').hangAfterChunks).toBe(2);
    expect(parseFaultHeader('stream-error:4').streamErrorAfterChunks).toBe(4);
    const both = parseFaultHeader('spike:10, disconnect:1');
    expect(both.spikeMs).toBe(10);
    expect(both.disconnectAfterChunks).toBe(1);
    expect(both.label).toBe('spike:10,disconnect:1');
    expect(parseFaultHeader(undefined).label).toBeNull();
  });

  it('rejects unknown faults and bad arguments loudly', () => {
    expect(() => parseFaultHeader('explode')).toThrow(RangeError);
    expect(() => parseFaultHeader('error:200')).toThrow(RangeError);
    expect(() => parseFaultHeader('disconnect:x')).toThrow(RangeError);
  });
});

describe('random faults', () => {
  it('draws nothing at rate 0 and always at rate 1', () => {
    expect(drawRandomFaults(noFaults, createPrng(1)).label).toBeNull();
    const all = drawRandomFaults({ ...noFaults, errorRate: 1, spikeRate: 1, disconnectRate: 1, hangRate: 1 }, createPrng(1));
    expect(all.errorStatus).toBe(500);
    expect(all.spikeMs).toBe(100);
    expect(all.disconnectAfterChunks).toBeGreaterThanOrEqual(1);
    expect(all.hang).toBe(true);
  });

  it('is reproducible for the same seed', () => {
    const options = { ...noFaults, errorRate: 0.5, disconnectRate: 0.5 };
    const a = Array.from({ length: 20 }, (_, i) => drawRandomFaults(options, createPrng(i)).label);
    const b = Array.from({ length: 20 }, (_, i) => drawRandomFaults(options, createPrng(i)).label);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});
