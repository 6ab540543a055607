/**
 * The kit's TLS certificate for its image server: one self-signed ECDSA P-256 certificate (CA:TRUE, so a
 * device can install it as a trust anchor) for the image server's address, made with the openssl CLI in DIR
 * (kit-ca.pem, kit-key.pem) on first use and reused afterwards, so a bench device trusts it once.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConformanceError } from './errors.js';

const run = promisify(execFile);

export interface KitTls {
  /** PEM of the self-signed certificate: what the device must trust */
  cert: string;
  key: string;
  certPath: string;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/** Load DIR/kit-ca.pem and DIR/kit-key.pem, creating them (for `hosts` plus 127.0.0.1, ::1, localhost) when absent. */
export async function loadOrCreateKitTls(dir: string, hosts: string[] = [], openssl = '/usr/bin/openssl'): Promise<KitTls> {
  const certPath = join(dir, 'kit-ca.pem');
  const keyPath = join(dir, 'kit-key.pem');
  if (!(await exists(certPath)) || !(await exists(keyPath))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = await mkdtemp(join(dir, '.tls-'));
    try {
      const names = new Set(['127.0.0.1', '::1', 'localhost', ...hosts.filter((h) => h !== '' && h !== '0.0.0.0' && h !== '::')]);
      const san = [...names].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
      await run(openssl, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', join(tmp, 'kit-key.pem'), '-out', join(tmp, 'kit-ca.pem'), '-days', '825',
        '-subj', '/CN=henb-sw-verify conformance kit', '-addext', `subjectAltName=${san}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign'], { timeout: 30_000 });
      await chmod(join(tmp, 'kit-key.pem'), 0o600);
      await rename(join(tmp, 'kit-key.pem'), keyPath);
      await rename(join(tmp, 'kit-ca.pem'), certPath);
    } catch (e) {
      throw new ConformanceError('ERR_CONFORMANCE_SETUP', `cannot create the kit's TLS certificate in ${dir} (openssl)`, { cause: e });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key, certPath };
}
