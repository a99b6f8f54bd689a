import type { AlertInstance } from './engine.js';
import { messageOf, scopeLabels } from './engine.js';

/** An alert in Alertmanager's POST /api/v2/alerts shape (its OpenAPI `postableAlert`). */
export interface PostableAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly generatorURL?: string;
}

/**
 * An instance as Alertmanager takes it: labels alertname, severity, scope and model, replica, tenant or key_id
 * (plus `source: tollbooth`), the message as summary, startsAt the firing time, endsAt either the
 * resolve time or, while firing, a time ahead (as Prometheus does: Alertmanager resolves an alert
 * on its own once endsAt passes without a re-send).
 */
export function postableAlert(instance: AlertInstance, endsAtMs: number): PostableAlert {
  const { rule } = instance;
  const { scope, model, replica, tenant, key } = scopeLabels(instance);
  return {
    labels: {
      alertname: rule.name,
      severity: rule.severity,
      scope,
      ...(model === undefined ? {} : { model }),
      ...(replica === undefined ? {} : { replica }),
      ...(tenant === undefined ? {} : { tenant }),
      ...(key === undefined ? {} : { key_id: key }),
      source: 'tollbooth',
    },
    annotations: { summary: messageOf(instance), figure: rule.figure, value: String(instance.value), threshold: String(rule.threshold) },
    startsAt: new Date(instance.firedAtMs ?? instance.activeAtMs).toISOString(),
    endsAt: new Date(endsAtMs).toISOString(),
  };
}
