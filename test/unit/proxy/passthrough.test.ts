import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { DEFAULT_PASSTHROUGH_PATHS, passthroughConfigSchema, passthroughMatcher } from '../../../src/proxy/passthrough.js';

describe('passthroughMatcher', () => {
  const allows = passthroughMatcher(['/v1/files', '/v1/batches/*', '/pooling']);

  it('matches exact paths exactly', () => {
    expect(allows('/v1/files')).toBe(true);
    expect(allows('/pooling')).toBe(true);
    expect(allows('/v1/files/')).toBe(false);
    expect(allows('/v1/files/abc')).toBe(false);
    expect(allows('/v1/File')).toBe(false);
    expect(allows('/v1/filesx')).toBe(false);
  });

  it('matches "/*" prefixes below the prefix, not the prefix itself', () => {
    expect(allows('/v1/batches/batch_1')).toBe(true);
    expect(allows('/v1/batches/batch_1/cancel')).toBe(true);
    expect(allows('/v1/batches/')).toBe(false);
    expect(allows('/v1/batches')).toBe(false);
    expect(allows('/v1/batchesx/1')).toBe(false);
  });

  it('allows nothing with an empty list, everything below "/" with "/*"', () => {
    expect(passthroughMatcher([])('/v1/files')).toBe(false);
    expect(passthroughMatcher(['/*'])('/v1/load_lora_adapter')).toBe(true);
  });

  it('leaves vLLM admin routes out of the default list', () => {
    const defaults = passthroughMatcher(DEFAULT_PASSTHROUGH_PATHS);
    for (const admin of ['/v1/load_lora_adapter', '/v1/unload_lora_adapter', '/reset_prefix_cache', '/sleep', '/wake_up', '/is_sleeping', '/collective_rpc', '/scale_elastic_ep']) {
      expect(defaults(admin)).toBe(false);
    }
    expect(defaults('/v1/chat/completions/render')).toBe(true);
    expect(defaults('/pooling')).toBe(true);
  });
});

describe('passthrough config', () => {
  it('defaults to the vLLM inference routes', () => {
    expect(passthroughConfigSchema.parse({}).paths).toEqual(DEFAULT_PASSTHROUGH_PATHS);
  });

  it.each(['v1/files', '/v1/files*', '/v1/*/content', '/v1/../sim', '/v1//files', '/v1/files/', '/v1/%2e', '/v1/:id', '/v1\\files', ''])(
    'refuses the pattern %j',
    (pattern) => {
      expect(passthroughConfigSchema.safeParse({ paths: [pattern] }).success).toBe(false);
    },
  );

  it('is part of the gateway config', () => {
    const config = configSchema.parse({ replicas: [{ url: 'http://127.0.0.1:1', models: ['m'] }], auth: { enabled: false }, passthrough: { paths: ['/v1/files/*'] } });
    expect(config.passthrough.paths).toEqual(['/v1/files/*']);
  });
});
