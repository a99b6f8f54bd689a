import { z } from 'zod';
import { figureProblem } from './figures.js';

/**
 * The built-in alerts' configuration (`alerts:` in the config file). The reference service's three
 * alerts are on by default; a rule in `rules` with the name of a default replaces it (its
 * threshold, `forMs`, severity…), any other name adds a rule. Figures are paths into the JSON of
 * GET /api/v1/metrics, checked at boot (src/alerts/figures.ts).
 */
export const ALERT_SCOPES = ['fleet', 'model', 'replica', 'tenant', 'key'] as const;
export const ALERT_COMPARISONS = ['>', '>=', '<', '<=', '==', '!='] as const;

export const alertRuleSchema = z
  .object({
    /** The alertname label: letters, digits and underscores. */
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'use 1-64 letters, digits or "_", not starting with a digit'),
    /**
     * A number in the JSON of GET /api/v1/metrics, by its path (requests.waiting, slo.ttft.p95…),
     * read in the rule's scope; for the tenant and key scopes, in tenants.<t> or keys.<k> of GET
     * /api/v1/budgets (day.projected_percent, month.spent_percent…).
     */
    figure: z.string().min(1),
    comparison: z.enum(ALERT_COMPARISONS).default('>'),
    threshold: z.number().finite(),
    /** How long the comparison must hold (pending) before the alert fires; 0 fires at once. */
    forMs: z.number().int().nonnegative().default(0),
    /** critical pages, warning goes to a channel, info to a dashboard (and leaves the JSON's status ok). */
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
    /**
     * fleet: the top-level figures; model: by_model.<m>; replica: by_replica.<r> with replicas.<r>;
     * tenant, key: the budgets' tenants.<t>, keys.<k> (one alert per model, replica, tenant or key).
     */
    scope: z.enum(ALERT_SCOPES).default('fleet'),
    /** Words before the figure in the alert's message. */
    summary: z.string().min(1).max(200).optional(),
  })
  .strict()
  .superRefine((rule, context) => {
    const problem = figureProblem(rule.scope, rule.figure);
    if (problem !== undefined) context.addIssue({ code: 'custom', path: ['figure'], message: problem });
  });

export type AlertRule = z.infer<typeof alertRuleSchema>;

/**
 * The reference service's built-in alerts (REFERENCES.md, "Built-in alerts of the reference
 * service"), and the budget forecasts' warnings: a key that, at its spend rate over
 * rateLimits.budgetReport.rateWindowMs, reaches its daily or monthly cap before the period ends
 * (exhausted keys included: their projection is at least 100 %). Keys without budgets never show.
 */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = [
  { name: 'QueueTooLong', figure: 'requests.waiting', comparison: '>', threshold: 5, forMs: 60_000, severity: 'warning', scope: 'fleet', summary: 'Requests waiting in the engine queues' },
  { name: 'TTFTTooHigh', figure: 'slo.ttft.p95', comparison: '>', threshold: 3, forMs: 300_000, severity: 'warning', scope: 'fleet', summary: 'Time to first token p95 (s)' },
  { name: 'ErrorRateTooHigh', figure: 'requests.error_rate_percent', comparison: '>', threshold: 10, forMs: 300_000, severity: 'critical', scope: 'fleet', summary: 'Error rate (%)' },
  { name: 'DailyBudgetRunningOut', figure: 'day.projected_percent', comparison: '>=', threshold: 100, forMs: 300_000, severity: 'warning', scope: 'key', summary: "Share of the key's daily budget spent by the day's end at its current rate (%)" },
  { name: 'MonthlyBudgetRunningOut', figure: 'month.projected_percent', comparison: '>=', threshold: 100, forMs: 900_000, severity: 'warning', scope: 'key', summary: "Share of the key's monthly budget spent by the month's end at its current rate (%)" },
];

const pushSchema = z
  .object({
    /** Alertmanager base URL (e.g. http://127.0.0.1:9093): alerts are POSTed to <url>/api/v2/alerts. */
    alertmanagerUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** Any URL: each transition and every re-send is POSTed as JSON { status, alerts } (Alertmanager's alert objects). */
    webhookUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** Firing alerts are sent again this often (Alertmanager forgets alerts whose endsAt passed). */
    resendIntervalMs: z.number().int().positive().default(60_000),
    timeoutMs: z.number().int().positive().default(5_000),
  })
  .strict();

export const alertsConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** How often the rules are evaluated over the JSON's window. */
    evaluationIntervalMs: z.number().int().positive().default(5_000),
    /** Include the default alerts: the reference's three and the two budget forecasts (a rule below with the same name replaces one). */
    defaults: z.boolean().default(true),
    rules: z.array(alertRuleSchema).default([]),
    push: pushSchema.prefault({}),
  })
  .strict()
  .superRefine((alerts, context) => {
    const seen = new Set<string>();
    alerts.rules.forEach((rule, index) => {
      if (seen.has(rule.name)) context.addIssue({ code: 'custom', path: ['rules', index, 'name'], message: `rule name "${rule.name}" is used twice` });
      seen.add(rule.name);
    });
  });

export type AlertsConfig = z.infer<typeof alertsConfigSchema>;

/** The rules evaluated: the defaults (unless turned off) with same-named configured rules in their place, then the others. */
export function effectiveRules(config: Pick<AlertsConfig, 'defaults' | 'rules'>): readonly AlertRule[] {
  const configured = new Map(config.rules.map((rule) => [rule.name, rule]));
  const defaults = config.defaults ? DEFAULT_ALERT_RULES.map((rule) => configured.get(rule.name) ?? rule) : [];
  const defaultNames = new Set(DEFAULT_ALERT_RULES.map((rule) => rule.name));
  return [...defaults, ...config.rules.filter((rule) => !config.defaults || !defaultNames.has(rule.name))];
}
