import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The real Kubernetes tools the chart tests run, installed by the test scripts under test/deploy/
 * (pinned, cached under ~/.cache/tollbooth/): helm built from the Go module proxy, the PyPI package
 * kubernetes-validate with the Kubernetes JSON schemas, and the prometheus-operator CRDs. A tool
 * that cannot be installed throws: the tests fail, they never pass without it.
 */
export interface DeployTools {
  readonly helm: string;
  readonly kubernetesValidate: string;
  /** The Kubernetes versions whose schemas kubernetes-validate ships, newest first (e.g. 1.37.0). */
  readonly kubernetesVersions: readonly string[];
  /** example/prometheus-operator-crd/ of the prometheus-operator module. */
  readonly prometheusOperatorCrdDir: string;
}

export interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end, stdout and stderr apart (helm template writes the manifest on stdout, problems on stderr). */
export function run(command: string, args: readonly string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs an install script of test/deploy/ and returns the path it prints last; throws with its output when it fails. */
async function installedBy(script: string): Promise<string> {
  const result = await run('bash', [join('test/deploy', script)]);
  const path = result.stdout.trim().split('\n').at(-1);
  if (result.code !== 0 || path === undefined || path === '') {
    throw new Error(`test/deploy/${script} failed (exit ${result.code}), so the chart cannot be checked:\n${result.stderr}${result.stdout}`);
  }
  return path;
}

/** helm alone, for tests that render the chart and need none of the validators. */
export function installHelm(): Promise<string> {
  return installedBy('build-helm.sh');
}

export async function installDeployTools(): Promise<DeployTools> {
  const [helm, kubernetesValidate, prometheusOperatorCrdDir] = await Promise.all([
    installHelm(),
    installedBy('install-kubernetes-validate.sh'),
    installedBy('prometheus-operator-crds.sh'),
  ]);
  return { helm, kubernetesValidate, kubernetesVersions: await shippedKubernetesVersions(kubernetesValidate), prometheusOperatorCrdDir };
}

/** The versions of the schema folders (kubernetes-json-schema/v1.37.0-local-strict …) inside the installed package. */
async function shippedKubernetesVersions(kubernetesValidate: string): Promise<string[]> {
  const python = join(kubernetesValidate, '..', 'python');
  const located = await run(python, ['-c', 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))']);
  if (located.code !== 0) throw new Error(`cannot locate kubernetes_validate: ${located.stderr}`);
  const versions = new Set<string>();
  for (const folder of readdirSync(join(located.stdout.trim(), 'kubernetes-json-schema'))) {
    const match = /^v(\d+\.\d+\.\d+)-local-strict$/.exec(folder);
    if (match !== null) versions.add(match[1]!);
  }
  const numeric = (version: string) => version.split('.').map(Number);
  return [...versions].sort((a, b) => {
    const [x, y] = [numeric(a), numeric(b)];
    return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
  });
}
