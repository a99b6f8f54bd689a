import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { useRedisServer } from '../../helpers/redis-server.js';

/**
 * deploy/Dockerfile without a Docker engine: its instructions are read (the files it copies exist
 * and are not excluded from the build context, the runtime user is not root), and its runtime
 * stage is replayed on this machine: `npm pack` of the built project, unpacked, production
 * dependencies installed with the same `npm ci --omit=dev` (from npm's cache when it has them),
 * then the image's ENTRYPOINT run with the compose file's commands: a simulator (`sim`) and the
 * gateway (the CMD, `start --config …` with deploy/tollbooth.yaml, its hosts pointed at this test's
 * simulator and redis-server), which must answer /ready and serve a request with a key created
 * through the packed CLI in the shared Redis.
 */
const run = promisify(execFile);
const DOCKERFILE = resolve('deploy/Dockerfile');
const DOCKERIGNORE = resolve('deploy/Dockerfile.dockerignore');
const MODEL = 'llama-3.1-8b-instruct';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** The Dockerfile's stages and their instructions (continuation lines joined, comments dropped). */
function dockerfileStages(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const [from = '', , name] = rest;
      stages.push({ from, name, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** Exec-form arguments (`["node", "x.js"]`). */
function execForm(instruction: Instruction | undefined): string[] {
  expect(instruction?.args, 'exec form (a JSON array)').toMatch(/^\[.*\]$/);
  return JSON.parse(instruction!.args) as string[];
}

const stages = dockerfileStages(readFileSync(DOCKERFILE, 'utf8'));
const runtime = stages.at(-1)!;
const last = (keyword: string) => runtime.instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
const entrypoint = execForm(last('ENTRYPOINT'));
const command = execForm(last('CMD'));

describe('deploy/Dockerfile, read', () => {
  it('copies into the build only files that exist and that the build context keeps', () => {
    const ignored = readFileSync(DOCKERIGNORE, 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
    const copies = stages.flatMap((stage) => stage.instructions).filter((instruction) => instruction.keyword === 'COPY' && !instruction.args.startsWith('--from='));
    expect(copies.length).toBeGreaterThanOrEqual(4);
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).slice(0, -1);
      for (const source of sources) {
        expect(existsSync(resolve(source)), source).toBe(true);
        expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `${source} is excluded by the .dockerignore`).toBe(false);
      }
    }
    // Every --from names an earlier stage.
    for (const copy of runtime.instructions.filter((instruction) => instruction.args.startsWith('--from='))) {
      expect(stages.slice(0, -1).map((stage) => stage.name)).toContain(/^--from=(\S+)/.exec(copy.args)![1]);
    }
  });

  it('runs as an unprivileged user, from what npm pack ships and its production dependencies only', () => {
    const user = last('USER')?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(runtime.instructions.map((instruction) => instruction.keyword)).not.toContain('ADD');
    const runs = runtime.instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args).join(' && ');
    expect(runs).toMatch(/tar -xzf \/tmp\/tollbooth\.tgz --strip-components=1 -C \/app/);
    expect(runs).toMatch(/npm ci --omit=dev/);
    expect(stages[0]!.instructions.some((instruction) => instruction.keyword === 'RUN' && /npm pack/.test(instruction.args))).toBe(true);
    expect(entrypoint).toEqual(['node', 'dist/src/cli/tollbooth.js']);
    expect(command).toEqual(['start', '--config', '/etc/tollbooth/tollbooth.yaml']);
  });
});

describe('deploy/Dockerfile, its runtime stage replayed from npm pack', () => {
  const redis = useRedisServer();
  const app = mkdtempSync(join(tmpdir(), 'tollbooth-image-'));
  const processes: ChildProcessWithoutNullStreams[] = [];
  let packed: { size: number; unpackedSize: number; files: Array<{ path: string }> };

  /** The image's ENTRYPOINT with `args`, in the image's WORKDIR and ENV; resolves with the first stdout line matching `ready`. */
  async function entrypointRun(args: string[], ready: RegExp): Promise<string> {
    const env = Object.fromEntries(runtime.instructions.filter((instruction) => instruction.keyword === 'ENV').map((instruction) => [instruction.args.slice(0, instruction.args.indexOf('=')), instruction.args.slice(instruction.args.indexOf('=') + 1)]));
    const child = spawn(entrypoint[0] === 'node' ? process.execPath : entrypoint[0]!, [...entrypoint.slice(1), ...args], { cwd: app, env: { ...process.env, ...env } });
    processes.push(child);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    return new Promise((done, fail) => {
      child.stdout.on('data', (text: string) => {
        out += text;
        const line = out.split('\n').find((candidate) => ready.test(candidate));
        if (line !== undefined) done(line);
      });
      child.stderr.on('data', (text: string) => {
        out += text;
      });
      child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited (${String(code)}) before ${ready}:\n${out}`)));
    });
  }

  beforeAll(async () => {
    expect(existsSync(resolve('dist/src/cli/tollbooth.js')), 'run "npm run build" first').toBe(true);
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', app], { encoding: 'utf8' });
    const [pack] = JSON.parse(stdout) as Array<typeof packed & { filename: string }>;
    packed = pack!;
    const tarball = join(app, pack!.filename);
    await run('tar', ['-xzf', tarball, '--strip-components=1', '-C', app]);
    rmSync(tarball);
    copyFileSync(resolve('package-lock.json'), join(app, 'package-lock.json'));
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeout: 240_000 });
  }, 300_000);

  afterAll(() => {
    for (const child of processes) child.kill('SIGKILL');
    rmSync(app, { recursive: true, force: true });
  });

  it('packs the built product only (dist/src, package.json, README), with no test or dev dependency installed', () => {
    console.log(`npm pack: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.files.length} files`);
    for (const file of packed.files) expect(file.path, file.path).toMatch(/^(dist\/src\/|package\.json$|README\.md$)/);
    expect(packed.files.map((file) => file.path)).toContain(entrypoint[1]);
    expect(existsSync(join(app, 'node_modules/fastify'))).toBe(true);
    for (const devOnly of ['vitest', 'typescript', 'openai']) expect(existsSync(join(app, 'node_modules', devOnly)), devOnly).toBe(false);
  });

  it("runs the compose file's simulator and gateway from it: /ready, and a request with a key made by the packed CLI in the shared Redis", async () => {
    const simulator = JSON.parse(await entrypointRun(['sim', '--host', '127.0.0.1', '--port', '0', '--model', MODEL], /vLLM simulator listening/)) as { url: string };
    const config = parse(readFileSync(resolve('deploy/tollbooth.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const configFile = join(app, 'tollbooth.yaml');
    writeFileSync(
      configFile,
      stringify({
        ...config,
        server: { ...config.server, host: '127.0.0.1', port: 0 },
        admin: { ...config.admin, host: '127.0.0.1', port: 0 },
        replicas: [{ name: 'vllm-a', url: simulator.url, models: [MODEL] }],
        redis: { ...config.redis, url: redis.server().url },
      }),
    );
    const gatewayArgs = [...command.slice(0, -1), configFile];
    const { url } = JSON.parse(await entrypointRun(gatewayArgs, /tollbooth is listening/)) as { url: string };
    expect((await fetch(`${url}/ready`)).status).toBe(200);

    const { stdout: secret } = await run(process.execPath, [...entrypoint.slice(1), 'keys', 'create', '--redis', redis.server().url, '--id', 'image-test'], { cwd: app, encoding: 'utf8' });
    const chat = (key: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
      });
    expect((await chat('sk-tb-not-a-key')).status).toBe(401);
    // The gateway learns a created key within a second (pub/sub); poll a little longer on a loaded machine.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt += 1) {
      status = (await chat(secret.trim())).status;
      if (status !== 200) await new Promise((wake) => setTimeout(wake, 100));
    }
    expect(status).toBe(200);
  }, 60_000);
});
