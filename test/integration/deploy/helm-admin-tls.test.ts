import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../helpers/certificates.js';
import { runCli } from '../../helpers/cli.js';
import { installHelm, run } from '../../helpers/deploy-tools.js';

/**
 * The chart's adminTls values rendered by the real helm: the Secret mounted where the rendered
 * config's admin.tls points, a ServiceMonitor scraping over HTTPS, a helm test that matches, and a
 * configuration the gateway's own check accepts with real certificates at those paths.
 */

const CHART = 'deploy/helm/tollbooth';
type K8sObject = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: any; data?: Record<string, string> };
let helm: string;

beforeAll(async () => {
  helm = await installHelm();
}, 20 * 60_000);

async function render(...sets: string[]): Promise<{ code: number | null; objects: K8sObject[]; stderr: string }> {
  const result = await run(helm, ['template', 'tollbooth', CHART, '-f', join(CHART, 'ci/default-values.yaml'), ...sets.flatMap((set) => ['--set-json', set])]);
  const objects = parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
  return { code: result.code, objects, stderr: result.stderr };
}

describe('the chart with adminTls', () => {
  it('mounts the Secret where admin.tls points, and scrapes and tests the admin port over HTTPS', async () => {
    const { code, objects, stderr } = await render(
      'adminTls={"enabled":true,"secretName":"admin-certs","clientCa":true}',
      'serviceMonitor={"enabled":true,"tlsConfig":{"serverName":"tollbooth-admin","ca":{"secret":{"name":"admin-certs","key":"ca.crt"}}}}',
    );
    expect(code, stderr).toBe(0);
    const config = parse(objects.find((object) => object.kind === 'ConfigMap' && object.data?.['tollbooth.yaml'] !== undefined)!.data!['tollbooth.yaml']!) as { admin: { tls: Record<string, unknown> } };
    expect(config.admin.tls).toEqual({ cert: '/etc/tollbooth-admin-tls/tls.crt', key: '/etc/tollbooth-admin-tls/tls.key', ca: '/etc/tollbooth-admin-tls/ca.crt', requireClientCertificate: false });
    const pod = objects.find((object) => object.kind === 'Deployment')!.spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((candidate: { name: string }) => candidate.name === 'admin-tls');
    expect(mount).toEqual({ name: 'admin-tls', mountPath: '/etc/tollbooth-admin-tls', readOnly: true });
    expect(pod.volumes.find((volume: { name: string }) => volume.name === 'admin-tls')).toEqual({ name: 'admin-tls', secret: { secretName: 'admin-certs' } });
    const endpoint = objects.find((object) => object.kind === 'ServiceMonitor')!.spec.endpoints[0];
    expect(endpoint).toMatchObject({ port: 'metrics', scheme: 'https', tlsConfig: { serverName: 'tollbooth-admin', ca: { secret: { name: 'admin-certs', key: 'ca.crt' } } } });
    const testScript = objects.find((object) => object.metadata.annotations?.['helm.sh/hook'] === 'test')!.spec.containers[0].args.join(' ');
    expect(testScript).toMatch(/--insecure https:\/\/tollbooth-metrics:8081\/metrics/);

    // The rendered configuration, with certificates made by openssl where the Secret would be, passes the gateway's own check.
    const authority = createCertificateAuthority('helm-admin');
    const server = authority.server('admin');
    const file = join(mkdtempSync(join(tmpdir(), 'tollbooth-helm-tls-')), 'tollbooth.yaml');
    writeFileSync(file, stringify({ ...config, admin: { ...config.admin, tls: { ...config.admin.tls, cert: server.cert, key: server.key, ca: authority.cert } } }));
    const checked = runCli(['check-config', '--config', file]);
    const exit = await checked.exited();
    expect(checked.stdout(), checked.stderr()).toMatch(/^configuration is valid/);
    expect(exit.code).toBe(0);
  });

  it('requires client certificates only with a client CA, and then tests /ready alone', async () => {
    const refused = await render('adminTls={"enabled":true,"requireClientCertificate":true}');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('adminTls.requireClientCertificate needs adminTls.clientCa');
    const required = await render('adminTls={"enabled":true,"clientCa":true,"requireClientCertificate":true}');
    expect(required.code, required.stderr).toBe(0);
    const testScript = required.objects.find((object) => object.metadata.annotations?.['helm.sh/hook'] === 'test')!.spec.containers[0].args.join(' ');
    expect(testScript).toContain('/ready');
    expect(testScript).not.toContain('/metrics');
  });
});
