import type { FastifyInstance } from 'fastify';
import type { TollboothConfig } from '../config/schema.js';
import type { InternalErrors } from '../errors/internal-errors.js';
import { metricsGuard } from '../server/metrics-endpoints.js';
import type { MetricsApiResponse } from '../telemetry/stats/snapshot.js';
import { dashboardAssets } from './dashboard-assets.js';
import { LiveMetricsBroadcaster, sseFrame } from './live-metrics.js';

/** The stream's pace: the dashboard's time resolution. */
export const LIVE_METRICS_INTERVAL_MS = 1_000;
export const LIVE_METRICS_STREAM_PATH = '/api/v1/metrics/stream';

/**
 * The page may load only its own files and talk only to its own origin: no CDN, no inline script.
 * (uPlot sizes its elements through the CSSOM, which style-src does not govern.)
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The live dashboard: GET /dashboard (the page, uPlot and the page's script and style, none of them
 * secret) and GET /api/v1/metrics/stream, the JSON of /api/v1/metrics as a server-sent event once a
 * second, behind the metrics credentials. Streams end when the listener closes (they never finish
 * on their own, and a close waits for open responses).
 */
export function registerDashboard(
  app: FastifyInstance,
  dependencies: {
    readonly settings: TollboothConfig['metrics'];
    readonly snapshot: () => MetricsApiResponse;
    readonly internalErrors: InternalErrors;
  },
): LiveMetricsBroadcaster {
  const guard = metricsGuard(dependencies.settings);
  const broadcaster = new LiveMetricsBroadcaster({
    frame: () => sseFrame(dependencies.snapshot()),
    intervalMs: LIVE_METRICS_INTERVAL_MS,
    internalErrors: dependencies.internalErrors,
  });

  for (const [path, asset] of dashboardAssets()) {
    app.get(path, async (_request, reply) => {
      void reply
        .header('content-type', asset.contentType)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', CONTENT_SECURITY_POLICY);
      return asset.body;
    });
  }
  app.get('/dashboard/', async (_request, reply) => reply.redirect('/dashboard'));

  app.get(LIVE_METRICS_STREAM_PATH, (request, reply) => {
    guard(request.headers.authorization);
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    });
    // Reconnect a second after a cut (the page also keeps its own watchdog).
    response.write('retry: 1000\n\n');
    const unsubscribe = broadcaster.subscribe(response);
    response.once('close', unsubscribe);
  });
  app.addHook('preClose', (done) => {
    broadcaster.closeAll();
    done();
  });
  return broadcaster;
}
