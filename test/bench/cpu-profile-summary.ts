import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) into per-function shares of the samples:
 * self (the function was on top of the stack) and inclusive (anywhere on the stack, counted once
 * per sample even when recursive). Idle and GC samples are kept apart so the shares are of the
 * process's busy time, which is what "how expensive is this stage" asks.
 */

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
}

export interface FunctionShare {
  /** `name (file:line)`, the file relative to the repository when it is one of ours. */
  readonly name: string;
  readonly selfShare: number;
  readonly inclusiveShare: number;
}

export interface ProfileSummary {
  readonly busySamples: number;
  readonly idleSamples: number;
  readonly gcShare: number;
  readonly functions: readonly FunctionShare[];
}

const NOT_BUSY = new Set(['(idle)', '(program)']);

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  const file = url.replace(/^file:\/\//, '').replace(/^.*\/dist\//, '').replace(/^.*\/node_modules\//, 'node_modules/');
  return `${name} (${file}:${lineNumber + 1})`;
}

export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let gc = 0;
  for (const sampleId of profile.samples) {
    const top = byId.get(sampleId);
    if (top === undefined) continue;
    const topName = top.callFrame.functionName;
    if (NOT_BUSY.has(topName)) {
      idle++;
      continue;
    }
    busy++;
    if (topName === '(garbage collector)') gc++;
    const name = frameName(top);
    self.set(name, (self.get(name) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = sampleId; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node === undefined || node.callFrame.functionName === '(root)') continue;
      seen.add(frameName(node));
    }
    for (const frame of seen) inclusive.set(frame, (inclusive.get(frame) ?? 0) + 1);
  }
  const names = new Set([...self.keys(), ...inclusive.keys()]);
  const functions = [...names].map((name) => ({
    name,
    selfShare: (self.get(name) ?? 0) / Math.max(1, busy),
    inclusiveShare: (inclusive.get(name) ?? 0) / Math.max(1, busy),
  }));
  return { busySamples: busy, idleSamples: idle, gcShare: gc / Math.max(1, busy), functions };
}

export interface FunctionDifference {
  readonly name: string;
  /** Self time per unit (µs per request or per stream) in the baseline and the compared profile. */
  readonly baseUs: number;
  readonly comparedUs: number;
}

/**
 * Where a compared build spends its extra CPU: each function's self share of the busy samples,
 * turned into µs per unit with each process's measured CPU per unit (from /proc), compared
 * minus baseline, largest increase first. For two processes serving the same load, e.g. the
 * tracing bench's `off` and a traced gateway profiled with BENCH_GATEWAY_NODE_FLAGS.
 */
export function profileDifference(base: ProfileSummary, baseUnitUs: number, compared: ProfileSummary, comparedUnitUs: number): FunctionDifference[] {
  const perUnit = (summary: ProfileSummary, unitUs: number) => new Map(summary.functions.map((entry) => [entry.name, entry.selfShare * unitUs]));
  const before = perUnit(base, baseUnitUs);
  const after = perUnit(compared, comparedUnitUs);
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names]
    .map((name) => ({ name, baseUs: before.get(name) ?? 0, comparedUs: after.get(name) ?? 0 }))
    .sort((left, right) => right.comparedUs - right.baseUs - (left.comparedUs - left.baseUs));
}

// `node dist/test/bench/cpu-profile-summary.js diff BASE.cpuprofile BASE_US COMPARED.cpuprofile COMPARED_US [N]`
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'diff') {
  const [, , , baseFile, baseUs, comparedFile, comparedUs, count = '30'] = process.argv;
  const rows = profileDifference(summarizeProfile(baseFile!), Number(baseUs), summarizeProfile(comparedFile!), Number(comparedUs));
  for (const row of rows.slice(0, Number(count))) {
    process.stdout.write(`${(row.comparedUs - row.baseUs).toFixed(1).padStart(8)} µs  (${row.baseUs.toFixed(1)} → ${row.comparedUs.toFixed(1)})  ${row.name}\n`);
  }
}
