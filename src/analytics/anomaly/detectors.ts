/**
 * Online change detectors over one series of slot values (one value per closed statistics slot).
 * Pure and fixed-size: each holds a handful of numbers (the rolling z-score a ring of
 * `windowSlots` floats), whatever the traffic. Values arrive already transformed (signals.ts takes
 * logarithms of latencies and rates, so a 2× step is the same distance at any level).
 *
 * Every detector answers the same {@link Judgement}: how far the value is from its baseline in σ,
 * and whether the detector calls it out of band. The monitor (monitor.ts) turns runs of
 * out-of-band slots into findings; the detectors only judge one value at a time.
 */
export interface Judgement {
  /** The value's distance from the baseline in units of the scale (signed). */
  readonly sigma: number;
  /** What the detector expected, in the transformed space. */
  readonly baseline: number;
  /** The noise scale it measures distances with (≥ the signal's floor). */
  readonly scale: number;
  /** Warmed up and judging the value anomalous. */
  readonly outOfBand: boolean;
  /** Past its warm-up: before that it learns and never calls anything out of band. */
  readonly warm: boolean;
}

export interface Detector {
  /** Judges `value` (of the slot starting at `atMs`) against what came before, then learns from it. */
  observe(value: number, atMs: number): Judgement;
}

export const DETECTOR_KINDS = ['ewma', 'zscore', 'cusum'] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

export interface DetectorSettings {
  /** Observations learnt before the detector judges. */
  readonly warmupSlots: number;
  /** |σ| beyond which a value is out of band (EWMA, z-score); CUSUM learns only from values within it. */
  readonly thresholdSigma: number;
  /** EWMA smoothing of the baseline and of the absolute deviation. */
  readonly ewmaAlpha: number;
  /** Rolling z-score: the window of past values. */
  readonly zscoreWindowSlots: number;
  /** CUSUM: the allowance k (σ per slot a shift must exceed to accumulate) and the decision limit h. */
  readonly cusumK: number;
  readonly cusumH: number;
  /** CUSUM: slots in alarm after which the new level is accepted as the baseline. */
  readonly cusumRelearnSlots: number;
  /** CUSUM: |z| is clipped here before it is summed, so a few outlier slots cannot reach h alone. */
  readonly cusumClipSigma: number;
}

/** Mean absolute deviation → standard deviation for normal noise (√(π/2)). */
const MAD_TO_SIGMA = Math.sqrt(Math.PI / 2);
/** Out of band, the baseline keeps moving at this fraction of α: a lasting shift becomes the new normal, slowly. */
const OUT_OF_BAND_ADAPTATION = 0.25;

export function createDetector(kind: DetectorKind, settings: DetectorSettings, scaleFloor: number): Detector {
  if (kind === 'ewma') return new EwmaDetector(settings, scaleFloor);
  if (kind === 'zscore') return new RollingZScoreDetector(settings, scaleFloor);
  return new CusumDetector(settings, scaleFloor);
}

/**
 * A baseline and its noise scale: an EWMA of the values and an EWMA of their absolute deviation
 * from it (×√(π/2) to read as σ, never under the signal's floor). While fewer than 1/α values
 * were seen, α is 1/n: a running mean converges faster than the EWMA would.
 */
class Level {
  mean = 0;
  absoluteDeviation = 0;
  seen = 0;

  constructor(private readonly scaleFloor: number) {}

  /** The first value: it is the baseline, and nothing can be judged against it. */
  start(value: number): Judgement {
    this.mean = value;
    this.seen = 1;
    return { sigma: 0, baseline: value, scale: this.scaleFloor, outOfBand: false, warm: false };
  }

  scale(): number {
    return Math.max(this.scaleFloor, MAD_TO_SIGMA * this.absoluteDeviation);
  }

  alpha(ewmaAlpha: number): number {
    return Math.max(ewmaAlpha, 1 / (this.seen + 1));
  }

  /** Moves the mean by meanAlpha of `deviation` and, unless deviationAlpha is 0, the scale too. */
  learn(deviation: number, meanAlpha: number, deviationAlpha: number): void {
    this.mean += meanAlpha * deviation;
    this.absoluteDeviation += deviationAlpha * (Math.abs(deviation) - this.absoluteDeviation);
  }
}

/**
 * EWMA baseline with an adaptive band: the baseline is an exponentially weighted mean, the band's
 * width an exponentially weighted mean of the absolute deviation (×√(π/2) to read as σ). Out-of-band
 * values move the baseline at a quarter of α and leave the band's width alone, so a spike does not
 * widen the band and a step is not absorbed within a few slots.
 */
export class EwmaDetector implements Detector {
  private readonly level: Level;

  constructor(
    private readonly settings: DetectorSettings,
    scaleFloor: number,
  ) {
    this.level = new Level(scaleFloor);
  }

  observe(value: number): Judgement {
    const { level } = this;
    if (level.seen === 0) return level.start(value);
    const scale = level.scale();
    const baseline = level.mean;
    const deviation = value - baseline;
    const sigma = deviation / scale;
    const warm = level.seen >= this.settings.warmupSlots;
    const outOfBand = warm && Math.abs(sigma) > this.settings.thresholdSigma;
    const alpha = level.alpha(this.settings.ewmaAlpha);
    level.learn(deviation, outOfBand ? alpha * OUT_OF_BAND_ADAPTATION : alpha, outOfBand ? 0 : alpha);
    level.seen += 1;
    return { sigma, baseline, scale, outOfBand, warm };
  }
}

/**
 * Rolling z-score over the last `zscoreWindowSlots` values. A value out of band enters the window
 * winsorised to the band's edge, so one outlier cannot inflate the deviation it is measured with.
 */
export class RollingZScoreDetector implements Detector {
  private readonly window: Float64Array;
  private next = 0;
  private count = 0;

  constructor(
    private readonly settings: DetectorSettings,
    private readonly scaleFloor: number,
  ) {
    this.window = new Float64Array(settings.zscoreWindowSlots);
  }

  observe(value: number): Judgement {
    const n = this.count;
    let mean = value;
    let scale = this.scaleFloor;
    if (n > 0) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += this.window[i]!;
      mean = sum / n;
      let squares = 0;
      for (let i = 0; i < n; i++) squares += (this.window[i]! - mean) ** 2;
      scale = Math.max(this.scaleFloor, n > 1 ? Math.sqrt(squares / (n - 1)) : 0);
    }
    const sigma = n === 0 ? 0 : (value - mean) / scale;
    const warm = n >= Math.min(this.settings.warmupSlots, this.window.length);
    const limit = this.settings.thresholdSigma;
    const outOfBand = warm && Math.abs(sigma) > limit;
    const kept = outOfBand ? mean + Math.sign(sigma) * limit * scale : value;
    this.window[this.next] = kept;
    this.next = (this.next + 1) % this.window.length;
    if (this.count < this.window.length) this.count += 1;
    return { sigma, baseline: mean, scale, outOfBand, warm };
  }
}

/**
 * Two-sided CUSUM (Page) on the standardised value z = (x − μ)/σ, z clipped to ±cusumClipSigma so
 * one outlier cannot cross the limit alone: S⁺ = max(0, S⁺ + z − k), S⁻ = max(0, S⁻ − z − k), out of
 * band while either exceeds h. μ and σ are EWMA estimates learnt from in-control values within the threshold; after
 * `cusumRelearnSlots` slots in alarm the recent level (a fast EWMA) becomes μ and the sums restart.
 */
export class CusumDetector implements Detector {
  private readonly level: Level;
  private recentLevel = 0;
  private upper = 0;
  private lower = 0;
  private slotsInAlarm = 0;

  constructor(
    private readonly settings: DetectorSettings,
    scaleFloor: number,
  ) {
    this.level = new Level(scaleFloor);
  }

  observe(value: number): Judgement {
    const { level } = this;
    if (level.seen === 0) {
      this.recentLevel = value;
      return level.start(value);
    }
    const { cusumK, cusumH, cusumClipSigma, thresholdSigma, ewmaAlpha, warmupSlots, cusumRelearnSlots } = this.settings;
    const scale = level.scale();
    const baseline = level.mean;
    const deviation = value - baseline;
    const sigma = deviation / scale;
    const warm = level.seen >= warmupSlots;
    this.recentLevel += 0.3 * (value - this.recentLevel);
    if (!warm) {
      const alpha = level.alpha(ewmaAlpha);
      level.learn(deviation, alpha, alpha);
      level.seen += 1;
      return { sigma, baseline, scale, outOfBand: false, warm };
    }
    level.seen += 1;
    const z = Math.max(-cusumClipSigma, Math.min(cusumClipSigma, sigma));
    this.upper = Math.max(0, this.upper + z - cusumK);
    this.lower = Math.max(0, this.lower - z - cusumK);
    const outOfBand = this.upper > cusumH || this.lower > cusumH;
    if (outOfBand) {
      this.slotsInAlarm += 1;
      if (this.slotsInAlarm >= cusumRelearnSlots) {
        level.mean = this.recentLevel;
        this.upper = this.lower = 0;
        this.slotsInAlarm = 0;
      }
    } else {
      this.slotsInAlarm = 0;
      // Learning from the values within the threshold: the noise of a slot figure changes with the
      // traffic (a p95 of 20 requests at night, of 80 by day), so μ and σ must keep following it.
      // A shift well under the threshold is partly learnt away before it reaches h (eval: ×1.5).
      if (Math.abs(sigma) <= thresholdSigma) level.learn(deviation, ewmaAlpha, ewmaAlpha);
    }
    return { sigma, baseline, scale, outOfBand, warm };
  }
}

/** Hours in a day, and milliseconds in an hour. */
const HOURS = 24;
const HOUR_MS = 3_600_000;

export interface SeasonalSettings {
  /** Days of history every hour-of-day bucket needs before the profile is used. */
  readonly minDays: number;
}

/**
 * An hour-of-day profile (24 EWMA means, UTC hours) that de-seasonalises a series once every hour
 * has `minDays` days of history: the inner detector then judges the residual x − profile(t), the
 * profile interpolated linearly between hour centres. Until then the inner detector judges the raw
 * value; when the profile becomes ready the inner detector starts over (a new warm-up), since its
 * baseline was learnt on another quantity. Values judged out of band do not teach the profile.
 */
export class SeasonalDetector implements Detector {
  private readonly means = new Float64Array(HOURS);
  private readonly counts = new Float64Array(HOURS);
  private readonly firstSeenMs = new Float64Array(HOURS).fill(Number.NaN);
  private ready = false;
  private inner: Detector;

  constructor(
    private readonly makeInner: () => Detector,
    private readonly settings: SeasonalSettings,
    /** Observations per hour: the profile's EWMA spans about one day of each hour. */
    private readonly slotsPerHour: number,
  ) {
    this.inner = makeInner();
  }

  get seasonal(): boolean {
    return this.ready;
  }

  observe(value: number, atMs: number): Judgement {
    if (!this.ready && this.historyComplete(atMs)) {
      this.ready = true;
      this.inner = this.makeInner();
    }
    const expected = this.ready ? this.expected(atMs) : 0;
    const judgement = this.inner.observe(value - expected, atMs);
    if (!judgement.outOfBand) this.learn(value, atMs);
    return this.ready ? { ...judgement, baseline: judgement.baseline + expected } : judgement;
  }

  private learn(value: number, atMs: number): void {
    const hour = hourOf(atMs);
    if (Number.isNaN(this.firstSeenMs[hour]!)) this.firstSeenMs[hour] = atMs;
    this.counts[hour]! += 1;
    const alpha = Math.max(1 / this.counts[hour]!, 1 / this.slotsPerHour);
    this.means[hour]! += alpha * (value - this.means[hour]!);
  }

  private historyComplete(atMs: number): boolean {
    // Every hour seen on minDays days: its first sighting at least minDays − 1 days ago.
    const needMs = (this.settings.minDays - 1) * HOURS * HOUR_MS;
    for (let hour = 0; hour < HOURS; hour++) {
      const first = this.firstSeenMs[hour]!;
      if (Number.isNaN(first) || atMs - first < needMs) return false;
    }
    return true;
  }

  private expected(atMs: number): number {
    const position = (((atMs / HOUR_MS) % HOURS) + HOURS) % HOURS - 0.5;
    const below = Math.floor(position);
    const fraction = position - below;
    const a = this.means[(below + HOURS) % HOURS]!;
    const b = this.means[(below + 1) % HOURS]!;
    return a + fraction * (b - a);
  }
}

function hourOf(atMs: number): number {
  return Math.floor(((atMs / HOUR_MS) % HOURS + HOURS) % HOURS);
}
