/**
 * A throw-away X.509 PKI for NETCONF over TLS tests, made with the openssl command line (EC P-256):
 * a CA, a server certificate for 127.0.0.1 / localhost, client certificates with the subjectAltNames
 * the tests need, an expired one, and one from a CA the server does not trust. Files in a temporary
 * directory; `cleanup()` removes it.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  /** SHA-256 of the certificate, hex with colons (as node prints it) */
  sha256: string;
}

export interface TestPki {
  dir: string;
  ca: Issued;
  otherCa: Issued;
  server: Issued;
  /** issue a certificate signed by `ca` (default our CA); san like 'email:a@b,DNS:x,IP:127.0.0.1' */
  issue(name: string, opts?: { cn?: string; san?: string; days?: number; ca?: Issued; clientAuth?: boolean; isCa?: boolean }): Issued;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-pki-'));
  const read = (name: string): Issued => {
    const certFile = join(dir, `${name}.pem`);
    const keyFile = join(dir, `${name}.key`);
    const cert = readFileSync(certFile, 'utf8');
    return { cert, key: readFileSync(keyFile, 'utf8'), certFile, keyFile, sha256: new X509Certificate(cert).fingerprint256 };
  };
  const makeCa = (name: string): Issued => {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
      '-subj', `/CN=${name}`, '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    return read(name);
  };
  const ca = makeCa('test-ca');
  const otherCa = makeCa('other-ca');
  const issue: TestPki['issue'] = (name, opts = {}) => {
    const signer = opts.ca ?? ca;
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${opts.cn ?? name}`], dir);
    const ext = opts.isCa
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']
      : [`extendedKeyUsage=${opts.clientAuth === false ? 'serverAuth' : 'clientAuth,serverAuth'}`, 'basicConstraints=CA:FALSE'];
    if (opts.san) ext.push(`subjectAltName=${opts.san}`);
    writeFileSync(join(dir, `${name}.ext`), ext.join('\n') + '\n');
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', signer.certFile, '-CAkey', signer.keyFile, '-CAcreateserial', '-days', String(opts.days ?? 365), '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
    return read(name);
  };
  const server = issue('server', { cn: 'localhost', san: 'DNS:localhost,IP:127.0.0.1,IP:::1' });
  return { dir, ca, otherCa, server, issue, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
