import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dependencyPath, describeCycle, folderCycles, folderOf, readFolderImports } from '../../helpers/import-graph.js';

/**
 * The dependency rule of src/ (stated in src/README.md): stages publish facts, telemetry subscribes,
 * so no stage depends on telemetry/, directly or through another folder; and the folders form no
 * cycle, so each can be read, tested and changed from the bottom up. server/ is not a stage here:
 * it serves the metrics endpoints (telemetry's exposition and statistics) and sits above telemetry
 * with admin/ and the wiring; what the stages need of the request frame (the body, unknownUrl)
 * lives below them. lifecycle/, the seam the stages publish to, is held to the same rule (a stage
 * that imports it must not reach telemetry/ through it).
 */
const SRC = join(import.meta.dirname, '../../../src');
const STAGES = ['auth/', 'guardrails/', 'lifecycle/', 'overload/', 'proxy/', 'ratelimit/', 'routing/', 'streaming/'];
const TELEMETRY = 'telemetry/';

const imports = readFolderImports(SRC);

describe('the dependency rule of src/', () => {
  it('reads an import graph that covers every folder of src/', () => {
    const nodes = new Set(imports.flatMap((edge) => [edge.from, edge.to]));
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() || entry.name.endsWith('.ts'))
      .map((entry) => folderOf(entry.isDirectory() ? join(entry.name, 'x.ts') : entry.name));
    expect(folders.filter((folder) => !nodes.has(folder))).toEqual([]);
  });

  it('has no stage that depends on telemetry/, directly or through another folder', () => {
    const violations = STAGES.flatMap((stage) => {
      // Every direct import is worth naming; an indirect dependency, by one path.
      const direct = imports.filter((edge) => edge.from === stage && edge.to === TELEMETRY);
      const path = direct.length > 0 ? direct : dependencyPath(imports, stage, TELEMETRY);
      if (path === undefined) return [];
      return [`${stage} depends on ${TELEMETRY}:\n${path.map((edge) => `  ${edge.from} → ${edge.to}  (${edge.site})`).join('\n')}`];
    });
    expect(violations.join('\n'), 'move the shared type or function below the stage (or into lifecycle/), then import it from there').toBe('');
  });

  it('has no import cycle between folders', () => {
    const cycles = folderCycles(imports).map(describeCycle);
    expect(cycles.join('\n'), 'move the type or function one edge needs into the lower folder, or a leaf both import').toBe('');
  });
});
