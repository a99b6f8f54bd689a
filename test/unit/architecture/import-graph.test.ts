import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dependencyPath, describeCycle, folderCycles, importSpecifiers, readFolderImports, type FolderImport } from '../../helpers/import-graph.js';

/** The checker behind dependency-rule.test.ts, on small graphs whose answer is known. */

const edge = (from: string, to: string, site = `src/${from}x.ts:1`): FolderImport => ({ from, to, site });

describe('importSpecifiers', () => {
  it('finds static, type-only, re-exported, dynamic, type-position and require imports, with their lines', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "export * from '../c/c.js';",
      "export { d } from './d.js';",
      "const e = await import('../e/e.js');",
      "type F = import('../f/f.js').F;",
      "import g = require('../g/g.js');",
      "import { z } from 'zod';",
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual([
      { specifier: './a.js', line: 1 },
      { specifier: '../b/b.js', line: 2 },
      { specifier: '../c/c.js', line: 3 },
      { specifier: './d.js', line: 4 },
      { specifier: '../e/e.js', line: 5 },
      { specifier: '../f/f.js', line: 6 },
      { specifier: '../g/g.js', line: 7 },
      { specifier: 'zod', line: 8 },
    ]);
  });

  it('does not count strings or comments that look like imports', () => {
    const text = ["const text = \"import { a } from '../a/a.js'\";", "// import { b } from '../b/b.js';", '/* export * from "../c/c.js" */'].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual([]);
  });
});

describe('readFolderImports', () => {
  const root = mkdtempSync(join(tmpdir(), 'tollbooth-import-graph-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  it('resolves relative imports to top-level folders, root files to themselves, and leaves packages out', () => {
    write('main.ts', "import { run } from './cli/run.js';\n");
    write('cli/run.ts', "import { z } from 'zod';\nimport { helper } from './helper.js';\n\nimport type { T } from '../telemetry/tracing/span.js';\n");
    write('cli/helper.ts', 'export const helper = 1;\n');
    write('telemetry/tracing/span.ts', "import { version } from '../../version.js';\n");
    write('version.ts', 'export const version = 1;\n');
    expect(readFolderImports(root)).toEqual([
      { from: 'cli/', to: 'cli/', site: 'src/cli/run.ts:2' },
      { from: 'cli/', to: 'telemetry/', site: 'src/cli/run.ts:4' },
      { from: 'main.ts', to: 'cli/', site: 'src/main.ts:1' },
      { from: 'telemetry/', to: 'version.ts', site: 'src/telemetry/tracing/span.ts:1' },
    ]);
  });
});

describe('folderCycles', () => {
  it('finds a cycle of three folders, names one loop through it and one import per edge', () => {
    const imports = [edge('a/', 'b/'), edge('b/', 'c/'), edge('c/', 'a/', 'src/c/back.ts:7'), edge('c/', 'd/'), edge('a/', 'a/'), edge('b/', 'c/', 'src/b/second.ts:3')];
    const cycles = folderCycles(imports);
    expect(cycles).toEqual([
      {
        folders: ['a/', 'b/', 'c/'],
        path: ['a/', 'b/', 'c/', 'a/'],
        edges: [edge('a/', 'b/'), edge('b/', 'c/'), edge('c/', 'a/', 'src/c/back.ts:7')],
      },
    ]);
    const message = describeCycle(cycles[0]!);
    expect(message).toContain('a/, b/, c/');
    expect(message).toContain('c/ → a/  (src/c/back.ts:7)');
  });

  it('finds two separate cycles, and the shortest loop when there are several', () => {
    const imports = [edge('a/', 'b/'), edge('b/', 'a/'), edge('a/', 'c/'), edge('c/', 'b/'), edge('x/', 'y/'), edge('y/', 'x/')];
    expect(folderCycles(imports).map((cycle) => [cycle.folders, cycle.path])).toEqual(
      expect.arrayContaining([
        [['a/', 'b/', 'c/'], ['a/', 'b/', 'a/']],
        [['x/', 'y/'], ['x/', 'y/', 'x/']],
      ]),
    );
  });

  it('finds none in a layered graph (imports within a folder are no edge)', () => {
    expect(folderCycles([edge('a/', 'b/'), edge('a/', 'c/'), edge('b/', 'c/'), edge('c/', 'c/')])).toEqual([]);
  });
});

describe('dependencyPath', () => {
  const imports = [edge('proxy/', 'routing/'), edge('routing/', 'telemetry/', 'src/routing/dcgm.ts:1'), edge('proxy/', 'errors/')];

  it('names the imports of an indirect dependency, edge by edge', () => {
    expect(dependencyPath(imports, 'proxy/', 'telemetry/')).toEqual([edge('proxy/', 'routing/'), edge('routing/', 'telemetry/', 'src/routing/dcgm.ts:1')]);
  });

  it('is undefined when the folder does not depend on the other', () => {
    expect(dependencyPath(imports, 'errors/', 'telemetry/')).toBeUndefined();
    expect(dependencyPath(imports, 'telemetry/', 'proxy/')).toBeUndefined();
  });
});
