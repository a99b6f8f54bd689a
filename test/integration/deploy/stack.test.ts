import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, stopCli, type CliProcess } from '../../helpers/cli.js';
import { acceptsConnections } from '../../helpers/free-ports.js';

/**
 * `tollbooth stack --free-ports` (the built CLI behind `npm run stack`) as a user runs it: every
 * printed URL answers, Prometheus scrapes both gateways and every replica, the printed key works
 * on both gateways (one Redis key store), and SIGINT leaves no child process, listener or temp dir.
 * redis-server, prometheus and prometheus-alertmanager come from `bash test/ensure-system-tools.sh`:
 * when they cannot be installed the test fails, it does not skip.
 */

/** The pids whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: last ${JSON.stringify(last)} ${String(lastError ?? '')}`);
    await new Promise((wake) => setTimeout(wake, 500));
  }
}

interface Target {
  labels: { job: string; instance: string };
  health: string;
}

describe('tollbooth stack', () => {
  let stack: CliProcess | undefined;

  beforeAll(() => {
    execFileSync('bash', ['test/ensure-system-tools.sh'], { stdio: 'inherit' });
  }, 300_000);

  afterAll(async () => {
    // A failed test still stops the stack the way a user does (SIGTERM: it stops its children),
    // and only then, if it hangs, kills it and whatever it started.
    if (stack === undefined || stack.child.exitCode !== null || stack.child.signalCode !== null) return;
    const started = childPids(stack.child.pid!);
    stack.child.kill('SIGTERM');
    const stopped = await Promise.race([stack.exited().then(() => true), new Promise<boolean>((done) => setTimeout(() => done(false), 30_000))]);
    if (!stopped) {
      await stopCli(stack);
      for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);

  it('starts everything on free ports, serves through both gateways and stops everything on SIGINT', async () => {
    // --free-ports picks ports before the children bind them: another process may take one in
    // between. Only that (the stack says "address already in use" and exits) earns a second try.
    let running: CliProcess | undefined;
    for (let attempt = 1; running === undefined; attempt += 1) {
      stack = runCli(['stack', '--free-ports']);
      try {
        await stack.waitForLine(/Ctrl-C stops everything/, 120_000);
        running = stack;
      } catch (error) {
        if (stack.child.exitCode === null && stack.child.signalCode === null) throw error; // timed out: afterAll stops it
        await stack.exited();
        if (attempt >= 2 || !/EADDRINUSE|address already in use/i.test(stack.stderr())) throw error;
      }
    }
    const out = running.stdout();
    const gateways = [...out.matchAll(/gateway \d +API (http:\/\/127\.0\.0\.1:\d+)\/v1 +admin (http:\/\/127\.0\.0\.1:\d+)\/metrics/g)].map((match) => ({ api: match[1]!, admin: match[2]! }));
    expect(gateways).toHaveLength(2);
    const prometheus = /prometheus +(http:\S+)/.exec(out)![1]!;
    const alertmanager = /alertmanager +(http:\S+)/.exec(out)![1]!;
    const replicas = /replicas +(.+)/.exec(out)![1]!.trim().split(/\s+/);
    expect(replicas.length).toBeGreaterThanOrEqual(2);
    const redisPort = Number(/Redis at redis:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
    const tempDir = /Logs and data: (\S+)/.exec(out)![1]!;
    const [, apiKey, baseURL] = /export OPENAI_API_KEY=(\S+) OPENAI_BASE_URL=(\S+)/.exec(out)!;
    expect(baseURL).toBe(`${gateways[0]!.api}/v1`);

    for (const gateway of gateways) {
      expect((await fetch(`${gateway.api}/health`)).status).toBe(200);
      const metrics = await fetch(`${gateway.admin}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('tollbooth_');
    }
    expect((await fetch(`${prometheus}/-/ready`)).status).toBe(200);
    expect((await fetch(`${alertmanager}/-/ready`)).status).toBe(200);

    // Prometheus scrapes every 15 s, each target at its own offset: allow a few rounds on a loaded machine.
    const expected = [...gateways.map((gateway) => `tollbooth ${new URL(gateway.admin).host}`), ...replicas.map((replica) => `vllm ${new URL(replica).host}`)].sort();
    await eventually(
      'every target up',
      async () => {
        const body = (await (await fetch(`${prometheus}/api/v1/targets`)).json()) as { data: { activeTargets: Target[] } };
        return body.data.activeTargets.filter((target) => target.health === 'up').map((target) => `${target.labels.job} ${target.labels.instance}`).sort();
      },
      (up) => JSON.stringify(up) === JSON.stringify(expected),
      90_000,
    );

    // The one printed key on both gateways: they read it from the shared Redis key store.
    for (const gateway of gateways) {
      const response = await fetch(`${gateway.api}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama-3.1-8b-instruct', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(((await response.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    }

    const children = childPids(running.child.pid!);
    // redis-server, two gateways, Prometheus, Alertmanager.
    expect(children).toHaveLength(5);
    running.child.kill('SIGINT');
    const exit = await running.exited();
    expect(exit.code).toBe(0);
    for (const pid of children) expect(alive(pid), `child ${pid}`).toBe(false);
    const ports = [...gateways.flatMap((gateway) => [gateway.api, gateway.admin]), prometheus, alertmanager, ...replicas].map((url) => Number(new URL(url).port));
    for (const port of [...ports, redisPort]) expect(await acceptsConnections(port), `port ${port}`).toBe(false);
    expect(existsSync(tempDir)).toBe(false);
  }, 300_000);

  it('names the Debian packages to install when its binaries are missing, and starts nothing', async () => {
    const missing = runCli(['stack', '--free-ports'], { PATH: '/nonexistent' });
    const exit = await missing.exited();
    expect(exit.code).toBe(2);
    expect(missing.stderr()).toContain('missing redis-server, prometheus, prometheus-alertmanager');
    expect(missing.stderr()).toContain('sudo apt-get install redis-server prometheus prometheus-alertmanager');
    expect(missing.stdout()).toBe('');
  }, 30_000);
});
