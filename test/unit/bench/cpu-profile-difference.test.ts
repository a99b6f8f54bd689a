import { describe, expect, it } from 'vitest';
import { profileDifference, type ProfileSummary } from '../../bench/cpu-profile-summary.js';

const summary = (shares: Record<string, number>): ProfileSummary => ({
  busySamples: 100,
  idleSamples: 0,
  gcShare: 0,
  functions: Object.entries(shares).map(([name, selfShare]) => ({ name, selfShare, inclusiveShare: selfShare })),
});

describe('the difference of two CPU profiles', () => {
  it('turns self shares into µs per unit with each process own CPU per unit, largest increase first', () => {
    const off = summary({ writev: 0.5, parse: 0.25, gone: 0.25 });
    const on = summary({ writev: 0.4, parse: 0.2, serialise: 0.3, gone: 0.1 });
    // off: 400 µs per request; on: 500 µs per request.
    expect(profileDifference(off, 400, on, 500)).toEqual([
      { name: 'serialise', baseUs: 0, comparedUs: 150 },
      { name: 'writev', baseUs: 200, comparedUs: 200 },
      { name: 'parse', baseUs: 100, comparedUs: 100 },
      { name: 'gone', baseUs: 100, comparedUs: 50 },
    ]);
  });
});
