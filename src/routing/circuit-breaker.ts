/**
 * A circuit breaker per replica: passive ejection from the outcomes of real requests.
 *
 *   closed ──(failureThreshold consecutive failures)──► open
 *   open ──(ejection time over, noticed by the next call)──► half_open
 *   half_open ──(one trial request)──► success: closed   failure: open, ejection doubled
 *
 * - Ejection times: base, 2×base, 4×base … capped at maxEjectionMs, for consecutive openings. The
 *   doubling resets when a request succeeds (in closed, or as the half-open trial). A healthy probe
 *   closes the breaker but does not reset the doubling: a replica whose /health answers 200 while its
 *   requests fail would otherwise flap at the base ejection time forever.
 * - Outcomes reported while open are ignored: they come from requests sent before the ejection, and
 *   a burst of in-flight failures must neither extend nor double it.
 * - In half_open any reported outcome decides (the breaker cannot tell the trial from a straggler sent
 *   before the ejection; either way the outcome is news about the replica as of `now`).
 * - A trial whose outcome never comes must not wedge the breaker. Two ways out:
 *   `onAbandoned(now)` (the caller's request ended without a verdict, e.g. the client went away before
 *   the replica answered) frees the trial slot at once; and a trial older than `trialTimeoutMs` is
 *   treated as abandoned by the next call. Abandonment is not a failure: the next request is the trial.
 * - Active probes: `onProbe(true)` closes from open or half_open; `onProbe(false)` turns half_open
 *   back into open (ejection doubled, like a failed trial) and leaves open as it is. Probes do not
 *   move a closed breaker: replica health from /health is tracked separately (Replica.health).
 *
 * Suggested wiring: report `onSuccess` when a 2xx/4xx response's headers arrive (a long stream then
 * does not hold the trial slot), `onFailure` for connect errors, resets, timeouts and 5xx, and
 * `onAbandoned` when the client aborts before the headers.
 *
 * All time comes from the caller (`now`, monotonic ms). No timers; state changes only inside calls.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitSettings {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold: number;
  /** First ejection time (default 5 000 ms). */
  baseEjectionMs: number;
  /** Cap of the doubled ejection time (default 60 000 ms). */
  maxEjectionMs: number;
  /** A half-open trial without an outcome after this long frees its slot (default 30 000 ms). */
  trialTimeoutMs?: number;
}

export const DEFAULT_CIRCUIT_SETTINGS: Readonly<Required<CircuitSettings>> = Object.freeze({
  failureThreshold: 5,
  baseEjectionMs: 5_000,
  maxEjectionMs: 60_000,
  trialTimeoutMs: 30_000,
});

export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly baseEjectionMs: number;
  private readonly maxEjectionMs: number;
  private readonly trialTimeoutMs: number;

  private currentState: CircuitState = 'closed';
  private failures = 0;
  /** Openings since the last request success; the next ejection lasts base × 2^openings (capped). */
  private consecutiveOpenings = 0;
  private openUntil = 0;
  private trialStartedAt: number | undefined;
  private ejectionCount = 0;
  private lastEjection = 0;

  constructor(settings: CircuitSettings = DEFAULT_CIRCUIT_SETTINGS) {
    this.failureThreshold = settings.failureThreshold;
    this.baseEjectionMs = settings.baseEjectionMs;
    this.maxEjectionMs = settings.maxEjectionMs;
    this.trialTimeoutMs = settings.trialTimeoutMs ?? DEFAULT_CIRCUIT_SETTINGS.trialTimeoutMs;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) {
      throw new RangeError(`failureThreshold must be an integer >= 1, got ${this.failureThreshold}`);
    }
    if (!(this.baseEjectionMs > 0) || !Number.isFinite(this.baseEjectionMs)) {
      throw new RangeError(`baseEjectionMs must be a positive number, got ${this.baseEjectionMs}`);
    }
    if (!(this.maxEjectionMs >= this.baseEjectionMs) || !Number.isFinite(this.maxEjectionMs)) {
      throw new RangeError(`maxEjectionMs must be >= baseEjectionMs, got ${this.maxEjectionMs}`);
    }
    if (!(this.trialTimeoutMs > 0)) {
      throw new RangeError(`trialTimeoutMs must be positive, got ${this.trialTimeoutMs}`);
    }
  }

  /** The state as of the last call (open turns half_open only when a call notices the time is over). */
  get state(): CircuitState {
    return this.currentState;
  }

  /** Times the circuit opened (for a counter). */
  get ejections(): number {
    return this.ejectionCount;
  }

  /** Consecutive failures counted while closed. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Length of the latest ejection (ms), 0 before the first; for logs. */
  get lastEjectionMs(): number {
    return this.lastEjection;
  }

  /** Whether a half-open trial is under way (its outcome not reported yet). */
  get trialInFlight(): boolean {
    return this.trialStartedAt !== undefined;
  }

  /** May a request be sent now? In half_open only one trial request at a time is allowed. */
  tryAcquire(now: number): boolean {
    this.advance(now);
    switch (this.currentState) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half_open':
        if (this.trialStartedAt !== undefined) return false;
        this.trialStartedAt = now;
        return true;
    }
  }

  /** A request sent after tryAcquire succeeded. */
  onSuccess(now: number): void {
    this.advance(now);
    if (this.currentState === 'open') return;
    this.close();
    this.consecutiveOpenings = 0;
  }

  /** A request sent after tryAcquire failed (connect failure, reset, timeout, 5xx). */
  onFailure(now: number): void {
    this.advance(now);
    switch (this.currentState) {
      case 'closed':
        this.failures += 1;
        if (this.failures >= this.failureThreshold) this.open(now);
        return;
      case 'half_open':
        this.open(now);
        return;
      case 'open':
        return;
    }
  }

  /**
   * A request sent after tryAcquire ended without an outcome (the client aborted before the replica
   * answered). Frees the half-open trial slot; changes nothing else.
   */
  onAbandoned(now: number): void {
    this.advance(now);
    if (this.currentState === 'half_open') this.trialStartedAt = undefined;
  }

  /** An active health probe's result: healthy closes (from open or half_open); unhealthy keeps it open. */
  onProbe(healthy: boolean, now: number): void {
    this.advance(now);
    if (this.currentState === 'closed') return;
    if (healthy) this.close();
    else if (this.currentState === 'half_open') this.open(now);
  }

  /**
   * Ms until a request may be tried again: the rest of the ejection when open; while a half-open
   * trial is under way, the time until its slot is freed by the trial timeout at the latest; else 0.
   */
  retryInMs(now: number): number {
    this.advance(now);
    if (this.currentState === 'open') return Math.max(0, this.openUntil - now);
    if (this.trialStartedAt !== undefined) return Math.max(0, this.trialStartedAt + this.trialTimeoutMs - now);
    return 0;
  }

  /** Applies what time alone changes: the end of an ejection, and the timeout of a lost trial. */
  private advance(now: number): void {
    if (this.currentState === 'open' && now >= this.openUntil) {
      this.currentState = 'half_open';
      this.trialStartedAt = undefined;
    }
    if (this.trialStartedAt !== undefined && now - this.trialStartedAt >= this.trialTimeoutMs) {
      this.trialStartedAt = undefined;
    }
  }

  private open(now: number): void {
    const ejection = Math.min(this.baseEjectionMs * 2 ** Math.min(this.consecutiveOpenings, 52), this.maxEjectionMs);
    this.currentState = 'open';
    this.openUntil = now + ejection;
    this.lastEjection = ejection;
    this.trialStartedAt = undefined;
    this.failures = 0;
    this.ejectionCount += 1;
    if (ejection < this.maxEjectionMs) this.consecutiveOpenings += 1;
  }

  private close(): void {
    this.currentState = 'closed';
    this.failures = 0;
    this.trialStartedAt = undefined;
  }
}
