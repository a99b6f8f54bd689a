import { describe, expect, it } from 'vitest';
import { CircuitBreaker, DEFAULT_CIRCUIT_SETTINGS, type CircuitSettings } from '../../../src/routing/circuit-breaker.js';

const SETTINGS: CircuitSettings = { failureThreshold: 3, baseEjectionMs: 1_000, maxEjectionMs: 5_000, trialTimeoutMs: 10_000 };

function breaker(settings: Partial<CircuitSettings> = {}): CircuitBreaker {
  return new CircuitBreaker({ ...SETTINGS, ...settings });
}

/** Opens a closed breaker at `now` with threshold failures. */
function trip(cb: CircuitBreaker, now: number): void {
  for (let i = 0; i < 3; i += 1) {
    expect(cb.tryAcquire(now)).toBe(true);
    cb.onFailure(now);
  }
  expect(cb.state).toBe('open');
}

/** Moves an open breaker to half_open at `now`, takes the trial and fails it. */
function failTrial(cb: CircuitBreaker, now: number): void {
  expect(cb.tryAcquire(now)).toBe(true);
  expect(cb.state).toBe('half_open');
  cb.onFailure(now);
  expect(cb.state).toBe('open');
}

describe('CircuitBreaker: closed', () => {
  it('starts closed, lets everything through, and counts nothing on success', () => {
    const cb = breaker();
    expect(cb.state).toBe('closed');
    for (let t = 0; t < 100; t += 1) {
      expect(cb.tryAcquire(t)).toBe(true);
      cb.onSuccess(t);
    }
    expect(cb.ejections).toBe(0);
    expect(cb.retryInMs(100)).toBe(0);
  });

  it('opens after failureThreshold consecutive failures, not before', () => {
    const cb = breaker();
    cb.onFailure(0);
    cb.onFailure(1);
    expect(cb.state).toBe('closed');
    expect(cb.consecutiveFailures).toBe(2);
    expect(cb.tryAcquire(2)).toBe(true);
    cb.onFailure(2);
    expect(cb.state).toBe('open');
    expect(cb.ejections).toBe(1);
    expect(cb.lastEjectionMs).toBe(1_000);
    expect(cb.tryAcquire(3)).toBe(false);
  });

  it('a success in between resets the consecutive count', () => {
    const cb = breaker();
    cb.onFailure(0);
    cb.onFailure(1);
    cb.onSuccess(2);
    expect(cb.consecutiveFailures).toBe(0);
    cb.onFailure(3);
    cb.onFailure(4);
    expect(cb.state).toBe('closed');
    cb.onFailure(5);
    expect(cb.state).toBe('open');
  });

  it('a threshold of 1 opens on the first failure', () => {
    const cb = breaker({ failureThreshold: 1 });
    cb.onFailure(0);
    expect(cb.state).toBe('open');
  });
});

describe('CircuitBreaker: open → half_open', () => {
  it('refuses during the ejection, reports the time left, and turns half_open when it is over', () => {
    const cb = breaker();
    trip(cb, 10_000);
    expect(cb.retryInMs(10_000)).toBe(1_000);
    expect(cb.tryAcquire(10_999)).toBe(false);
    expect(cb.retryInMs(10_250)).toBe(750);
    expect(cb.state).toBe('open');
    expect(cb.retryInMs(11_000)).toBe(0);
    expect(cb.state).toBe('half_open'); // any call notices the end of the ejection
  });

  it('state is as of the last call: no call, no transition', () => {
    const cb = breaker();
    trip(cb, 0);
    expect(cb.state).toBe('open'); // even though, by the wall clock, time may have passed
    cb.onSuccess(1); // a straggler's outcome notices nothing while still open
    expect(cb.state).toBe('open');
  });

  it('ignores outcomes reported while open: stragglers neither close nor extend the ejection', () => {
    const cb = breaker();
    trip(cb, 0);
    for (let i = 0; i < 10; i += 1) cb.onFailure(100 + i);
    cb.onSuccess(200);
    expect(cb.state).toBe('open');
    expect(cb.ejections).toBe(1);
    expect(cb.retryInMs(500)).toBe(500);
  });
});

describe('CircuitBreaker: half_open', () => {
  it('allows exactly one trial at a time', () => {
    const cb = breaker();
    trip(cb, 0);
    expect(cb.tryAcquire(1_000)).toBe(true);
    expect(cb.trialInFlight).toBe(true);
    expect(cb.tryAcquire(1_000)).toBe(false);
    expect(cb.tryAcquire(1_500)).toBe(false);
    expect(cb.state).toBe('half_open');
  });

  it('a trial success closes, resets failures and the doubling', () => {
    const cb = breaker();
    trip(cb, 0);
    failTrial(cb, 1_000); // second ejection: 2 000
    expect(cb.lastEjectionMs).toBe(2_000);
    expect(cb.tryAcquire(3_000)).toBe(true);
    cb.onSuccess(3_100);
    expect(cb.state).toBe('closed');
    expect(cb.consecutiveFailures).toBe(0);
    expect(cb.tryAcquire(3_200)).toBe(true);
    expect(cb.tryAcquire(3_200)).toBe(true);
    trip(cb, 4_000);
    expect(cb.lastEjectionMs).toBe(1_000); // back to base
  });

  it('a trial failure reopens with a doubled ejection', () => {
    const cb = breaker();
    trip(cb, 0);
    failTrial(cb, 1_000);
    expect(cb.ejections).toBe(2);
    expect(cb.retryInMs(1_000)).toBe(2_000);
    expect(cb.tryAcquire(2_999)).toBe(false);
    expect(cb.tryAcquire(3_000)).toBe(true);
  });

  it('doubles on each consecutive re-opening up to the cap, and stays at the cap', () => {
    const cb = breaker();
    let now = 0;
    trip(cb, now);
    const ejections = [cb.lastEjectionMs];
    for (let i = 0; i < 6; i += 1) {
      now += cb.lastEjectionMs;
      failTrial(cb, now);
      ejections.push(cb.lastEjectionMs);
    }
    expect(ejections).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000]);
    expect(cb.ejections).toBe(7);
  });

  it('the default settings give 5 s, 10 s, 20 s, 40 s, 60 s, 60 s', () => {
    const cb = new CircuitBreaker(DEFAULT_CIRCUIT_SETTINGS);
    let now = 0;
    for (let i = 0; i < 5; i += 1) cb.onFailure(now);
    const ejections = [cb.lastEjectionMs];
    for (let i = 0; i < 5; i += 1) {
      now += cb.lastEjectionMs;
      failTrial(cb, now);
      ejections.push(cb.lastEjectionMs);
    }
    expect(ejections).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('does not overflow after very many re-openings', () => {
    const cb = breaker();
    let now = 0;
    trip(cb, now);
    for (let i = 0; i < 2_000; i += 1) {
      now += cb.lastEjectionMs;
      failTrial(cb, now);
    }
    expect(cb.lastEjectionMs).toBe(5_000);
    expect(cb.retryInMs(now)).toBe(5_000);
  });

  it('an outcome in half_open without a trial (a straggler) decides as the trial would', () => {
    const cb = breaker();
    trip(cb, 0);
    cb.onFailure(1_000);
    expect(cb.state).toBe('open');
    expect(cb.lastEjectionMs).toBe(2_000);
    cb.onSuccess(3_000);
    expect(cb.state).toBe('closed');
  });
});

describe('CircuitBreaker: a trial without an outcome', () => {
  it('onAbandoned frees the trial slot without a verdict', () => {
    const cb = breaker();
    trip(cb, 0);
    expect(cb.tryAcquire(1_000)).toBe(true);
    cb.onAbandoned(1_200);
    expect(cb.state).toBe('half_open');
    expect(cb.ejections).toBe(1);
    expect(cb.tryAcquire(1_300)).toBe(true); // the next request is the new trial
    expect(cb.tryAcquire(1_300)).toBe(false);
    cb.onSuccess(1_400);
    expect(cb.state).toBe('closed');
  });

  it('onAbandoned outside half_open changes nothing', () => {
    const cb = breaker();
    cb.onFailure(0);
    cb.onAbandoned(1);
    expect(cb.consecutiveFailures).toBe(1);
    cb.onSuccess(1);
    trip(cb, 2);
    cb.onAbandoned(3);
    expect(cb.state).toBe('open');
    expect(cb.retryInMs(3)).toBe(999);
  });

  it('a trial older than trialTimeoutMs frees its slot by itself (no wedge without onAbandoned)', () => {
    const cb = breaker();
    trip(cb, 0);
    expect(cb.tryAcquire(1_000)).toBe(true);
    expect(cb.retryInMs(1_000)).toBe(10_000);
    expect(cb.tryAcquire(10_999)).toBe(false);
    expect(cb.retryInMs(10_999)).toBe(1);
    expect(cb.tryAcquire(11_000)).toBe(true); // the slot timed out: a new trial
    expect(cb.state).toBe('half_open');
    expect(cb.ejections).toBe(1); // a lost trial is not a failure
  });

  it('the late outcome of a timed-out trial still decides while half_open', () => {
    const cb = breaker();
    trip(cb, 0);
    cb.tryAcquire(1_000);
    cb.tryAcquire(11_000);
    cb.onFailure(11_500);
    expect(cb.state).toBe('open');
  });

  it('the trial timeout defaults to 30 s', () => {
    const cb = new CircuitBreaker({ failureThreshold: 1, baseEjectionMs: 1_000, maxEjectionMs: 1_000 });
    cb.onFailure(0);
    expect(cb.tryAcquire(1_000)).toBe(true);
    expect(cb.tryAcquire(30_999)).toBe(false);
    expect(cb.tryAcquire(31_000)).toBe(true);
  });
});

describe('CircuitBreaker: probes', () => {
  it('a healthy probe closes an open breaker before its ejection is over', () => {
    const cb = breaker();
    trip(cb, 0);
    cb.onProbe(true, 100);
    expect(cb.state).toBe('closed');
    expect(cb.tryAcquire(100)).toBe(true);
    expect(cb.retryInMs(100)).toBe(0);
  });

  it('a healthy probe closes a half-open breaker and frees its trial', () => {
    const cb = breaker();
    trip(cb, 0);
    cb.tryAcquire(1_000);
    cb.onProbe(true, 1_100);
    expect(cb.state).toBe('closed');
    expect(cb.trialInFlight).toBe(false);
  });

  it('a healthy probe does not reset the doubling; a request success does', () => {
    const cb = breaker();
    trip(cb, 0);
    failTrial(cb, 1_000); // 2 000
    cb.onProbe(true, 1_500);
    trip(cb, 1_600);
    expect(cb.lastEjectionMs).toBe(4_000); // /health says 200 but requests keep failing
    cb.onProbe(true, 1_700);
    cb.onSuccess(1_800);
    trip(cb, 1_900);
    expect(cb.lastEjectionMs).toBe(1_000);
  });

  it('an unhealthy probe keeps an open breaker open without extending it', () => {
    const cb = breaker();
    trip(cb, 0);
    cb.onProbe(false, 500);
    expect(cb.state).toBe('open');
    expect(cb.retryInMs(500)).toBe(500);
    expect(cb.ejections).toBe(1);
  });

  it('an unhealthy probe sends a half-open breaker back to open, doubled', () => {
    const cb = breaker();
    trip(cb, 0);
    cb.onProbe(false, 1_000);
    expect(cb.state).toBe('open');
    expect(cb.lastEjectionMs).toBe(2_000);
    expect(cb.ejections).toBe(2);
  });

  it('probes do not move a closed breaker', () => {
    const cb = breaker();
    cb.onFailure(0);
    cb.onFailure(1);
    cb.onProbe(true, 2);
    expect(cb.consecutiveFailures).toBe(2);
    cb.onProbe(false, 3);
    cb.onProbe(false, 4);
    expect(cb.state).toBe('closed');
    expect(cb.consecutiveFailures).toBe(2);
  });
});

describe('CircuitBreaker: settings', () => {
  it('rejects settings that cannot work', () => {
    expect(() => breaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => breaker({ failureThreshold: 1.5 })).toThrow(RangeError);
    expect(() => breaker({ baseEjectionMs: 0 })).toThrow(RangeError);
    expect(() => breaker({ maxEjectionMs: 999 })).toThrow(RangeError);
    expect(() => breaker({ maxEjectionMs: Infinity })).toThrow(RangeError);
    expect(() => breaker({ trialTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => breaker({ baseEjectionMs: Number.NaN })).toThrow(RangeError);
  });

  it('defaults are 5 failures, 5 s, 60 s, 30 s and the defaults object is frozen', () => {
    expect(DEFAULT_CIRCUIT_SETTINGS).toEqual({ failureThreshold: 5, baseEjectionMs: 5_000, maxEjectionMs: 60_000, trialTimeoutMs: 30_000 });
    expect(Object.isFrozen(DEFAULT_CIRCUIT_SETTINGS)).toBe(true);
    const cb = new CircuitBreaker();
    for (let i = 0; i < 4; i += 1) cb.onFailure(i);
    expect(cb.state).toBe('closed');
    cb.onFailure(4);
    expect(cb.state).toBe('open');
  });
});
