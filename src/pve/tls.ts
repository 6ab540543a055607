/**
 * TLS material of the reference PVE: a private CA and a server certificate signed by it, generated on first
 * start in DATA_DIR/tls with the openssl CLI (ECDSA P-256). Clients pin the CA (ca.pem). Files are written
 * into a temporary directory and renamed into place, so a failed generation leaves nothing half-written.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile, access, chmod } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HsvError } from '../errors.js';

const run = promisify(execFile);

export interface PveTlsMaterial {
  /** PEM of the CA certificate: what clients pin */
  ca: string;
  cert: string;
  key: string;
  caPath: string;
}

export class PveTlsError extends HsvError<'ERR_PVE_TLS'> {}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Load DATA_DIR/tls/{ca.pem,server.pem,server.key}, generating them when absent. `hosts` are the names and
 * IP addresses put in the server certificate's subjectAltName (127.0.0.1, ::1 and localhost always).
 */
export async function loadOrCreatePveTls(dataDir: string, hosts: string[] = [], openssl = '/usr/bin/openssl'): Promise<PveTlsMaterial> {
  const dir = join(dataDir, 'tls');
  const caPath = join(dir, 'ca.pem');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server.key');
  if (!(await exists(caPath)) || !(await exists(certPath)) || !(await exists(keyPath))) {
    await mkdir(dataDir, { recursive: true });
    const tmp = await mkdtemp(join(dataDir, '.tls-'));
    try {
      await generate(tmp, hosts, openssl);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e instanceof PveTlsError ? e : new PveTlsError('ERR_PVE_TLS', `cannot create the PVE TLS certificates in ${dir}`, { cause: e });
    }
  }
  const [ca, cert, key] = await Promise.all([readFile(caPath, 'utf8'), readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { ca, cert, key, caPath };
}

async function generate(dir: string, hosts: string[], openssl: string): Promise<void> {
  const names = new Set(['127.0.0.1', '::1', 'localhost', ...hosts.filter((h) => h.length > 0 && h !== '0.0.0.0' && h !== '::')]);
  const san = [...names].map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const exec = async (args: string[]): Promise<void> => {
    try {
      await run(openssl, args, { timeout: 30_000 });
    } catch (e) {
      throw new PveTlsError('ERR_PVE_TLS', `openssl ${args[0] ?? ''} failed`, { cause: e });
    }
  };
  await exec(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '3650',
    '-subj', '/CN=henb-sw-verify PVE CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await exec(['req', '-new', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=henb-sw-verify PVE']);
  await writeFile(p('ext.cnf'), `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\n` +
    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  const serial = '0x' + randomBytes(8).toString('hex');
  await exec(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-set_serial', serial,
    '-days', '825', '-extfile', p('ext.cnf'), '-out', p('server.pem')]);
  await chmod(p('ca.key'), 0o600);
  await chmod(p('server.key'), 0o600);
  await rm(p('server.csr'), { force: true });
  await rm(p('ext.cnf'), { force: true });
}
