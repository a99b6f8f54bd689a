import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * `admin.tls`: the admin listener over HTTPS, and with a client CA, mutual TLS. Paths to PEM
 * files, read and parsed while the configuration is validated, so an unreadable file, a PEM that
 * does not parse or a key that does not belong to the certificate is reported at boot with every
 * other configuration problem. The files are read again when the listener is built (a restart or
 * a rebuilt app picks up renewed certificates: src/admin/tls.ts). Here rather than in admin/, which
 * reads the configuration's types: config/ stays below it.
 */
export const adminTlsSchema = z
  .object({
    /** The listener's certificate (PEM; a chain with the leaf first). */
    cert: z.string().min(1),
    /** Its private key (PEM, unencrypted). */
    key: z.string().min(1),
    /** CA certificates (PEM) that client certificates must chain to. With it, a verified client certificate authorises the admin API (identity: its subject CN). */
    ca: z.string().min(1).optional(),
    /** Refuse TLS connections without a client certificate signed by `ca` (every route of the admin listener); needs `ca`. */
    requireClientCertificate: z.boolean().default(false),
  })
  .strict()
  .superRefine((tls, context) => {
    const problem = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message });
    const read = (path: 'cert' | 'key' | 'ca'): string | undefined => {
      const file = tls[path];
      if (file === undefined) return undefined;
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        problem(path, `cannot read ${file}: ${(error as Error).message}`);
        return undefined;
      }
    };
    const parsed = <T>(path: 'cert' | 'key' | 'ca', text: string | undefined, parse: (pem: string) => T): T | undefined => {
      if (text === undefined) return undefined;
      try {
        return parse(text);
      } catch (error) {
        problem(path, `${tls[path]} is not a PEM ${path === 'key' ? 'private key' : 'certificate'}: ${(error as Error).message}`);
        return undefined;
      }
    };
    const certificate = parsed('cert', read('cert'), (pem) => new X509Certificate(pem));
    const key: KeyObject | undefined = parsed('key', read('key'), (pem) => createPrivateKey(pem));
    parsed('ca', read('ca'), (pem) => new X509Certificate(pem));
    if (certificate !== undefined && key !== undefined && !certificate.checkPrivateKey(key)) problem('key', `${tls.key} is not the private key of ${tls.cert}`);
    if (tls.requireClientCertificate && tls.ca === undefined) problem('requireClientCertificate', 'needs ca: the CA that signs the client certificates');
  });

export type AdminTlsConfig = z.infer<typeof adminTlsSchema>;
