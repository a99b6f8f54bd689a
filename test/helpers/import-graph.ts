import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One relative import in `src/`, resolved to the folders on both ends. */
export interface FolderImport {
  /** Top-level folder under `src/` of the importing file; a file at the root of `src/` is its own node. */
  readonly from: string;
  readonly to: string;
  /** `src/…/file.ts:line`, for the message a developer reads. */
  readonly site: string;
}

/** A strongly connected set of folders, with one import per edge between them. */
export interface FolderCycle {
  readonly folders: readonly string[];
  /** One shortest cycle through the first folder, closing on itself (`a → b → a`). */
  readonly path: readonly string[];
  readonly edges: readonly FolderImport[];
}

/**
 * Every import specifier in one TypeScript source: static imports and re-exports (type-only ones
 * too), dynamic `import()`, and `import('…')` in type positions. Parsed with the compiler, so
 * strings and comments that look like imports do not count.
 */
export function importSpecifiers(fileName: string, text: string): { specifier: string; line: number }[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: { specifier: string; line: number }[] = [];
  const record = (node: ts.Node, specifier: ts.Node | undefined): void => {
    if (specifier !== undefined && ts.isStringLiteralLike(specifier)) {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      found.push({ specifier: specifier.text, line });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      record(node, node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      record(node, node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      record(node, node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      record(node, node.argument.literal);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The node a path inside `src/` belongs to: its top-level folder, or the file itself at the root. */
export function folderOf(relativeToSrc: string): string {
  const [first, ...rest] = relativeToSrc.split(path.sep);
  return rest.length === 0 ? first! : `${first}/`;
}

/** Every relative import between files of `srcDir` (package imports are not part of the graph). */
export function readFolderImports(srcDir: string): FolderImport[] {
  const imports: FolderImport[] = [];
  for (const file of typeScriptFiles(srcDir)) {
    const fromRelative = path.relative(srcDir, file);
    for (const { specifier, line } of importSpecifiers(file, readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      // NodeNext specifiers name the emitted .js file of a .ts source.
      const target = path.relative(srcDir, path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
      if (target.startsWith('..')) continue;
      imports.push({
        from: folderOf(fromRelative),
        to: folderOf(target),
        site: `src/${fromRelative.split(path.sep).join('/')}:${line}`,
      });
    }
  }
  return imports;
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/**
 * The folder graph's strongly connected components of more than one folder (Tarjan), each with a
 * shortest cycle and one import per edge inside it. An import within a folder is no edge.
 */
export function folderCycles(imports: readonly FolderImport[]): FolderCycle[] {
  const firstImport = new Map<string, FolderImport>();
  const successors = new Map<string, Set<string>>();
  for (const edge of imports) {
    if (edge.from === edge.to) continue;
    const key = `${edge.from}\u0000${edge.to}`;
    if (!firstImport.has(key)) firstImport.set(key, edge);
    if (!successors.has(edge.from)) successors.set(edge.from, new Set());
    successors.get(edge.from)!.add(edge.to);
  }
  return stronglyConnected(successors)
    .filter((component) => component.length > 1)
    .map((component) => {
      const folders = [...component].sort();
      const members = new Set(folders);
      const edges = [...firstImport.values()]
        .filter((edge) => members.has(edge.from) && members.has(edge.to))
        .sort((a, b) => (a.from + a.to).localeCompare(b.from + b.to));
      return { folders, path: shortestCycle(folders[0]!, members, successors), edges };
    });
}

function stronglyConnected(successors: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const nodes = new Set<string>([...successors.keys(), ...[...successors.values()].flatMap((s) => [...s])]);
  const connect = (node: string): void => {
    index.set(node, index.size);
    lowLink.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of successors.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(next)!));
      } else if (onStack.has(next)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(next)!));
      }
    }
    if (lowLink.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of [...nodes].sort()) if (!index.has(node)) connect(node);
  return components;
}

/** Breadth-first from `start` back to itself, staying inside the component. */
function shortestCycle(
  start: string,
  members: ReadonlySet<string>,
  successors: ReadonlyMap<string, ReadonlySet<string>>,
): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of [...(successors.get(node) ?? [])].sort()) {
      if (!members.has(next)) continue;
      if (next === start) {
        const trail: string[] = [];
        for (let at = node; at !== start; at = cameFrom.get(at)!) trail.unshift(at);
        return [start, ...trail, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/**
 * The imports by which folder `from` reaches folder `to`, one per edge along a shortest path
 * (breadth-first), or undefined when it does not depend on it at all.
 */
export function dependencyPath(imports: readonly FolderImport[], from: string, to: string): FolderImport[] | undefined {
  const outgoing = new Map<string, FolderImport[]>();
  for (const edge of imports) {
    if (edge.from === edge.to) continue;
    if (!outgoing.has(edge.from)) outgoing.set(edge.from, []);
    outgoing.get(edge.from)!.push(edge);
  }
  const reachedBy = new Map<string, FolderImport | undefined>([[from, undefined]]);
  const queue = [from];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node === to) {
      const path: FolderImport[] = [];
      for (let edge = reachedBy.get(node); edge !== undefined; edge = reachedBy.get(edge.from)) path.unshift(edge);
      return path;
    }
    for (const edge of outgoing.get(node) ?? []) {
      if (reachedBy.has(edge.to)) continue;
      reachedBy.set(edge.to, edge);
      queue.push(edge.to);
    }
  }
  return undefined;
}

/** What a developer needs to break the cycle: the folders, one loop, and where each edge comes from. */
export function describeCycle(cycle: FolderCycle): string {
  return [
    `import cycle between folders: ${cycle.folders.join(', ')}`,
    `  e.g. ${cycle.path.join(' → ')}`,
    ...cycle.edges.map((edge) => `  ${edge.from} → ${edge.to}  (${edge.site})`),
  ].join('\n');
}
