import type { Logger } from 'pino';
import type { InternalErrors } from '../errors/internal-errors.js';
import type { BudgetReport } from '../ratelimit/budget-report.js';
import type { MetricsApiResponse } from '../telemetry/stats/snapshot.js';
import type { AlertsConfig } from './config.js';
import { type AlertCondition, type AlertEngine, type AlertInstance, type AlertTransition, messageOf, scopeLabels } from './engine.js';
import { type PostableAlert, postableAlert } from './push.js';

export interface AlertRunnerOptions {
  readonly engine: AlertEngine;
  readonly settings: Pick<AlertsConfig, 'evaluationIntervalMs' | 'push'>;
  /** The JSON of GET /api/v1/metrics now (the same windows the rules read). */
  readonly snapshot: (nowMs: number) => MetricsApiResponse;
  /** The budgets' latest report (GET /api/v1/budgets), read by the tenant and key rules; undefined without budgets. */
  readonly budgets?: (() => BudgetReport | undefined) | undefined;
  /** Conditions judged elsewhere that hold now (the anomaly findings), alerted like the rules. */
  readonly conditions?: (() => readonly AlertCondition[]) | undefined;
  readonly log: Logger;
  readonly internalErrors: InternalErrors;
  readonly now?: () => number;
}

/**
 * The thin wiring around the pure {@link AlertEngine}: a guarded timer that evaluates the rules
 * every `evaluationIntervalMs` while the gateway runs (nothing per request), one log line per
 * transition, and the optional push to an Alertmanager and/or a webhook: each transition at once,
 * firing alerts again every `resendIntervalMs`, a resolved one once with its endsAt.
 */
export class AlertRunner {
  private timer: NodeJS.Timeout | undefined;
  private lastResendMs = -Infinity;
  private readonly now: () => number;

  constructor(private readonly options: AlertRunnerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(this.options.internalErrors.guard('alerts', () => this.tick()), this.options.settings.evaluationIntervalMs).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One evaluation; resolves once its push (if any) is done. */
  async tick(): Promise<void> {
    const nowMs = this.now();
    const transitions = this.options.engine.evaluate(this.options.snapshot(nowMs), nowMs, this.options.conditions?.() ?? [], this.options.budgets?.());
    for (const transition of transitions) this.logTransition(transition);
    await this.push(transitions, nowMs);
  }

  private logTransition({ instance, from, to }: AlertTransition): void {
    const fields = { alert: instance.rule.name, severity: instance.rule.severity, ...scopeLabels(instance), figure: instance.rule.figure, value: instance.value, threshold: instance.rule.threshold, from, to };
    const line = `alert ${instance.rule.name} ${to}: ${messageOf(instance)}`;
    if (to === 'firing') this.options.log.warn(fields, line);
    else this.options.log.info(fields, line);
  }

  private async push(transitions: readonly AlertTransition[], nowMs: number): Promise<void> {
    const { alertmanagerUrl, webhookUrl, resendIntervalMs, timeoutMs } = this.options.settings.push;
    if (alertmanagerUrl === undefined && webhookUrl === undefined) return;
    const firingAheadMs = 4 * Math.max(resendIntervalMs, this.options.settings.evaluationIntervalMs);
    const resend = nowMs - this.lastResendMs >= resendIntervalMs;
    const sent = new Set<AlertInstance>();
    const alerts: { alert: PostableAlert; status: 'firing' | 'resolved' }[] = [];
    for (const { instance, to } of transitions) {
      if (to === 'resolved') alerts.push({ alert: postableAlert(instance, nowMs), status: 'resolved' });
      if (to === 'firing') {
        alerts.push({ alert: postableAlert(instance, nowMs + firingAheadMs), status: 'firing' });
        sent.add(instance);
      }
    }
    if (resend) {
      for (const instance of this.options.engine.active()) {
        if (instance.state === 'firing' && !sent.has(instance)) alerts.push({ alert: postableAlert(instance, nowMs + firingAheadMs), status: 'firing' });
      }
    }
    if (alerts.length === 0) return;
    if (resend) this.lastResendMs = nowMs;
    const posts: Promise<void>[] = [];
    if (alertmanagerUrl !== undefined) {
      posts.push(this.post(new URL('/api/v2/alerts', alertmanagerUrl).href, alerts.map(({ alert }) => alert), timeoutMs));
    }
    if (webhookUrl !== undefined) {
      posts.push(this.post(webhookUrl, { source: 'tollbooth', alerts: alerts.map(({ alert, status }) => ({ status, ...alert })) }, timeoutMs));
    }
    await Promise.all(posts);
  }

  /**
   * A failed push is logged (the receiver may be down); the next re-send carries the firing alerts
   * again. Only the URL's origin is logged: a webhook's path or credentials are often its secret.
   */
  private async post(url: string, body: unknown, timeoutMs: number): Promise<void> {
    const receiver = new URL(url).origin;
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer();
      if (!response.ok) this.options.log.warn({ receiver, status: response.status }, 'alert push rejected');
    } catch (error) {
      this.options.log.warn({ receiver, err: error }, 'alert push failed');
    }
  }
}
