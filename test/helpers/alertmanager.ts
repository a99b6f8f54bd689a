import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './free-ports.js';

/**
 * A real Alertmanager (Debian's prometheus-alertmanager, which `bash test/ensure-system-tools.sh`
 * installs) on a free loopback port with a given configuration, clustering off. Throws when the
 * binary is missing: a test that needs it fails rather than skips.
 */
export interface AlertmanagerServer {
  readonly url: string;
  /** POST /api/v2/alerts. */
  push(alerts: readonly PostableAlert[]): Promise<void>;
  /** GET /api/v2/alerts: every alert it holds, with its status (inhibitedBy, silencedBy, state). */
  alerts(): Promise<GettableAlert[]>;
  /** Everything it wrote to stderr (its log). */
  log(): string;
  stop(): Promise<void>;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface GettableAlert extends PostableAlert {
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[]; silencedBy: string[] };
}

const BINARY = process.env.TOLLBOOTH_ALERTMANAGER_BIN ?? 'prometheus-alertmanager';

export async function startAlertmanager(config: unknown): Promise<AlertmanagerServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tollbooth-alertmanager-'));
  const configFile = join(dir, 'alertmanager.yaml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(BINARY, [
    `--config.file=${configFile}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=debug',
  ]);
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (error) => reject(new Error(`${BINARY} is not runnable (${error.message}); run "bash test/ensure-system-tools.sh"`))),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = (async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`alertmanager exited (${child.exitCode}): ${log}`);
      const ok = await fetch(`${url}/-/ready`).then((response) => response.ok, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`alertmanager did not become ready: ${log}`);
      await new Promise((wake) => setTimeout(wake, 50));
    }
  })();
  await Promise.race([ready, spawnError]);
  return {
    url,
    async push(alerts) {
      const response = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
      if (!response.ok) throw new Error(`POST /api/v2/alerts: ${response.status} ${await response.text()}`);
    },
    async alerts() {
      return (await (await fetch(`${url}/api/v2/alerts`)).json()) as GettableAlert[];
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** An HTTP server that records every POST body it receives (JSON), standing in for webhooks and Slack. */
export interface NotificationSink {
  readonly url: string;
  /** Every POST in arrival order: its path, its JSON body, and when it arrived (epoch ms). */
  readonly received: { path: string; body: unknown; at: number }[];
  stop(): Promise<void>;
}

export async function startNotificationSink(): Promise<NotificationSink> {
  const received: { path: string; body: unknown; at: number }[] = [];
  const server: Server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString()));
    request.on('end', () => {
      received.push({ path: request.url ?? '', body: JSON.parse(text) as unknown, at: Date.now() });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A minimal SMTP server (no TLS, no auth) that keeps each message's raw DATA: Alertmanager's e-mail receiver in tests. */
export interface SmtpSink {
  readonly hostPort: string;
  readonly messages: string[];
  stop(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: string[] = [];
  const server = createNetServer((socket) => {
    let buffer = '';
    let inData = false;
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 sink ESMTP');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) return;
          messages.push(buffer.slice(0, end));
          buffer = buffer.slice(end + 5);
          inData = false;
          reply('250 queued');
          continue;
        }
        const newline = buffer.indexOf('\r\n');
        if (newline === -1) return;
        const command = buffer.slice(0, newline).toUpperCase();
        buffer = buffer.slice(newline + 2);
        if (command.startsWith('EHLO')) reply('250 sink');
        else if (command.startsWith('HELO')) reply('250 sink');
        else if (command.startsWith('DATA')) {
          inData = true;
          reply('354 go ahead');
        } else if (command.startsWith('QUIT')) {
          reply('221 bye');
          socket.end();
        } else reply('250 ok');
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    hostPort: `127.0.0.1:${address.port}`,
    messages,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const DEPLOY_DIR = join(import.meta.dirname, '../../deploy/alertmanager');

interface Route {
  receiver?: string;
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: Route[];
}
interface Receiver {
  name: string;
  webhook_configs?: { url: string }[];
  slack_configs?: { api_url?: string; api_url_file?: string }[];
  email_configs?: unknown[];
}
export interface AlertmanagerConfig {
  global: Record<string, unknown>;
  templates: string[];
  route: Route;
  receivers: Receiver[];
}

/**
 * deploy/alertmanager/alertmanager.yaml as a test runs it: routes, grouping, inhibition and
 * templates as shipped; only what a test must change differs. Webhooks post to
 * `<sink>/<receiver name>`, Slack to `<sink>/slack` (through its api_url_file), e-mail goes to the
 * SMTP sink without TLS, and every route's group_wait and group_interval (and repeat_interval when
 * given) are the test's.
 */
export function alertmanagerTestConfig(
  sink: NotificationSink,
  smtp: SmtpSink,
  timing: { groupWait: string; groupInterval: string; repeatInterval?: string } = { groupWait: '1s', groupInterval: '1s' },
): AlertmanagerConfig {
  const config = parse(readFileSync(join(DEPLOY_DIR, 'alertmanager.yaml'), 'utf8')) as AlertmanagerConfig;
  config.global.smtp_smarthost = smtp.hostPort;
  config.global.smtp_require_tls = false;
  config.templates = config.templates.map((glob) => join(DEPLOY_DIR, glob));
  const hurry = (route: Route): void => {
    route.group_wait = timing.groupWait;
    route.group_interval = timing.groupInterval;
    if (timing.repeatInterval !== undefined && route.repeat_interval !== undefined) route.repeat_interval = timing.repeatInterval;
    for (const child of route.routes ?? []) hurry(child);
  };
  hurry(config.route);
  for (const receiver of config.receivers) {
    for (const webhook of receiver.webhook_configs ?? []) webhook.url = `${sink.url}/${receiver.name}`;
    for (const slack of receiver.slack_configs ?? []) {
      const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-slack-')), 'url');
      writeFileSync(file, `${sink.url}/slack`);
      slack.api_url_file = file;
    }
  }
  return config;
}
