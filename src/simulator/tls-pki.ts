/**
 * The simulated fleet's X.509 material for NETCONF over TLS (RFC 7589), made with the openssl command line
 * (ECDSA P-256) on first use and kept in the fleet's data directory:
 *   DATA_DIR/tls/ca.pem, ca.key              the fleet CA (what an OAM or PVE pins as the devices' CA)
 *   DATA_DIR/tls/client.pem, client.key      a client certificate for the OAM / PVE (CN oam-client), issued by
 *                                            the fleet CA; the devices map it to their NETCONF user
 *   DATA_DIR/<henb-id>/tls.pem, tls.key      each device's certificate: CN and DNS subjectAltName = its henb-id
 *                                            (a call-home device is known by it), plus the listen address
 * Files are written into a temporary directory and renamed into place: a failed generation leaves nothing
 * half-written. A real deployment brings its own PKI; this is the simulator's.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);

export interface PemPair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  /** SHA-256 of the certificate, hex with colons */
  sha256: string;
}

export interface FleetPki {
  ca: PemPair;
  client: PemPair;
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (e) {
    throw new Error(`openssl ${args[0] ?? ''} failed (the simulator's TLS certificates need the openssl command): ${(e as Error).message}`, { cause: e });
  }
}

async function readPair(certFile: string, keyFile: string): Promise<PemPair> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key, certFile, keyFile, sha256: new X509Certificate(cert).fingerprint256 };
}

/** generate into a temporary directory beside `dir`, then move the named files into `dir` */
async function generateInto(dir: string, names: string[], make: (tmp: string) => Promise<void>): Promise<void> {
  if ((await Promise.all(names.map((n) => exists(join(dir, n))))).every(Boolean)) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(dir, '.tls-'));
  try {
    await make(tmp);
    for (const n of names) {
      if (n.endsWith('.key')) await chmod(join(tmp, n), 0o600);
      await rename(join(tmp, n), join(dir, n));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function issue(tmp: string, name: string, ca: PemPair, subject: string, ext: string[], days: number): Promise<void> {
  await openssl(['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], tmp);
  await writeFile(join(tmp, `${name}.ext`), ext.join('\n') + '\n');
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', '0x' + randomBytes(8).toString('hex'),
    '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], tmp);
}

/** The fleet CA and the OAM/PVE client certificate in DIR (created when absent). */
export async function loadOrCreateFleetPki(dir: string): Promise<FleetPki> {
  await generateInto(dir, ['ca.pem', 'ca.key'], (tmp) => openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650',
    '-subj', '/CN=henb-sw-verify simulated fleet CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], tmp));
  const ca = await readPair(join(dir, 'ca.pem'), join(dir, 'ca.key'));
  await generateInto(dir, ['client.pem', 'client.key'], (tmp) => issue(tmp, 'client', ca, '/CN=oam-client',
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', 'subjectAltName=DNS:oam-client'], 825));
  return { ca, client: await readPair(join(dir, 'client.pem'), join(dir, 'client.key')) };
}

/** A device's certificate in DIR (tls.pem, tls.key): CN and DNS name = henbId, plus the listen address. */
export async function loadOrCreateDeviceCert(dir: string, henbId: string, host: string, ca: PemPair): Promise<PemPair> {
  const names = new Set([`DNS:${henbId}`, 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  if (host !== '0.0.0.0' && host !== '::' && host !== '') names.add(isIP(host) ? `IP:${host}` : `DNS:${host}`);
  await generateInto(dir, ['tls.pem', 'tls.key'], (tmp) => issue(tmp, 'tls', ca, `/CN=${henbId}`,
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', `subjectAltName=${[...names].join(',')}`], 825));
  return readPair(join(dir, 'tls.pem'), join(dir, 'tls.key'));
}
