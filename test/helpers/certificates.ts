import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Certificates made at test time by the real `openssl` (test/ensure-system-tools.sh installs it):
 * a CA, and leaf certificates it signs, as PEM files in a fresh directory. P-256 keys, valid for a
 * day, random serials.
 */
export interface CertificateAuthority {
  /** The CA certificate's file. */
  readonly cert: string;
  /** A server certificate for 127.0.0.1 (subjectAltName IP), with its key. */
  server(name: string): { cert: string; key: string };
  /** A client certificate whose subject CN is `commonName`, with its key. */
  client(commonName: string): { cert: string; key: string };
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed (is it installed? test/ensure-system-tools.sh installs it): ${(error as Error).message} ${stderr}`);
  }
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function createCertificateAuthority(name: string): CertificateAuthority {
  const directory = mkdtempSync(join(tmpdir(), `tollbooth-ca-${name}-`));
  openssl(['req', '-x509', ...NEW_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', `/CN=${name}`], directory);
  const leaf = (file: string, subject: string, extensions: string): { cert: string; key: string } => {
    writeFileSync(join(directory, `${file}.ext`), extensions);
    openssl(['req', ...NEW_KEY, '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', subject], directory);
    openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomSerial()}`, '-days', '1', '-out', `${file}.crt`, '-extfile', `${file}.ext`], directory);
    return { cert: join(directory, `${file}.crt`), key: join(directory, `${file}.key`) };
  };
  return {
    cert: join(directory, 'ca.crt'),
    server: (file) => leaf(file, '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    client: (commonName) => leaf(`client-${commonName}`, `/CN=${commonName}`, 'extendedKeyUsage=clientAuth\n'),
  };
}

function randomSerial(): string {
  return Array.from({ length: 16 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
}
