/**
 * Demand forecast by exponential smoothing: Holt's linear trend (double exponential smoothing)
 * over an evenly spaced series, or additive Holt–Winters when a season length is given and the
 * history holds at least two seasons. The smoothing constants are chosen by grid search for the
 * least squared one-step-ahead error over the history (as forecasting packages fit them).
 */
export interface ForecastOptions {
  /** Points per season (e.g. 288 five-minute points for a daily cycle); 0 or absent: no season. */
  readonly seasonLength?: number | undefined;
}

export interface SmoothingFit {
  readonly alpha: number;
  readonly beta: number;
  /** 0 without a season. */
  readonly gamma: number;
  readonly level: number;
  /** Change per step. */
  readonly trend: number;
  /** Additive seasonal terms for the next season, starting one step after the last point; empty without a season. */
  readonly season: readonly number[];
  /** Root mean squared one-step-ahead error over the history. */
  readonly rmse: number;
  readonly seasonal: boolean;
}

const GRID = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const TREND_GRID = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5];

/** Fits the smoothing to `series` (at least 3 points; seasonal needs 2 full seasons). */
export function fitSmoothing(series: readonly number[], options: ForecastOptions = {}): SmoothingFit {
  if (series.length < 3) throw new RangeError('a forecast needs at least 3 points');
  if (series.some((value) => !Number.isFinite(value))) throw new RangeError('the series must be finite');
  const seasonLength = options.seasonLength ?? 0;
  const seasonal = seasonLength >= 2 && series.length >= 2 * seasonLength;
  let best: SmoothingFit | undefined;
  for (const alpha of GRID) {
    for (const beta of TREND_GRID) {
      for (const gamma of seasonal ? GRID : [0]) {
        const fit = run(series, alpha, beta, gamma, seasonal ? seasonLength : 0);
        if (best === undefined || fit.rmse < best.rmse) best = fit;
      }
    }
  }
  return best!;
}

/** The forecast `steps` ahead of the last point (steps ≥ 1). */
export function forecastAt(fit: SmoothingFit, steps: number): number {
  const seasonal = fit.seasonal && fit.season.length > 0 ? fit.season[(steps - 1) % fit.season.length]! : 0;
  return fit.level + steps * fit.trend + seasonal;
}

/**
 * The first step (1…horizon) at which the forecast reaches `limit`, or null when it does not
 * within the horizon. 0 when the last smoothed level (without a season) already reaches it.
 */
export function stepsUntil(fit: SmoothingFit, limit: number, horizonSteps: number): number | null {
  if (!fit.seasonal && fit.level >= limit) return 0;
  for (let step = 1; step <= horizonSteps; step++) if (forecastAt(fit, step) >= limit) return step;
  return null;
}

function run(series: readonly number[], alpha: number, beta: number, gamma: number, seasonLength: number): SmoothingFit {
  let level: number;
  let trend: number;
  const season: number[] = [];
  let start: number;
  if (seasonLength > 0) {
    const first = mean(series.slice(0, seasonLength));
    const second = mean(series.slice(seasonLength, 2 * seasonLength));
    level = first;
    trend = (second - first) / seasonLength;
    for (let i = 0; i < seasonLength; i++) season.push(series[i]! - first);
    start = seasonLength;
  } else {
    level = series[0]!;
    trend = series[1]! - series[0]!;
    start = 1;
  }
  let squared = 0;
  let errors = 0;
  for (let t = start; t < series.length; t++) {
    const value = series[t]!;
    const seasonIndex = seasonLength > 0 ? t % seasonLength : 0;
    const seasonTerm = seasonLength > 0 ? season[seasonIndex]! : 0;
    const predicted = level + trend + seasonTerm;
    squared += (value - predicted) ** 2;
    errors += 1;
    const previousLevel = level;
    level = alpha * (value - seasonTerm) + (1 - alpha) * (level + trend);
    trend = beta * (level - previousLevel) + (1 - beta) * trend;
    if (seasonLength > 0) season[seasonIndex] = gamma * (value - level) + (1 - gamma) * seasonTerm;
  }
  // Seasonal terms for the steps after the last point, in order.
  const next = seasonLength > 0 ? Array.from({ length: seasonLength }, (_, i) => season[(series.length + i) % seasonLength]!) : [];
  return { alpha, beta, gamma, level, trend, season: next, rmse: Math.sqrt(squared / Math.max(1, errors)), seasonal: seasonLength > 0 };
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}
