import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, expect } from 'vitest';

/**
 * The fuzz folder's one case-count knob: FUZZ_RUNS cases per target (default a few thousand, so
 * the folder stays part of the suite; `npm run fuzz` sets 100,000). FUZZ_SEED (with FUZZ_PATH)
 * replays the case a failure printed.
 */
export const FUZZ_RUNS = positiveInteger(process.env.FUZZ_RUNS) ?? 2_000;
const FUZZ_SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const FUZZ_PATH = process.env.FUZZ_PATH;

/** A test timeout that grows with the case count: `msPerCase` is a generous per-case allowance. */
export function fuzzTimeout(msPerCase: number, runs = FUZZ_RUNS): number {
  return 30_000 + Math.ceil(runs * msPerCase);
}

function positiveInteger(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function parameters<T>(runs: number): fc.Parameters<T> {
  return {
    numRuns: runs,
    ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }),
    ...(FUZZ_PATH === undefined ? {} : { path: FUZZ_PATH }),
  };
}

/** Records the cases a target ran: a summary line on stdout, and a line in $FUZZ_REPORT for `npm run fuzz`. */
function report(target: string, runs: number, failed: boolean, seed: number): void {
  console.log(`fuzz ${target}: ${runs} cases${failed ? ` FAILED (seed ${seed})` : ''}`);
  const file = process.env.FUZZ_REPORT;
  if (file !== undefined && file !== '') appendFileSync(file, `${target}\t${runs}\t${failed ? 'failed' : 'passed'}\t${seed}\n`);
}

/** Runs a synchronous property for FUZZ_RUNS cases; a failure throws fast-check's report (seed, path, shrunk counterexample). */
export function checkProperty<Ts extends [unknown, ...unknown[]]>(target: string, property: fc.IPropertyWithHooks<Ts>, runs = FUZZ_RUNS): void {
  const details = fc.check(property, parameters<Ts>(runs));
  report(target, details.numRuns, details.failed, details.seed);
  if (details.failed) throw failure(target, fc.defaultReportMessage(details), details.errorInstance);
}

/** The asynchronous twin of `checkProperty`. */
export async function checkAsyncProperty<Ts extends [unknown, ...unknown[]]>(target: string, property: fc.IAsyncPropertyWithHooks<Ts>, runs = FUZZ_RUNS): Promise<void> {
  const details = await fc.check(property, parameters<Ts>(runs));
  report(target, details.numRuns, details.failed, details.seed);
  if (details.failed) throw failure(target, await fc.asyncDefaultReportMessage(details), details.errorInstance);
}

/** fast-check's report (seed, path, shrunk counterexample) and what the counterexample did. */
function failure(target: string, report: string | undefined, error: unknown): Error {
  const what = error instanceof Error ? error.message : String(error);
  return new Error(`${target}: ${report ?? 'property failed'}\nThe shrunk counterexample failed with: ${what.slice(0, 2_000)}`, { cause: error });
}

/**
 * Fails the file when anything escapes to the process: an unhandled rejection or an uncaught
 * exception (which would kill a real gateway). Call once at module level.
 */
export function failOnEscapedErrors(): { readonly escaped: unknown[] } {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => {
    escaped.push(error);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
  });
  afterAll(() => {
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
    expect(escaped.map((error) => (error instanceof Error ? error.stack ?? error.message : String(error)))).toEqual([]);
  });
  return { escaped };
}

/** JSON text of `depth` nested arrays around `leaf` (built as text: JSON.stringify recurses, JSON.parse does not). */
export function nestedArraysText(depth: number, leaf = '"x"'): string {
  return `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
}

/** JSON text of `depth` nested `{"content": …}` objects around `leaf`. */
export function nestedObjectsText(depth: number, key = 'content', leaf = '"x"'): string {
  return `${`{"${key}":`.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}
