import { Registry, type Metric, type OpenMetricsContentType } from 'prom-client';

/**
 * The two text expositions of one registry, both rendered by prom-client's own renderer.
 *
 * Prometheus text (0.0.4) is the registry as it is. OpenMetrics 1.0 (what carries exemplars) is
 * rendered by a throw-away OpenMetrics `Registry` holding the same metric objects, with one
 * detour: prom-client 15 renders an OpenMetrics counter by renaming the counter object itself
 * (`metric.name` loses `_total`, for good), after which the Prometheus exposition of that counter
 * would lose its `_total` too. Counters therefore enter the OpenMetrics registry as a view whose
 * family name is already without `_total`; the renderer then writes `# TYPE <family> counter` and
 * `<family>_total` samples, as OpenMetrics wants, and the real counter is never touched. Building
 * the view per scrape keeps it in step with the registry (a few dozen small objects per scrape).
 * The registry's default labels, if anyone ever sets them, are not carried over.
 */
export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

export function contentTypeOf(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/** Renders `registry` (a Prometheus-text registry) in either format. */
export function renderExposition(registry: Registry, format: ExpositionFormat): Promise<string> {
  if (format === 'prometheus') return registry.metrics();
  const openMetrics = new Registry<OpenMetricsContentType>();
  openMetrics.setContentType(OPENMETRICS_CONTENT_TYPE);
  for (const metric of registry.getMetricsAsArray() as unknown as RegisteredMetric[]) {
    openMetrics.registerMetric((metric.type === 'counter' ? counterFamilyView(metric) : metric) as unknown as Metric);
  }
  return openMetrics.metrics();
}

/** What prom-client's Registry reads from a metric at run time (its typings say less). */
interface RegisteredMetric {
  name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;
  get(): Promise<{ name: string }>;
  reset(): void;
}

/** A counter as an OpenMetrics family: the same values under the name without `_total`. */
function counterFamilyView(counter: RegisteredMetric): RegisteredMetric {
  const family = counter.name.replace(/_total$/, '');
  return {
    name: family,
    help: counter.help,
    type: counter.type,
    aggregator: counter.aggregator,
    get: async () => ({ ...(await counter.get()), name: family }),
    reset: () => counter.reset(),
  };
}

/**
 * Chooses the exposition for an `Accept` header: OpenMetrics when the client names
 * `application/openmetrics-text` (any version: Prometheus parses 1.0.0 whichever it asked for)
 * with a quality at least that of plain text; Prometheus text otherwise, including when the
 * header is missing, names neither, or asks only for something we do not serve.
 */
export function negotiateExposition(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || !/openmetrics/i.test(accept)) return 'prometheus';
  let openMetrics = 0;
  let plainText: number | undefined;
  let textWildcard: number | undefined;
  let anyWildcard: number | undefined;
  for (const range of accept.split(',')) {
    const [mediaType = '', ...parameters] = range.split(';');
    const quality = qualityOf(parameters);
    switch (mediaType.trim().toLowerCase()) {
      case 'application/openmetrics-text':
        openMetrics = Math.max(openMetrics, quality);
        break;
      case 'text/plain':
        plainText = Math.max(plainText ?? 0, quality);
        break;
      case 'text/*':
        textWildcard = Math.max(textWildcard ?? 0, quality);
        break;
      case '*/*':
        anyWildcard = Math.max(anyWildcard ?? 0, quality);
        break;
    }
  }
  // The most specific range that matches text/plain decides its quality (RFC 9110, 12.5.1).
  const text = plainText ?? textWildcard ?? anyWildcard ?? 0;
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'prometheus';
}

function qualityOf(parameters: readonly string[]): number {
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'q') continue;
    const quality = Number(value.trim());
    return Number.isFinite(quality) && quality >= 0 && quality <= 1 ? quality : 0;
  }
  return 1;
}
