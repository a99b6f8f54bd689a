import { REQUEST_LATENCY_BUCKETS, TTFT_BUCKETS } from '../../../src/telemetry/metrics/instruments.js';

/**
 * Three days of a gateway's counters and histograms as OpenMetrics text, the way
 * `tollbooth_*` would have been scraped every 5 minutes, with known incidents for the report test
 * to find: half an hour of 100 % errors for model-a, an hour of slow model-a streams, and a
 * gateway restart (every counter back to zero).
 */

export const STEP_SECONDS = 300;
export const DAY_SECONDS = 86_400;
export const STEPS = (3 * DAY_SECONDS) / STEP_SECONDS;
export const MODELS = ['model-a', 'model-b'] as const;
export const TENANTS = ['acme', 'globex'] as const;
export type Model = (typeof MODELS)[number];
export type Tenant = (typeof TENANTS)[number];

/** Requests per 5-minute step. */
export const RATES: Record<Model, Record<Tenant, number>> = { 'model-a': { acme: 100, globex: 50 }, 'model-b': { acme: 20, globex: 30 } };
/** Per successful request. */
export const TOKENS: Record<Model, { input: number; cachedInput: number; output: number }> = {
  'model-a': { input: 1000, cachedInput: 400, output: 200 },
  'model-b': { input: 500, cachedInput: 0, output: 100 },
};
/** Token prices per million (the test's config): a request's cost in micro-units is then exact. */
export const PRICES = { 'model-a': { input: 1, cachedInput: 0.25, output: 2 }, 'model-b': { input: 0.5, output: 1.5 } } as const;
/** Cost of one successful request in micro-units of the currency, from PRICES and TOKENS. */
export const MICROS_PER_REQUEST: Record<Model, number> = {
  'model-a': (1000 - 400) * 1 + 400 * 0.25 + 200 * 2,
  'model-b': 500 * 0.5 + 100 * 1.5,
};

export interface Incidents {
  /** model-a answers every request with a 5xx from `from` to `to`. */
  readonly outage: { readonly from: number; readonly to: number };
  /** model-a's TTFT is 4 s (bucket 2.5–5) and its end-to-end latency 12 s (bucket 10–15). */
  readonly slow: { readonly from: number; readonly to: number };
  /** The gateway restarts right after this step's first sample: every counter starts again at zero. */
  readonly restartStep: number;
}

export function incidentsFrom(day0: number): Incidents {
  return {
    outage: { from: day0 + DAY_SECONDS + 10 * 3600, to: day0 + DAY_SECONDS + 10 * 3600 + 1800 },
    slow: { from: day0 + 2 * DAY_SECONDS + 14 * 3600, to: day0 + 2 * DAY_SECONDS + 15 * 3600 },
    restartStep: 144,
  };
}

const within = (seconds: number, span: { from: number; to: number }) => seconds >= span.from && seconds < span.to;

/** What one step (starting at `stepStart`) adds to each kind of counter. */
export function stepTraffic(incidents: Incidents, stepStart: number) {
  const down = within(stepStart, incidents.outage);
  const slow = within(stepStart, incidents.slow);
  return MODELS.map((model) => {
    const failing = model === 'model-a' && down;
    const slowModel = model === 'model-a' && slow;
    const ok = Object.fromEntries(TENANTS.map((tenant) => [tenant, failing ? 0 : RATES[model][tenant]])) as Record<Tenant, number>;
    const errors = Object.fromEntries(TENANTS.map((tenant) => [tenant, failing ? RATES[model][tenant] : 0])) as Record<Tenant, number>;
    const ttftSeconds = model === 'model-b' ? 0.2 : slowModel ? 4 : 0.4;
    const e2eSeconds = model === 'model-b' ? 0.6 : failing ? 0.4 : slowModel ? 12 : 0.9;
    return { model, ok, errors, ttftSeconds, e2eSeconds };
  });
}

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  return `{${Object.entries(labels).map(([name, value]) => `${name}=${JSON.stringify(value)}`).join(',')}}`;
}

/** The OpenMetrics exposition of the whole history, ending in `# EOF`. */
export function backfillOpenMetrics(day0: number, incidents: Incidents): string {
  const target = { job: 'tollbooth', instance: 'gateway-1:8081' };
  // family → series key → { labels, increments per step }
  const families = new Map<string, { type: string; series: Map<string, { name: string; labels: Labels; increments: number[] }> }>();
  const add = (family: string, type: string, name: string, labels: Labels, step: number, value: number) => {
    let entry = families.get(family);
    if (entry === undefined) families.set(family, (entry = { type, series: new Map() }));
    const all = { ...target, ...labels };
    const key = `${name}${labelText(all)}`;
    let series = entry.series.get(key);
    if (series === undefined) entry.series.set(key, (series = { name, labels: all, increments: new Array<number>(STEPS).fill(0) }));
    series.increments[step]! += value;
  };
  const histogram = (family: string, labels: Labels, bounds: readonly number[], step: number, count: number, seconds: number) => {
    for (const le of bounds) add(family, 'histogram', `${family}_bucket`, { ...labels, le: String(le) }, step, seconds <= le ? count : 0);
    add(family, 'histogram', `${family}_bucket`, { ...labels, le: '+Inf' }, step, count);
    add(family, 'histogram', `${family}_count`, labels, step, count);
    add(family, 'histogram', `${family}_sum`, labels, step, count * seconds);
  };
  for (let step = 0; step < STEPS; step++) {
    // Prometheus's own scrapes of the admin listener: model "none", never traffic of a model.
    add('tollbooth_requests', 'counter', 'tollbooth_requests_total', { model: 'none', replica: 'none', route: '/metrics', status_class: '2xx', stream: 'false', outcome: 'success', tenant: 'none' }, step, 10);
    for (const traffic of stepTraffic(incidents, day0 + step * STEP_SECONDS)) {
      const { model } = traffic;
      const base = { model, replica: 'replica-1', route: '/v1/chat/completions', stream: 'true' };
      let succeeded = 0;
      let all = 0;
      for (const tenant of TENANTS) {
        add('tollbooth_requests', 'counter', 'tollbooth_requests_total', { ...base, status_class: '2xx', outcome: 'success', tenant }, step, traffic.ok[tenant]);
        add('tollbooth_requests', 'counter', 'tollbooth_requests_total', { ...base, status_class: '5xx', outcome: 'upstream_error', tenant }, step, traffic.errors[tenant]);
        succeeded += traffic.ok[tenant];
        all += traffic.ok[tenant] + traffic.errors[tenant];
        const tokens = TOKENS[model];
        for (const [kind, perRequest] of [['input', tokens.input], ['cached_input', tokens.cachedInput], ['output', tokens.output]] as const) {
          if (perRequest > 0) add('tollbooth_tokens', 'counter', 'tollbooth_tokens_total', { model, replica: 'replica-1', kind, source: 'exact', tenant }, step, traffic.ok[tenant] * perRequest);
        }
        add('tollbooth_cost_micros', 'counter', 'tollbooth_cost_micros_total', { model, currency: 'USD', basis: 'tokens', tenant }, step, traffic.ok[tenant] * MICROS_PER_REQUEST[model]);
      }
      histogram('tollbooth_time_to_first_token_seconds', { model, replica: 'replica-1' }, TTFT_BUCKETS, step, succeeded, traffic.ttftSeconds);
      histogram('tollbooth_e2e_request_latency_seconds', { model, replica: 'replica-1', stream: 'true' }, REQUEST_LATENCY_BUCKETS, step, all, traffic.e2eSeconds);
    }
  }
  const lines: string[] = [];
  for (const [family, { type, series }] of families) {
    lines.push(`# TYPE ${family} ${type}`);
    const cumulative = [...series.values()].map(() => 0);
    const list = [...series.values()];
    // Sample i is taken at day0 + i × step and holds what the steps before it added since the last restart.
    for (let sample = 0; sample <= STEPS; sample++) {
      list.forEach((one, index) => {
        if (sample === incidents.restartStep + 1) cumulative[index] = 0;
        if (sample > 0) cumulative[index]! += one.increments[sample - 1]!;
        lines.push(`${one.name}${labelText(one.labels)} ${cumulative[index]} ${day0 + sample * STEP_SECONDS}`);
      });
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}
