import type { Principal } from '../auth/key-ring.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { SpendRateTracker } from './budget-forecast.js';
import { buildBudgetState, type BudgetedKey, type BudgetSpendReader, type BudgetState } from './budget-report.js';
import type { RateLimitConfig } from './config.js';
import { hasBudget } from './scopes.js';

export interface BudgetMonitorOptions {
  readonly reader: BudgetSpendReader;
  /** The keys as the key ring holds them now (reloads included). */
  readonly principals: () => readonly Principal[];
  readonly tenantLabel: (tenant: string) => string;
  readonly currency: string;
  readonly settings: RateLimitConfig['budgetReport'];
  readonly internalErrors: InternalErrors;
}

/**
 * The thin wiring around the budget forecasts: a guarded timer that reads every budgeted key's
 * counters from the store each `refreshIntervalMs` (one round trip for all keys, nothing per
 * request), feeds the spend rates and keeps the latest state for the admin API, the gauges and
 * the built-in alerts. With Redis the counters are the shared ones, so every instance shows the
 * same figures. While the store cannot be read, the last state stays (its read_at says how old).
 */
export class BudgetMonitor {
  readonly #options: BudgetMonitorOptions;
  readonly #rates: SpendRateTracker;
  #timer: NodeJS.Timeout | undefined;
  #reading = false;
  #state: BudgetState | undefined;

  constructor(options: BudgetMonitorOptions) {
    this.#options = options;
    this.#rates = new SpendRateTracker(options.settings.rateWindowMs);
  }

  /** The latest state; undefined before the first successful read, or when no key has a budget. */
  get state(): BudgetState | undefined {
    return this.#state;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const refresh = this.#options.internalErrors.guard('budgets', () => this.refresh());
    refresh();
    this.#timer = setInterval(refresh, this.#options.settings.refreshIntervalMs).unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One read; a read still running when the next is due is not doubled. */
  async refresh(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      await this.#refresh();
    } finally {
      this.#reading = false;
    }
  }

  async #refresh(): Promise<void> {
    const keys = budgetedKeys(this.#options.principals());
    this.#rates.retain(new Set(keys.map((key) => key.keyId)));
    if (keys.length === 0) {
      this.#state = undefined;
      return;
    }
    const reading = await this.#options.reader.readBudgetSpend(keys);
    if (reading === undefined) return;
    for (const key of keys) this.#rates.record(key.keyId, reading.atMs, reading.spends.get(key.keyId)?.monthSpentNanos ?? 0n);
    this.#state = buildBudgetState({
      keys,
      reading,
      rateOf: (keyId) => this.#rates.ratePerSecond(keyId),
      tenantLabel: this.#options.tenantLabel,
      currency: this.#options.currency,
      refreshIntervalMs: this.#options.settings.refreshIntervalMs,
      rateWindowMs: this.#options.settings.rateWindowMs,
    });
  }
}

/** Keys with a daily or monthly cap, one per key id (counters are kept by id). */
export function budgetedKeys(principals: readonly Principal[]): BudgetedKey[] {
  const keys = new Map<string, BudgetedKey>();
  for (const { keyId, tenant, policy } of principals) {
    if (hasBudget(policy.budget) && !keys.has(keyId)) keys.set(keyId, { keyId, tenant, budget: policy.budget });
  }
  return [...keys.values()];
}
