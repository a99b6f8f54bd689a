import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../../../src/auth/key-format.js';
import { ConfigError, loadConfig } from '../../../src/config/load.js';

const REPLICAS = 'http://127.0.0.1:8000=m';

describe('TOLLBOOTH_AUTH_KEYS', () => {
  it('replaces auth.keys with a JSON list validated by the shared schema', () => {
    const hash = hashApiKey('sk-tb-from-env');
    const config = loadConfig({
      env: { TOLLBOOTH_REPLICAS: REPLICAS, TOLLBOOTH_AUTH_KEYS: JSON.stringify([{ id: 'env-key', tenant: 'acme', hash: `sha256:${hash}` }]) },
    });
    expect(config.auth.keys).toEqual([{ id: 'env-key', tenant: 'acme', models: ['*'], limits: {}, hash }]);
  });

  it('reports text that is not JSON, and every invalid entry', () => {
    const problemsOf = (text: string): readonly string[] => {
      try {
        loadConfig({ env: { TOLLBOOTH_REPLICAS: REPLICAS, TOLLBOOTH_AUTH_KEYS: text } });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problemsOf('[{id: x}]')).toEqual(expect.arrayContaining([expect.stringMatching(/^TOLLBOOTH_AUTH_KEYS: expected JSON/)]));
    expect(problemsOf('[{"id":"a","hash":"nope"},{"id":"b b","hash":"' + hashApiKey('x') + '"}]')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^auth\.keys\.0\.hash: /), expect.stringMatching(/^auth\.keys\.1\.id: /)]),
    );
  });

  it('TOLLBOOTH_AUTH_ENABLED=false turns auth off', () => {
    expect(loadConfig({ env: { TOLLBOOTH_REPLICAS: REPLICAS, TOLLBOOTH_AUTH_ENABLED: 'false' } }).auth.enabled).toBe(false);
  });
});
