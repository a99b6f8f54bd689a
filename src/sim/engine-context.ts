import type { Admission } from './admission.js';
import type { SimDcgm } from './dcgm.js';
import type { SimMetrics } from './metrics.js';
import type { SimulatorOptions } from './options.js';
import type { PrefixCache } from './prefix-cache.js';
import type { RequestSpanExporter } from './span-export.js';
import type { GroundTruth } from './truth.js';

/** Everything one simulator instance shares between its requests. */
export interface EngineContext {
  readonly options: SimulatorOptions;
  readonly admission: Admission;
  /** Null when prefix caching is disabled. */
  readonly prefixCache: PrefixCache | null;
  readonly metrics: SimMetrics;
  /** GET /dcgm/metrics: the simulated GPU. */
  readonly dcgm: SimDcgm;
  readonly truth: GroundTruth;
  /** Null unless `otlpTracesEndpoint` is set: then every finished generation exports an `llm_request` span. */
  readonly requestSpans: RequestSpanExporter | null;
  /** Timers of in-flight requests, cleared on close so nothing fires after shutdown. */
  readonly timers: Set<NodeJS.Timeout>;
  /** Zero-delay steps of in-flight requests (see GenerationRun.schedule), cleared on close too. */
  readonly immediates: Set<NodeJS.Immediate>;
}
