import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The node flags the gateway ships with, read from the image's ENTRYPOINT (deploy/Dockerfile: the
 * one place they are written; the CLI's shebang repeats them and a unit test keeps the two equal).
 * The benchmarks that state what Tollbooth costs (peers, profile, tracing) start the gateway with
 * them, so they measure it as it runs in production.
 *
 * `node dist/test/helpers/shipped-node-flags.js` prints them space-separated, for the shell scripts.
 */
export function shippedNodeFlags(dockerfile = readFileSync(repositoryFile('deploy/Dockerfile'), 'utf8')): string[] {
  const line = dockerfile.split('\n').find((text) => text.startsWith('ENTRYPOINT '));
  if (line === undefined) throw new Error('deploy/Dockerfile has no ENTRYPOINT');
  const argv = JSON.parse(line.slice('ENTRYPOINT '.length)) as unknown;
  if (!Array.isArray(argv) || argv[0] !== 'node' || !argv.every((item) => typeof item === 'string')) throw new Error(`unexpected ENTRYPOINT: ${line}`);
  const cli = argv.indexOf('dist/src/cli/tollbooth.js');
  if (cli < 1) throw new Error(`ENTRYPOINT does not run dist/src/cli/tollbooth.js: ${line}`);
  return argv.slice(1, cli) as string[];
}

/** `path` in the checkout this module belongs to, from its source (test/bench/) or its build (dist/test/bench/). */
function repositoryFile(path: string): string {
  for (let folder = dirname(fileURLToPath(import.meta.url)); folder !== dirname(folder); folder = dirname(folder)) {
    if (existsSync(join(folder, path))) return join(folder, path);
  }
  throw new Error(`${path} not found above ${fileURLToPath(import.meta.url)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.stdout.write(`${shippedNodeFlags().join(' ')}\n`);
