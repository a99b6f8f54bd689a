import { createPrng, type Prng } from '../../../sim/prng.js';
import { Aggregate, prepareRequest } from '../../../telemetry/stats/aggregate.js';
import type { CompletedRequest } from '../../../telemetry/stats/completed-request.js';
import { type AnomalySignal, slotSignals } from '../signals.js';

/**
 * Labelled slot series for the detector evaluation: requests drawn like the simulator serves them
 * (src/sim/: TTFT = queue wait + prefill base 15 ms + 0.05 ms per uncached prompt token, pacing
 * 10 ms ± jitter per token, 16–64 output tokens, rare latency spikes and errors), folded into the
 * statistics' own per-slot Aggregate and read back with the signals the gateway's detectors read
 * (signals.ts), so the evaluation measures the whole path from requests to findings.
 */
export const DAY_MS = 86_400_000;

export interface Load {
  /** Requests per second at `atMs`. */
  rate(atMs: number): number;
}

export const STATIONARY: Load = { rate: () => 5 };

/** A day's cycle: quiet at night, busy in the afternoon (×0.3 to ×1.7 around the mean, UTC). */
export const DIURNAL: Load = { rate: (atMs) => 5 * (1 + 0.7 * Math.sin((2 * Math.PI * (atMs - 9 * 3_600_000)) / DAY_MS)) };

/** What is wrong at a time: factors on the TTFT and the engine queue (1 = healthy). */
export interface Degradation {
  ttftFactor(atMs: number): number;
  queueFactor(atMs: number): number;
}

export const HEALTHY: Degradation = { ttftFactor: () => 1, queueFactor: () => 1 };

export class SlotWorkload {
  private readonly prng: Prng;
  private readonly aggregate = new Aggregate('slot');

  constructor(
    seed: number,
    private readonly load: Load,
    private readonly slotMs: number,
    /** analytics.anomaly.minSamples: fewer requests leave a slot's percentile and ratio signals absent. */
    private readonly minSamples: number,
  ) {
    this.prng = createPrng(seed);
  }

  /** The slot starting at `slotStartMs`: its request signals and the engine queue's mean over five samples. */
  slot(slotStartMs: number, degradation: Degradation = HEALTHY): Partial<Record<AnomalySignal, number>> {
    this.aggregate.reset();
    const rate = this.load.rate(slotStartMs + this.slotMs / 2);
    // Busier hours queue a little more in the engine: TTFT and the queue follow the load.
    const busy = Math.max(0, rate / 5);
    const count = this.poisson((rate * this.slotMs) / 1000);
    for (let i = 0; i < count; i++) {
      const endedAtMs = slotStartMs + this.prng.next() * this.slotMs;
      this.aggregate.add(prepareRequest(this.request(endedAtMs, busy, degradation.ttftFactor(endedAtMs))));
    }
    const signals = slotSignals(this.aggregate, this.slotMs, this.minSamples);
    let waiting = 0;
    for (let sample = 0; sample < 5; sample++) {
      const atMs = slotStartMs + ((sample + 0.5) * this.slotMs) / 5;
      waiting += this.poisson(0.3 * busy * busy * degradation.queueFactor(atMs));
    }
    signals.engine_queue = waiting / 5;
    return signals;
  }

  private request(endedAtMs: number, busy: number, ttftFactor: number): CompletedRequest {
    const failed = this.prng.next() < 0.002;
    const promptTokens = Math.min(4000, Math.round(Math.exp(Math.log(300) + 0.8 * this.normal())));
    const cached = this.prng.next() < 0.5 ? Math.floor(promptTokens * this.prng.next() * 0.8) : 0;
    const queueWaitMs = this.prng.next() < 0.1 * busy ? -Math.log(1 - this.prng.next()) * 20 * busy : 0;
    const spikeMs = this.prng.next() < 0.005 ? 1000 : 0;
    const ttftMs = (queueWaitMs + 15 + 0.05 * (promptTokens - cached) + spikeMs) * ttftFactor;
    const outputTokens = this.prng.int(16, 64);
    const interTokenMs = 10 + this.prng.next() * 2;
    const decodeMs = (outputTokens - 1) * interTokenMs;
    return {
      model: 'm',
      replica: 'r',
      tenant: 'none',
      routingOutcome: null,
      endedAtMs,
      success: !failed,
      errorType: failed ? 'upstream_5xx' : null,
      latencyMs: ttftMs + decodeMs,
      ttftMs: failed ? null : ttftMs,
      decodeTokensPerSecond: failed ? null : ((outputTokens - 1) * 1000) / decodeMs,
      inputTokens: promptTokens,
      cachedInputTokens: cached,
      outputTokens: failed ? 0 : outputTokens,
      tokensEstimated: false,
      costNanos: 0n,
    };
  }

  private normal(): number {
    const u = 1 - this.prng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.prng.next());
  }

  /** Knuth's method for small means, a normal approximation for large ones. */
  private poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.prng.next();
    while (p > limit) {
      k += 1;
      p *= this.prng.next();
    }
    return k;
  }
}
