import { describe, expect, it } from 'vitest';
import { anomalyConfigSchema } from '../../../src/analytics/anomaly/config.js';
import { CusumDetector, type Detector, EwmaDetector, type Judgement, RollingZScoreDetector, SeasonalDetector } from '../../../src/analytics/anomaly/detectors.js';

const defaults = anomalyConfigSchema.parse({});
const settings = { ...defaults, warmupSlots: 20, thresholdSigma: 4, ewmaAlpha: 0.1, zscoreWindowSlots: 30, cusumK: 0.75, cusumH: 7, cusumClipSigma: 3, cusumRelearnSlots: 12 };
const FLOOR = 0.01;
const SLOT = 10_000;

/** 1 ± 0.1, alternating: a noise whose mean (1) and scale are known exactly. */
function calm(count: number, start = 0): number[] {
  return Array.from({ length: count }, (_, i) => 1 + ((start + i) % 2 === 0 ? 0.1 : -0.1));
}

function run(detector: Detector, values: readonly number[], startSlot = 0): Judgement[] {
  return values.map((value, i) => detector.observe(value, (startSlot + i) * SLOT));
}

function firstOutOfBand(judgements: readonly Judgement[]): number {
  return judgements.findIndex((judgement) => judgement.outOfBand);
}

describe.each([
  ['ewma', () => new EwmaDetector(settings, FLOOR)],
  ['zscore', () => new RollingZScoreDetector(settings, FLOOR)],
  ['cusum', () => new CusumDetector(settings, FLOOR)],
] as const)('%s detector', (_name, make) => {
  it('judges nothing during its warm-up, however far a value is', () => {
    const judgements = run(make(), [...calm(10), 50, 50, 50, ...calm(6, 13)]);
    expect(judgements.slice(0, settings.warmupSlots - 1).every((judgement) => !judgement.warm && !judgement.outOfBand)).toBe(true);
  });

  it('stays in band on its calm noise and finds a step up by 2 (20 σ of the noise) within a few slots', () => {
    const detector = make();
    const before = run(detector, calm(200));
    expect(before.some((judgement) => judgement.outOfBand)).toBe(false);
    expect(before.at(-1)!.warm).toBe(true);
    const after = run(detector, calm(20, 200).map((value) => value + 2), 200);
    const first = firstOutOfBand(after);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(3);
    expect(after[first]!.sigma).toBeGreaterThan(4);
    // The baseline is still the calm level: the step is measured against what came before.
    expect(after[first]!.baseline).toBeCloseTo(1, 0);
  });

  it('finds a step down as a negative σ', () => {
    const detector = make();
    run(detector, calm(200));
    const after = run(detector, calm(20, 200).map((value) => value - 2), 200);
    const first = firstOutOfBand(after);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(after[first]!.sigma).toBeLessThan(-4);
  });
});

describe('EwmaDetector', () => {
  it('measures σ with the EWMA of the absolute deviation (×√(π/2)) and calls out of band beyond thresholdSigma', () => {
    const detector: Detector = new EwmaDetector(settings, FLOOR);
    const { scale, baseline } = run(detector, calm(400)).at(-1)!;
    // |x − mean| is 0.1 plus the EWMA's own wobble of about 5 %.
    expect(scale / Math.sqrt(Math.PI / 2)).toBeGreaterThan(0.1);
    expect(scale / Math.sqrt(Math.PI / 2)).toBeLessThan(0.11);
    expect(detector.observe(baseline + 3.9 * scale, 400 * SLOT).outOfBand).toBe(false);
    const twin: Detector = new EwmaDetector(settings, FLOOR);
    run(twin, calm(400));
    const judgement = twin.observe(baseline + 4.1 * scale, 400 * SLOT);
    expect(judgement.outOfBand).toBe(true);
    expect(judgement.sigma).toBeGreaterThan(4);
    expect(judgement.sigma).toBeLessThan(4.3);
  });

  it('does not widen its band on an outlier: the next calm value is judged with the old scale', () => {
    const detector: Detector = new EwmaDetector(settings, FLOOR);
    const scale = run(detector, calm(200)).at(-1)!.scale;
    expect(detector.observe(100, 200 * SLOT).outOfBand).toBe(true);
    expect(detector.observe(1.1, 201 * SLOT).scale).toBeCloseTo(scale, 6);
  });
});

describe('RollingZScoreDetector', () => {
  it('keeps a window of zscoreWindowSlots values, an outlier entering it winsorised to the band edge', () => {
    const detector: Detector = new RollingZScoreDetector({ ...settings, zscoreWindowSlots: 10, warmupSlots: 10 }, FLOOR);
    run(detector, calm(50));
    const outlier = detector.observe(1000, 50 * SLOT);
    expect(outlier.outOfBand).toBe(true);
    // Had 1000 entered the window as it is, the mean would be ~100 and the next calm value far below it.
    const next = detector.observe(0.9, 51 * SLOT);
    expect(next.baseline).toBeLessThan(1.2);
    expect(next.outOfBand).toBe(false);
  });
});

describe('CusumDetector', () => {
  it('alarms on a shift no single slot shows beyond the threshold (3 σ ± 0.8 σ of noise), once the sum passes h', () => {
    const detector: Detector = new CusumDetector({ ...settings, ewmaAlpha: 0.05 }, FLOOR);
    const scale = run(detector, calm(300)).at(-1)!.scale;
    const after = run(detector, calm(30, 300).map((value) => value + 3 * scale), 300);
    expect(after.every((judgement) => Math.abs(judgement.sigma) < settings.thresholdSigma)).toBe(true);
    const first = firstOutOfBand(after);
    // S grows by about 1.85 σ per slot (z clipped at 3, less as the in-band values teach μ): past h = 7 from the 4th slot.
    expect(first).toBeGreaterThanOrEqual(3);
    expect(first).toBeLessThanOrEqual(6);
  });

  it('cannot alarm on one outlier slot: z is clipped at cusumClipSigma', () => {
    const detector = new CusumDetector(settings, FLOOR);
    run(detector, calm(300));
    const judgements = run(detector, [1000, ...calm(10, 301)], 300);
    expect(judgements.some((judgement) => judgement.outOfBand)).toBe(false);
  });

  it('accepts a lasting level as its new baseline after cusumRelearnSlots slots in alarm', () => {
    const detector = new CusumDetector(settings, FLOOR);
    run(detector, calm(300));
    const after = run(detector, calm(60, 300).map((value) => value + 2), 300);
    const first = firstOutOfBand(after);
    const lastOut = after.findLastIndex((judgement) => judgement.outOfBand);
    expect(lastOut - first + 1).toBe(settings.cusumRelearnSlots);
    expect(after.slice(lastOut + 1).some((judgement) => judgement.outOfBand)).toBe(false);
    expect(after.at(-1)!.baseline).toBeGreaterThan(2.5);
  });
});

describe('SeasonalDetector', () => {
  const HOUR = 3_600_000;
  const profile = (atMs: number): number => 2 + Math.sin((2 * Math.PI * atMs) / (24 * HOUR));
  const slotMs = 600_000;

  it('judges the raw value until every hour has minDays of history, then the residual from the hour-of-day profile', () => {
    const detector = new SeasonalDetector(() => new EwmaDetector(settings, FLOOR), { minDays: 2 }, HOUR / slotMs);
    const judgements: Array<{ atMs: number; judgement: Judgement; seasonal: boolean }> = [];
    for (let atMs = 0; atMs < 4 * 24 * HOUR; atMs += slotMs) {
      const noise = (atMs / slotMs) % 2 === 0 ? 0.01 : -0.01;
      judgements.push({ atMs, judgement: detector.observe(profile(atMs) + noise, atMs), seasonal: detector.seasonal });
    }
    const firstSeasonal = judgements.findIndex((entry) => entry.seasonal);
    expect(judgements[firstSeasonal]!.atMs).toBeGreaterThanOrEqual(47 * HOUR);
    expect(judgements[firstSeasonal]!.atMs).toBeLessThanOrEqual(48 * HOUR);
    // On the fourth day the baseline follows the daily curve within a few percent of its swing.
    for (const { atMs, judgement } of judgements.filter((entry) => entry.atMs >= 3 * 24 * HOUR)) {
      expect(Math.abs(judgement.baseline - profile(atMs))).toBeLessThan(0.1);
      expect(judgement.outOfBand).toBe(false);
    }
    // A step of +1 at a quiet hour is out of band against the profile.
    const stepAt = 4 * 24 * HOUR + 6 * HOUR;
    expect(detector.observe(profile(stepAt) + 1, stepAt).outOfBand).toBe(true);
  });
});
