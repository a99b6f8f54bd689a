import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { TollboothConfigInput } from '../../../src/config/schema.js';
import { createCertificateAuthority } from '../../helpers/certificates.js';
import { problemsOf } from '../../helpers/config-problems.js';

const REPLICAS = [{ url: 'http://127.0.0.1:8000', models: ['m'] }];

function configWith(admin: TollboothConfigInput['admin']) {
  return parseConfig({ replicas: REPLICAS, auth: { enabled: false }, admin });
}

describe('admin.tls', () => {
  const authority = createCertificateAuthority('config-ca');
  const server = authority.server('server');
  const other = authority.server('other');

  it('accepts readable PEM files whose key belongs to the certificate', () => {
    const config = configWith({ tls: { cert: server.cert, key: server.key, ca: authority.cert, requireClientCertificate: true } });
    expect(config.admin.tls).toEqual({ cert: server.cert, key: server.key, ca: authority.cert, requireClientCertificate: true });
    expect(configWith({ tls: { cert: server.cert, key: server.key } }).admin.tls?.requireClientCertificate).toBe(false);
  });

  it('reports every unreadable file, unparsable PEM and mismatched key at once, with the other problems of the configuration', () => {
    const notPem = join(authority.cert, '..', 'not-a-pem.txt');
    writeFileSync(notPem, 'hello\n');
    const problems = problemsOf(() =>
      parseConfig({
        replicas: REPLICAS,
        auth: { enabled: false },
        admin: { port: -1, tls: { cert: '/nonexistent/admin.crt', key: notPem, ca: notPem } },
      }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^admin\.port: /),
        expect.stringMatching(/^admin\.tls\.cert: cannot read \/nonexistent\/admin\.crt: ENOENT/),
        expect.stringMatching(/^admin\.tls\.key: .*not-a-pem\.txt is not a PEM private key/),
        expect.stringMatching(/^admin\.tls\.ca: .*not-a-pem\.txt is not a PEM certificate/),
      ]),
    );
    expect(problems).toHaveLength(4);
    expect(problemsOf(() => configWith({ tls: { cert: server.cert, key: other.key } }))).toEqual([`admin.tls.key: ${other.key} is not the private key of ${server.cert}`]);
    expect(problemsOf(() => configWith({ tls: { cert: server.cert, key: server.key, requireClientCertificate: true } }))).toEqual([
      'admin.tls.requireClientCertificate: needs ca: the CA that signs the client certificates',
    ]);
  });

  it('takes a Prometheus URL for the usage API', () => {
    expect(configWith({ prometheusUrl: 'http://prometheus:9090' }).admin.prometheusUrl).toBe('http://prometheus:9090');
    expect(problemsOf(() => configWith({ prometheusUrl: 'prometheus:9090' }))[0]).toMatch(/^admin\.prometheusUrl: /);
  });
});
