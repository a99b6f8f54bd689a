import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { metricsAccessCheck } from '../../../src/server/metrics-auth.js';

const settingsWith = (metrics: Record<string, unknown>) =>
  parseConfig({ auth: { enabled: false }, replicas: [{ url: 'http://10.0.0.1:8000', models: ['m'] }], metrics }).metrics;

describe('metricsAccessCheck', () => {
  it('lets everyone in when no credentials are configured', () => {
    expect(metricsAccessCheck(settingsWith({}))(undefined)).toBe(true);
  });

  it('accepts exactly the configured bearer token or basic credentials', () => {
    const mayRead = metricsAccessCheck(settingsWith({ bearerToken: 'a-long-enough-token', basicAuth: { username: 'prom', password: 'secret-pw' } }));
    expect(mayRead('Bearer a-long-enough-token')).toBe(true);
    expect(mayRead(`Basic ${Buffer.from('prom:secret-pw').toString('base64')}`)).toBe(true);
    expect(mayRead(undefined)).toBe(false);
    expect(mayRead('Bearer a-long-enough-token ')).toBe(false);
    // The scheme is case-insensitive, the credentials are not.
    expect(mayRead('bearer a-long-enough-token')).toBe(true);
    expect(mayRead('Bearer A-LONG-ENOUGH-TOKEN')).toBe(false);
    expect(mayRead(`Basic ${Buffer.from('prom:wrong').toString('base64')}`)).toBe(false);
  });

  it('rejects short secrets at boot', () => {
    expect(() => settingsWith({ bearerToken: 'short' })).toThrow(/metrics\.bearerToken: use at least 16 characters/);
  });
});
