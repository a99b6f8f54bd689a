import { spawn } from 'node:child_process';

/**
 * Runs the real `promtool check metrics` on an exposition. `npm test` installs promtool
 * (Debian's prometheus package) when it is missing; without it this throws rather than pass.
 */
export function promtoolCheckMetrics(exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics']);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => reject(new Error(`promtool is not runnable (${error.message}); run the tests with "npm test", which installs it`)));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(exposition);
  });
}

/** Sum of every sample of `name` whose labels include `labels`. */
export function sampleSum(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}=${JSON.stringify(value)}`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** Runs `promtool <args>` (check rules, check config, test rules …) and collects its output. */
export function runPromtool(args: readonly string[], cwd?: string): Promise<{ code: number | null; output: string }> {
  return runTool('promtool', args, cwd);
}

/** Runs a real command-line tool the test command installs (promtool, amtool); throws when it is missing. */
export function runTool(command: string, args: readonly string[], cwd?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => reject(new Error(`${command} is not runnable (${error.message}); run "bash test/ensure-system-tools.sh", which installs it`)));
    child.on('close', (code) => resolve({ code, output }));
  });
}
