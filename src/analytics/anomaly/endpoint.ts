import type { FastifyInstance } from 'fastify';
import type { MetricsConfig } from '../../telemetry/metrics/config.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { metricsAccessCheck } from '../../server/metrics-auth.js';
import type { AnomaliesApiResponse } from './report.js';

/** GET /api/v1/anomalies: the detectors' findings, behind the same optional credentials as /api/v1/metrics. */
export function registerAnomaliesEndpoint(app: FastifyInstance, settings: MetricsConfig, report: (nowMs: number) => AnomaliesApiResponse): void {
  const mayRead = metricsAccessCheck(settings);
  app.get('/api/v1/anomalies', async (request) => {
    if (!mayRead(request.headers.authorization)) throw new GatewayError('metrics_unauthorized');
    return report(Date.now());
  });
}
