import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/free-ports.js';

/** `tollbooth report` (the built CLI) when the flags are wrong or Prometheus does not answer: a clear message and exit status, no stack. */

const RANGE = ['--from', '2026-11-01T00:00:00Z', '--to', '2026-11-02T00:00:00Z'];
const sockets: Socket[] = [];
let silent: Server | undefined;

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((done) => (silent === undefined ? done() : silent.close(() => done())));
});

async function report(args: string[]) {
  const cli = runCli(['report', ...args]);
  const { code } = await cli.exited();
  return { code, stderr: cli.stderr(), stdout: cli.stdout() };
}

describe('tollbooth report errors', () => {
  it('exits 2 with the usage on bad flags', async () => {
    const missing = await report(RANGE);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give exactly one of --prometheus and --gateway');
    expect(missing.stderr).toContain('usage: tollbooth report');
    const step = await report([...RANGE, '--prometheus', 'http://127.0.0.1:9', '--step', '7m']);
    expect(step.code).toBe(2);
    expect(step.stderr).toContain('must divide an hour');
    const format = await report([...RANGE, '--prometheus', 'http://127.0.0.1:9', '--format', 'pdf']);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--format pdf: use md, json or html');
  });

  it('exits 1 naming the server when Prometheus refuses the connection', async () => {
    const port = await freePort();
    const result = await report([...RANGE, '--prometheus', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`tollbooth report: cannot query Prometheus at http://127.0.0.1:${port}`);
    expect(result.stderr).toContain('ECONNREFUSED');
    expect(result.stderr).not.toContain('    at ');
  });

  it('gives up after --timeout when Prometheus accepts but never answers', async () => {
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => silent!.listen(0, '127.0.0.1', done));
    const { port } = silent.address() as { port: number };
    const result = await report([...RANGE, '--prometheus', `http://127.0.0.1:${port}`, '--timeout', '1s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`cannot query Prometheus at http://127.0.0.1:${port}: no answer within 1000 ms`);
  });
});
