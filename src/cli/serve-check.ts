/**
 * What `serve` checks before it starts anything, and what `serve --check` runs: the same function, so a
 * configuration that `--check` accepts does not fail at start for a reason it could have seen (a missing
 * pve.ca, an unreadable pve.jwks, a data dir that cannot be created, a listen address that is taken or
 * malformed). Every failure is one coded error that names the configuration key (or the option) and the path.
 *
 * The data dir is created without `mkdir({recursive: true})`: on Node 20 that call never returns for a path
 * under /proc or /sys (the kernel answers ENOENT for a parent that exists, libuv retries forever in its thread
 * pool, and the process ignores SIGINT/SIGTERM while it waits). Here each missing component is created on its
 * own, a bounded walk.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, rmdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { HOST_KEY_FORMS, hostKeyFingerprint } from '../host-key.js';
import { HsvError } from '../errors.js';
import { parseHostPort } from '../host-port.js';
import { loadJwksFile } from '../tokens/index.js';
import { resolveSecrets } from '../config/secrets.js';
import type { HostPort } from './args.js';
import type { ServeConfig } from '../config/load.js';

export type ServeCheckCode = 'ERR_CONFIG_DATA_DIR' | 'ERR_CONFIG_FILE' | 'ERR_CONFIG_ADDRESS' | 'ERR_SERVE_LISTEN' | 'ERR_CONFIG_HOST_KEY';

/**
 * A check of `serve` failed. `key` is where the value came from: a config key (`pve.ca`, `data-dir`,
 * `henbs[2].address`) or an option (`--data-dir`). Exit code 2, except ERR_SERVE_LISTEN (3: a runtime
 * condition such as a port in use, not a mistake in the file).
 */
export class ServeCheckError extends HsvError<ServeCheckCode> {
  readonly key: string;
  constructor(code: ServeCheckCode, key: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.key = key;
  }
}

/** `where` prefix of a message: `config.yaml: pve.ca` or `--data-dir` */
function where(key: string, file: string | undefined): string {
  return key.startsWith('--') || file === undefined ? key : `${file}: ${key}`;
}

const REASONS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a component of the path is not a directory',
  EROFS: 'read-only file system',
  EISDIR: 'is a directory',
  ENOSPC: 'no space left on the device',
};

function reason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `${code}: ${REASONS[code] ?? 'error'}` : String(err);
}

/** at most this many missing path components are created (a bound on the walk, far above any real path) */
const MAX_DEPTH = 64;

/**
 * Make sure `dir` is a directory this process can use: it exists (readable, writable) or can be created.
 * With `create` false (`--check`), directories made to prove it are removed again.
 */
export async function prepareDataDir(dir: string, key: string, opts: { create: boolean; file?: string | undefined }): Promise<void> {
  const fail = (msg: string, cause?: unknown): ServeCheckError =>
    new ServeCheckError('ERR_CONFIG_DATA_DIR', key, `${where(key, opts.file)}: data directory ${dir}: ${msg}`, cause === undefined ? undefined : { cause });
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(p) !== p && missing.length < MAX_DEPTH) {
        missing.unshift(p);
        p = dirname(p);
        continue;
      }
      throw fail(`cannot use ${p} (${reason(err)})`, err);
    }
    if (!isDir) throw fail(missing.length === 0 ? 'is not a directory' : `cannot be created: ${p} is not a directory`);
    break;
  }
  if (missing.length === 0) {
    try {
      await access(p, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      throw fail(`is not readable and writable by this user (${reason(err)})`, err);
    }
    return;
  }
  const created: string[] = [];
  try {
    for (const m of missing) {
      try {
        await mkdir(m, { mode: 0o700 });
      } catch (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `ENOENT: the file system at ${dirname(m)} does not allow new directories` : reason(err);
        throw fail(`cannot be created: mkdir ${m} failed (${why})`, err);
      }
      created.push(m);
    }
  } finally {
    if (!opts.create) for (const c of created.reverse()) await rmdir(c).catch(() => undefined);
  }
}

/** HOST of HOST:PORT: an IP address or a DNS name (no spaces, no URL parts) */
const HOSTNAME = /^(?=.{1,253}$)[0-9A-Za-z_](?:[-0-9A-Za-z_]{0,61}[0-9A-Za-z_])?(?:\.[0-9A-Za-z_](?:[-0-9A-Za-z_]{0,61}[0-9A-Za-z_])?)*\.?$/;

export function isHostSyntax(host: string): boolean {
  return isIP(host.replace(/%[-0-9A-Za-z_.]+$/, '')) !== 0 || HOSTNAME.test(host);
}

export function checkHost(host: string, key: string, file?: string): void {
  if (!isHostSyntax(host)) {
    throw new ServeCheckError('ERR_CONFIG_ADDRESS', key, `${where(key, file)}: expected an IP address or a host name, got ${JSON.stringify(host)}`);
  }
}

/** Bind the listen address and release it at once: EADDRINUSE, EADDRNOTAVAIL, EACCES become ERR_SERVE_LISTEN. */
export async function probeListen(listen: HostPort, key: string, file?: string): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((ok, ko) => {
      server.once('error', ko);
      server.listen({ host: listen.host, port: listen.port, exclusive: true }, () => ok());
    });
  } catch (err) {
    throw listenError(err, listen, key, file);
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another henb-sw-verify?)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  EACCES: 'ports below 1024 need privileges (use a higher port, or CAP_NET_BIND_SERVICE)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (temporary failure)',
};

/** An error of listen() as ERR_SERVE_LISTEN naming the key; other errors are returned unchanged. */
export function listenError(err: unknown, listen: HostPort, key: string, file?: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !(code in LISTEN_HINTS)) return err;
  const addr = listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
  return new ServeCheckError('ERR_SERVE_LISTEN', key, `${where(key, file)}: cannot listen on ${addr} (${code}: ${LISTEN_HINTS[code]})`, { cause: err });
}

async function readPemCertificates(path: string, key: string, file: string | undefined): Promise<void> {
  const bad = (msg: string, cause?: unknown): ServeCheckError =>
    new ServeCheckError('ERR_CONFIG_FILE', key, `${where(key, file)}: ${path}: ${msg}`, cause === undefined ? undefined : { cause });
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw bad(`cannot read the PEM file (${reason(err)})`, err);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw bad('holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)');
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (err) {
      throw bad(`certificate ${i + 1} does not parse (${(err as Error).message})`, err);
    }
  }
}

async function readJwks(path: string, key: string, file: string | undefined): Promise<void> {
  try {
    const jwks = await loadJwksFile(path);
    if (jwks.keys.length === 0) throw new Error('the keys list is empty: no PVE token could ever verify');
  } catch (err) {
    const msg = (err as Error).message.replace(`JWKS file ${path} `, '');
    throw new ServeCheckError('ERR_CONFIG_FILE', key, `${where(key, file)}: ${path}: ${msg}${(err as { cause?: unknown }).cause ? ` (${reason((err as { cause?: unknown }).cause)})` : ''}`, { cause: err });
  }
}

async function checkDirectory(path: string, key: string, file: string | undefined): Promise<void> {
  try {
    if (!(await stat(path)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw new ServeCheckError('ERR_CONFIG_FILE', key, `${where(key, file)}: expected a directory, ${path}: ${reason(err)}`, { cause: err });
  }
}

/**
 * The files and addresses the built-in plugin's section names, checked as activate() will use them:
 * pve.ca (PEM certificates), pve.jwks (a JWKS with keys), software.ca, software.file-root (a directory),
 * every henbs[].address and the pve endpoint's host (syntax).
 */
export async function checkPluginReferences(config: ServeConfig): Promise<void> {
  const b = config.builtin as {
    pve?: { endpoint?: string; transport?: string; ca?: string; jwks?: string; 'ssh-host-key'?: string };
    software?: { ca?: string; 'file-root'?: string };
    henbs?: Array<{ address?: string; 'ssh-host-key'?: string }>;
  };
  const file = config.file;
  for (const [i, h] of (b.henbs ?? []).entries()) {
    if (typeof h.address === 'string') checkHost(h.address, `henbs[${i}].address`, file);
    if (typeof h['ssh-host-key'] === 'string') checkHostKey(h['ssh-host-key'], `henbs[${i}].ssh-host-key`, file);
  }
  if (typeof b.pve?.['ssh-host-key'] === 'string') checkHostKey(b.pve['ssh-host-key'], 'pve.ssh-host-key', file);
  if (b.pve) {
    const transport = b.pve.transport ?? 'restconf';
    if (typeof b.pve.endpoint === 'string') {
      let host = '';
      try {
        host = new URL(b.pve.endpoint).hostname.replace(/^\[(.*)\]$/, '$1');
      } catch {
        host = '';
      }
      checkHost(host, 'pve.endpoint', file);
    }
    if (transport === 'restconf' && b.pve.ca === undefined) {
      throw new ServeCheckError('ERR_CONFIG_FILE', 'pve.ca', `${where('pve.ca', file)}: expected the PEM file of the PVE's CA (transport restconf)`);
    }
    if (b.pve.ca !== undefined) await readPemCertificates(resolve(config.baseDir, b.pve.ca), 'pve.ca', file);
    if (b.pve.jwks === undefined) throw new ServeCheckError('ERR_CONFIG_FILE', 'pve.jwks', `${where('pve.jwks', file)}: expected the JWKS file that verifies the PVE's tokens`);
    await readJwks(resolve(config.baseDir, b.pve.jwks), 'pve.jwks', file);
  }
  if (b.software?.ca !== undefined) await readPemCertificates(resolve(config.baseDir, b.software.ca), 'software.ca', file);
  if (b.software?.['file-root'] !== undefined) await checkDirectory(resolve(config.baseDir, b.software['file-root']), 'software.file-root', file);
  await checkDeviceTlsFiles(config);
}

/**
 * NETCONF over TLS to H(e)NBs: `device-tls` {cert, key, ca?} and each TLS henb's tls-ca, tls-client-cert and
 * tls-client-key, read as the plugin reads them when it starts (PEM certificates; a private key that belongs to
 * its certificate).
 */
async function checkDeviceTlsFiles(config: ServeConfig): Promise<void> {
  const b = config.builtin as {
    'device-tls'?: { cert?: string; key?: unknown; ca?: string };
    henbs?: Array<{ transport?: string; 'tls-ca'?: string; 'tls-client-cert'?: string; 'tls-client-key'?: unknown }>;
  };
  const file = config.file;
  const pair = async (cert: string, key: unknown, certKey: string, keyKey: string): Promise<void> => {
    const certPath = resolve(config.baseDir, cert);
    await readPemCertificates(certPath, certKey, file);
    let keyText: unknown;
    try {
      keyText = await resolveSecrets(key, process.env, config.baseDir, file ?? 'config', keyKey.split('.'));
    } catch (err) {
      throw new ServeCheckError('ERR_CONFIG_FILE', keyKey, `${where(keyKey, file)}: cannot read the private key (${(err as Error).message})`, { cause: err });
    }
    let ok = false;
    try {
      ok = new X509Certificate(await readFile(certPath, 'utf8')).checkPrivateKey(createPrivateKey(String(keyText)));
    } catch (err) {
      throw new ServeCheckError('ERR_CONFIG_FILE', keyKey, `${where(keyKey, file)}: not a usable PEM private key (${(err as Error).message})`, { cause: err });
    }
    if (!ok) throw new ServeCheckError('ERR_CONFIG_FILE', keyKey, `${where(keyKey, file)}: does not belong to the certificate in ${certPath}`);
  };
  const d = b['device-tls'];
  if (d?.cert !== undefined) await pair(d.cert, d.key, 'device-tls.cert', 'device-tls.key');
  if (d?.ca !== undefined) await readPemCertificates(resolve(config.baseDir, d.ca), 'device-tls.ca', file);
  for (const [i, h] of (b.henbs ?? []).entries()) {
    if (h.transport !== 'tls') continue;
    if (h['tls-ca'] !== undefined) await readPemCertificates(resolve(config.baseDir, h['tls-ca']), `henbs[${i}].tls-ca`, file);
    if (h['tls-client-cert'] !== undefined) await pair(h['tls-client-cert'], h['tls-client-key'], `henbs[${i}].tls-client-cert`, `henbs[${i}].tls-client-key`);
  }
}

/**
 * `tls:` (NETCONF over TLS): tls.cert (PEM certificates, the first one ours), tls.key (a private key that
 * belongs to that certificate), tls.ca (PEM certificates), checked as the server will use them.
 */
export async function checkTlsFiles(config: ServeConfig): Promise<void> {
  const tls = config.tls;
  if (!tls) return;
  const file = config.file;
  await readPemCertificates(tls.cert, 'tls.cert', file);
  await readPemCertificates(tls.ca, 'tls.ca', file);
  let keyText: string;
  try {
    keyText = await readFile(tls.key, 'utf8');
  } catch (err) {
    throw new ServeCheckError('ERR_CONFIG_FILE', 'tls.key', `${where('tls.key', file)}: ${tls.key}: cannot read the PEM file (${reason(err)})`, { cause: err });
  }
  let ok = false;
  try {
    const cert = new X509Certificate(await readFile(tls.cert, 'utf8'));
    ok = cert.checkPrivateKey(createPrivateKey(keyText));
  } catch (err) {
    throw new ServeCheckError('ERR_CONFIG_FILE', 'tls.key', `${where('tls.key', file)}: ${tls.key}: not a usable private key (${(err as Error).message})`, { cause: err });
  }
  if (!ok) throw new ServeCheckError('ERR_CONFIG_FILE', 'tls.key', `${where('tls.key', file)}: ${tls.key}: does not belong to the certificate in ${tls.cert}`);
}

/** a pinned host key in either form (SHA256 fingerprint or public key); a public key that does not parse is refused here, not at start */
function checkHostKey(text: string, key: string, file: string | undefined): void {
  if (hostKeyFingerprint(text) === undefined) {
    throw new ServeCheckError('ERR_CONFIG_HOST_KEY', key, `${where(key, file)}: expected ${HOST_KEY_FORMS}, got '${text.length > 60 ? `${text.slice(0, 60)}...` : text}'`);
  }
}

/** IANA netconf-ch-ssh, the call-home listener's port when `call-home.listen` names only a host (as the plugin reads it) */
const CALL_HOME_PORT = 4334;

/**
 * The plugin's `call-home.listen` (HOST:PORT, [IPv6]:PORT or HOST alone for port 4334; default 0.0.0.0:4334 when
 * the section has no listen), or undefined without a `call-home` section. Malformed: ERR_CONFIG_ADDRESS naming it.
 */
export function callHomeListen(config: ServeConfig): HostPort | undefined {
  const section = (config.builtin as { 'call-home'?: { listen?: unknown } })['call-home'];
  if (section === undefined) return undefined;
  const key = 'call-home.listen';
  const text = typeof section.listen === 'string' ? section.listen.trim() : `0.0.0.0:${CALL_HOME_PORT}`;
  const hp = parseHostPort(text) ?? (/^\[[^\]]+\]$/.test(text) || /^[^:[\]]+$/.test(text) ? { host: text.replace(/^\[(.*)\]$/, '$1'), port: CALL_HOME_PORT } : undefined);
  if (hp === undefined) {
    throw new ServeCheckError('ERR_CONFIG_ADDRESS', key, `${where(key, config.file)}: expected HOST:PORT or HOST (port ${CALL_HOME_PORT}), got ${JSON.stringify(text)}`);
  }
  checkHost(hp.host, key, config.file);
  return hp;
}

/**
 * A start that failed because the call-home listener could not bind (the plugin reports ERR_CALL_HOME_LISTEN
 * with the socket error as its cause, wrapped by the plugin host) as the ERR_SERVE_LISTEN that --check gives
 * for the same address; any other error unchanged.
 */
export function callHomeListenError(err: unknown, listen: HostPort, file?: string): unknown {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === 'ERR_CALL_HOME_LISTEN') {
      const mapped = listenError((e as { cause?: unknown }).cause, listen, 'call-home.listen', file);
      return mapped instanceof ServeCheckError ? mapped : err;
    }
  }
  return err;
}
