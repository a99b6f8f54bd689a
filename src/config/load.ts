import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides } from './env.js';
import { configSchema, type TollboothConfig } from './schema.js';

/** Raised when the configuration cannot be used; `problems` lists every one found, with its path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration (${source}):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** YAML file; defaults to $TOLLBOOTH_CONFIG. Without either, the config comes from the environment only. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads the file, applies TOLLBOOTH_* overrides, validates, and returns a deeply frozen config. */
export function loadConfig(options: LoadConfigOptions = {}): TollboothConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.TOLLBOOTH_CONFIG;
  const source = file ?? 'environment';
  const raw = file === undefined ? {} : readYamlObject(file);
  const { value, problems } = applyEnvOverrides(raw, env);
  const envProblems = problems.map((problem) => `${problem.variable}: ${problem.message}`);
  const result = configSchema.safeParse(value);
  const schemaProblems = result.success ? [] : describeIssues(result.error.issues);
  if (envProblems.length > 0 || !result.success) {
    throw new ConfigError(source, [...envProblems, ...schemaProblems]);
  }
  return deepFreeze(result.data);
}

/** Validates an in-memory object (tests, embedding) with the same rules as a file. */
export function parseConfig(input: unknown, source = 'inline'): TollboothConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error.issues));
  return deepFreeze(result.data);
}

function readYamlObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  // Warnings count as problems too: an unresolved tag (`!!js/function`) or a duplicate key in a
  // configuration is a mistake to report at boot, not a line on stderr beside a running gateway.
  const document = parseDocument(text, { logLevel: 'silent' });
  const problems = [...document.errors, ...document.warnings].map((problem) => `not valid YAML: ${problem.message}`);
  if (problems.length > 0) throw new ConfigError(file, problems);
  let parsed: unknown;
  try {
    parsed = document.toJS();
  } catch (error) {
    // e.g. more alias expansions than the parser allows (a "billion laughs" file)
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(file, ['the top level must be a mapping of sections (server, replicas, …)']);
  }
  return parsed as Record<string, unknown>;
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
    return `${path}: ${issue.message}`;
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
