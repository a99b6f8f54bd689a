import type { Sampler } from '@opentelemetry/sdk-trace-base';

/** The sampler classes of @opentelemetry/sdk-trace-base (passed in: this module loads no SDK code). */
export interface SamplerKinds {
  readonly AlwaysOnSampler: new () => Sampler;
  readonly AlwaysOffSampler: new () => Sampler;
  readonly ParentBasedSampler: new (config: { root: Sampler }) => Sampler;
  readonly TraceIdRatioBasedSampler: new (ratio?: number) => Sampler;
}

/**
 * The sampler of OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the NodeSDK builds it: unset
 * or unknown is `parentbased_always_on` (a client's decision is honoured, otherwise everything is
 * sampled); a ratio that is missing or outside [0, 1] is 1. Built here, not inside the SDK, so
 * request tracing takes its decision with the very sampler library spans get.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv, kinds: SamplerKinds): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  switch (name) {
    case 'always_on':
      return new kinds.AlwaysOnSampler();
    case 'always_off':
      return new kinds.AlwaysOffSampler();
    case 'parentbased_always_off':
      return new kinds.ParentBasedSampler({ root: new kinds.AlwaysOffSampler() });
    case 'traceidratio':
      return new kinds.TraceIdRatioBasedSampler(ratioOf(env.OTEL_TRACES_SAMPLER_ARG));
    case 'parentbased_traceidratio':
      return new kinds.ParentBasedSampler({ root: new kinds.TraceIdRatioBasedSampler(ratioOf(env.OTEL_TRACES_SAMPLER_ARG)) });
    default:
      return new kinds.ParentBasedSampler({ root: new kinds.AlwaysOnSampler() });
  }
}

function ratioOf(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return 1;
  const ratio = Number(text);
  return Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1;
}
