import { expect } from 'vitest';
import { ConfigError } from '../../src/config/load.js';

/** The problems a configuration was refused with; fails the test when `action` does not throw a ConfigError. */
export function problemsOf(action: () => unknown): readonly string[] {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
