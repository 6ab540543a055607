/**
 * The built-in OAM plugin's configuration (plugin.json configSchema), after validation and secret
 * resolution, and the checks that turn its sections into options for the flow's ports:
 *     henbs[]   {henb-id, address, port=830|6513, ssh-host-key?, username?, password?, private-key?, call-home?, transport?, tls-*?}
 *                 -> seeds the running inventory on first start (./inventory.ts) -> device driver
 *     call-home {listen=0.0.0.0:4334, tls-listen?} -> the NETCONF Call Home listener (src/device/call-home.ts)
 *     device-tls {cert, key, ca?} -> the OAM's client certificate towards TLS H(e)NBs (RFC 7589)
 *     pve       transport=restconf: {endpoint (https://...), ca (PEM file), jwks (JWKS file), issuer?, timeout=30 s}
 *                 -> RESTCONF PVE client (src/pve/client.ts)
 *               transport=netconf:  {endpoint (ssh://HOST[:PORT=830]), ssh-host-key (SHA256:...), username,
 *                 password | private-key, jwks, issuer?, timeout}   -> NETCONF PVE client (src/pve/netconf-client.ts)
 *     software  {ca? (PEM file: https software URIs are trusted only with these CAs),
 *                file-root? (directory: file: URIs outside it, or any without it, are refused before any job starts),
 *                allow? (hosts or URL prefixes: http(s) URIs elsewhere, or any without it, are refused likewise),
 *                vendor-keys? (JWKS file of the vendors' manifest keys; needed by policies.require-signed-software)}
 *     policies  {self-check=true, on-mismatch=[alarm, rollback], step-timeout=300 s, token-lifetime=86400 s,
 *                require-signed-software=false (each image needs a vendor-signed manifest at URI.jws)}
 *     store     {driver=sqlite} (a file in host.dataDir) or {driver: postgres, url (postgres://USER@HOST:PORT/DB,
 *                 no password), password? (secret), pool-size=10}, either with group-commit (default: true with
 *                 sqlite, false with postgres) -> src/store openStore;
 *               instance-id?, lease=60 s -> the runner's job leases (several instances on one database)
 *   Relative file names (pve.ca, pve.jwks, software.ca, software.file-root, software.vendor-keys) resolve against the host's baseDir
 *   (PluginHost.baseDir: the directory of the config file), never against the process's working directory.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HsvError } from '../errors.js';
import { HOST_KEY_FORMS, hostKeyFingerprint } from '../host-key.js';
import { softwareAllowList } from '../integrity/index.js';
import type { OpenStoreOptions } from '../store/index.js';
import type { DeviceTarget } from '../device/index.js';
import type { OamPolicies } from './northbound.js';
import type { PveEvidenceMode } from '../oam/index.js';
import type { FromSchema } from 'json-schema-to-ts';
import type { CONFIG_SCHEMA } from './config-schema.js';

export type OamConfigErrorCode = 'ERR_OAM_CONFIG' | 'ERR_OAM_NO_PVE';

export class OamConfigError extends HsvError<OamConfigErrorCode> {}

/**
 * The schema as the plugin reads its config: after the host resolved every secret reference ({env}/{file},
 * `#/definitions/secret`), the value is the secret's text.
 */
type SecretsResolved<S> =
  S extends { readonly $ref: '#/definitions/secret' } ? { readonly type: 'string' }
    : S extends readonly unknown[] ? { readonly [K in keyof S]: SecretsResolved<S[K]> }
      : S extends object ? { readonly [K in keyof S]: SecretsResolved<S[K]> }
        : S;

/**
 * The plugin configuration, after validation and secret resolution: derived from plugin.json's configSchema
 * (its generated copy ./config-schema.ts), so the schema is the one source of the keys and their types. Keys
 * with a default stay optional (the code applies the same default); the schema's if/then rules are checked by
 * the host's validation, not expressed in the type.
 */
export type OamPluginConfig = FromSchema<SecretsResolved<typeof CONFIG_SCHEMA>, { keepDefaultedPropertiesOptional: true }>;

export function policiesFromConfig(cfg: OamPluginConfig): OamPolicies {
  const p = cfg.policies ?? {};
  return {
    selfCheck: p['self-check'] ?? true,
    onMismatch: p['on-mismatch'] ?? ['alarm', 'rollback'],
    stepTimeoutSec: p['step-timeout'] ?? 300,
    pveTimeoutSec: cfg.pve?.timeout ?? 30,
  };
}

/** config `software`, read and checked: the CA PEM text and the file root's real path. */
export interface SoftwareOptions {
  caPem?: string;
  fileRoot?: string;
  /** http(s) software sources (config software.allow: hosts or URL prefixes); none = every http(s) URI refused */
  allow?: string[];
}

/** the directory the plugin's relative file names are relative to (PluginHost.baseDir, else the current directory) */
export function baseDirOf(host: { readonly baseDir?: string }): string {
  return resolve(host.baseDir ?? process.cwd());
}

export async function softwareFromConfig(cfg: OamPluginConfig, baseDir: string = process.cwd()): Promise<SoftwareOptions> {
  const sw = cfg.software ?? {};
  const out: SoftwareOptions = {};
  if (sw.ca !== undefined) out.caPem = await readPem(sw.ca, 'software.ca', baseDir);
  if (sw.allow !== undefined) {
    try {
      softwareAllowList(sw.allow);
    } catch (cause) {
      throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: software.allow: ${(cause as Error).message}`, { cause });
    }
    out.allow = [...sw.allow];
  }
  if (sw['file-root'] !== undefined) {
    const dir = resolve(baseDir, sw['file-root']);
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
      out.fileRoot = await realpath(dir);
    } catch (cause) {
      throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: software.file-root: expected a directory, got ${dir}`, { cause });
    }
  }
  return out;
}

/** A CA file of the config (relative to baseDir): PEM certificates, or ERR_OAM_CONFIG naming the field. */
export async function readPem(name: string, field: string, baseDir: string = process.cwd()): Promise<string> {
  const file = resolve(baseDir, name);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (cause) {
    throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: ${field}: cannot read the PEM file ${file}`, { cause });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: ${field}: ${file} holds no PEM certificate`);
  }
  return pem;
}

/**
 * pve.evidence (step 3): collect (the PVE collects, the default) or relay (the OAM collects over the job's device
 * session and relays, one device session per update). The schema allows only these; a configuration handed over
 * without the schema check gets the same readable refusal here.
 */
export function pveEvidenceOf(v: unknown): PveEvidenceMode {
  if (v === undefined) return 'collect';
  if (v === 'collect' || v === 'relay') return v;
  throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: pve.evidence: expected collect or relay, got ${JSON.stringify(v)}`);
}

/**
 * Checks pve.transport against the endpoint and the fields each transport needs. Returns the NETCONF target
 * for transport netconf, undefined for restconf (whose ca is then present).
 */
export function pveTargetFromConfig(pveCfg: NonNullable<OamPluginConfig['pve']>): (DeviceTarget & { hostKeySha256: string }) | undefined {
  const bad = (field: string, expected: string): OamConfigError => new OamConfigError('ERR_OAM_CONFIG', `plugin config: pve.${field}: ${expected}`);
  const transport = pveCfg.transport ?? 'restconf';
  let url: URL;
  try {
    url = new URL(pveCfg.endpoint);
  } catch (cause) {
    throw Object.assign(bad('endpoint', 'expected https://HOST:PORT/restconf (restconf) or ssh://HOST:PORT (netconf)'), { cause });
  }
  if (transport === 'restconf') {
    if (url.protocol !== 'https:') throw bad('endpoint', `expected an https:// URL for transport restconf (ssh:// needs pve.transport: netconf), got ${url.protocol}`);
    if (pveCfg.ca === undefined) throw bad('ca', 'expected the PEM file of the PVE CA');
    return undefined;
  }
  if (transport !== 'netconf') throw bad('transport', `expected restconf or netconf, got ${String(transport)}`);
  if (url.protocol !== 'ssh:' || url.hostname === '') throw bad('endpoint', `expected ssh://HOST[:PORT] for transport netconf, got ${pveCfg.endpoint}`);
  if (url.username !== '' || url.password !== '') throw bad('endpoint', 'must not embed credentials (use pve.username and pve.password or pve.private-key)');
  if (pveCfg['ssh-host-key'] === undefined) throw bad('ssh-host-key', 'expected the PVE\'s pinned SSH host key (SHA256:... as OpenSSH prints it, or its public key) for transport netconf');
  const pinned = (text: string): string => {
    const fp = hostKeyFingerprint(text);
    if (fp === undefined) throw bad('ssh-host-key', `expected ${HOST_KEY_FORMS}`);
    return fp;
  };
  if (pveCfg.username === undefined) throw bad('username', 'expected the NETCONF user name at the PVE for transport netconf');
  if (pveCfg.password === undefined && pveCfg['private-key'] === undefined) throw bad('password', 'expected a password or a private-key (secret references) for transport netconf');
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port !== '' ? Number(url.port) : 830,
    username: pveCfg.username, hostKeySha256: pinned(pveCfg['ssh-host-key']),
    ...(pveCfg.password !== undefined ? { password: pveCfg.password } : {}),
    ...(pveCfg['private-key'] !== undefined ? { privateKey: pveCfg['private-key'] } : {}),
  };
}

/**
 * The store options from config `store`: SQLite in the data directory unless driver is postgres, which needs
 * a url without a password (the password is a secret reference of its own, resolved by the config loader).
 */
export function storeFromConfig(storeCfg: OamPluginConfig['store'], dataDir: string): OpenStoreOptions {
  const bad = (field: string, expected: string): OamConfigError => new OamConfigError('ERR_OAM_CONFIG', `plugin config: store.${field}: ${expected}`);
  const driver = storeCfg?.driver ?? 'sqlite';
  if (driver === 'sqlite') {
    for (const f of ['url', 'password', 'pool-size'] as const) {
      if (storeCfg?.[f] !== undefined) throw bad(f, 'is for driver postgres (driver is sqlite: the database is a file in the data directory)');
    }
    return { driver: 'sqlite', dataDir, ...groupCommitOf(storeCfg) };
  }
  if (driver !== 'postgres') throw bad('driver', `expected sqlite or postgres, got ${String(driver)}`);
  const raw = storeCfg?.url;
  if (raw === undefined) throw bad('url', 'expected postgres://USER@HOST:PORT/DATABASE for driver postgres');
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw Object.assign(bad('url', 'expected postgres://USER@HOST:PORT/DATABASE'), { cause });
  }
  if (url.password !== '') throw bad('url', 'must not embed the password (use store.password, a secret reference)');
  if (url.hostname === '' || url.pathname.length <= 1) throw bad('url', 'expected postgres://USER@HOST:PORT/DATABASE (host and database are required)');
  return {
    driver: 'postgres', url: raw,
    ...(storeCfg?.password !== undefined ? { password: storeCfg.password } : {}),
    ...(storeCfg?.['pool-size'] !== undefined ? { poolSize: storeCfg['pool-size'] } : {}),
    ...groupCommitOf(storeCfg),
  };
}

/**
 * store.group-commit, either driver. Default: on (measured with both: docs/performance.md, 5 December 2026; with
 * PostgreSQL at 1,000 devices 1.8x the verified updates/s, explicit COMMITs per update 8.0 -> 0.5).
 */
function groupCommitOf(storeCfg: OamPluginConfig['store']): { groupCommit?: boolean } {
  const on = storeCfg?.['group-commit'] ?? true;
  return on ? { groupCommit: true } : {};
}

/**
 * The plugin's config as activate reads it (pve.evidence checked): each henbs[].ssh-host-key given as a public key becomes its SHA256
 * fingerprint, the one form the device driver pins and /hsv:inventory holds (ERR_OAM_CONFIG for neither form).
 */
export function configOf(raw: unknown): OamPluginConfig {
  const cfg = (raw ?? {}) as OamPluginConfig;
  if (cfg.pve !== undefined) pveEvidenceOf(cfg.pve.evidence); // refused before anything is opened
  if (cfg.henbs === undefined) return cfg;
  const henbs = cfg.henbs.map((h, i) => {
    const key = h['ssh-host-key'];
    if (key === undefined) return h;
    const fp = hostKeyFingerprint(key);
    if (fp === undefined) throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: henbs[${i}].ssh-host-key: expected ${HOST_KEY_FORMS}`);
    return { ...h, 'ssh-host-key': fp };
  });
  return { ...cfg, henbs };
}

/**
 * config `call-home` and the henbs that call home, checked: the listener's address (port 4334 when only a host
 * is given) and, with `tls-listen`, the TLS call-home address (port 4335), or undefined without the section. A
 * call-home henb needs what identifies it (SSH: its ssh-host-key; TLS: tls-certificate, or a CA, and then
 * device-tls and tls-listen) and the section; every other henb needs an address.
 */
export function callHomeFromConfig(cfg: OamPluginConfig): { host: string; port: number; tls?: { host: string; port: number } } | undefined {
  const bad = (field: string, expected: string): OamConfigError => new OamConfigError('ERR_OAM_CONFIG', `plugin config: ${field}: ${expected}`);
  for (const [i, h] of (cfg.henbs ?? []).entries()) {
    const tls = h.transport === 'tls';
    if (tls && cfg['device-tls'] === undefined && (h['tls-client-cert'] === undefined || h['tls-client-key'] === undefined)) {
      throw bad('device-tls', `H(e)NB ${h['henb-id']} uses transport tls: give the OAM's client certificate (device-tls: {cert, key}, or henbs[${i}].tls-client-cert and tls-client-key)`);
    }
    if (tls && h['tls-ca'] === undefined && h['tls-certificate'] === undefined && cfg['device-tls']?.ca === undefined) {
      throw bad(`henbs[${i}].tls-ca`, `H(e)NB ${h['henb-id']} uses transport tls: give the CA of its certificate (tls-ca or device-tls.ca) or pin its certificate (tls-certificate)`);
    }
    if (h['call-home'] === true) {
      if (!tls && h['ssh-host-key'] === undefined) throw bad(`henbs[${i}].ssh-host-key`, `H(e)NB ${h['henb-id']} calls home: its pinned host key is required (a calling device is identified by it, never by its address)`);
      if (cfg['call-home'] === undefined) throw bad('call-home', `H(e)NB ${h['henb-id']} calls home: add a call-home section (listen: HOST:PORT, default 0.0.0.0:4334${tls ? '; tls-listen: HOST:PORT, default port 4335' : ''})`);
      if (tls && cfg['call-home']['tls-listen'] === undefined) throw bad('call-home.tls-listen', `H(e)NB ${h['henb-id']} calls home over TLS: add call-home.tls-listen (HOST:PORT, the IANA port is 4335)`);
      if (h.address !== undefined) throw bad(`henbs[${i}].address`, `H(e)NB ${h['henb-id']} calls home and is never dialled: remove its address`);
    } else if (h.address === undefined) {
      throw bad(`henbs[${i}].address`, `H(e)NB ${h['henb-id']}: expected the address to dial (or call-home: true)`);
    }
  }
  const section = cfg['call-home'];
  if (section === undefined) return undefined;
  const parse = (field: string, text: string, dflt: number): { host: string; port: number } => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
    const port = m?.[3] !== undefined ? Number(m[3]) : dflt;
    if (!m || port > 65535) throw bad(field, `expected HOST:PORT or HOST (port ${dflt}), got ${JSON.stringify(text)}`);
    return { host: m[1] ?? m[2]!, port };
  };
  const ssh = parse('call-home.listen', section.listen ?? '0.0.0.0:4334', 4334);
  if (section['tls-listen'] === undefined) return ssh;
  if (cfg['device-tls'] === undefined) throw bad('device-tls', 'call-home.tls-listen needs the OAM\'s client certificate (device-tls: {cert, key}): it is what the OAM presents to calling H(e)NBs');
  return { ...ssh, tls: parse('call-home.tls-listen', section['tls-listen'], 4335) };
}

/** The OAM's TLS material towards H(e)NBs (config device-tls), read: PEM texts, or undefined without the section. */
export async function deviceTlsFromConfig(cfg: OamPluginConfig, baseDir: string): Promise<{ cert: string; key: string; ca?: string } | undefined> {
  const t = cfg['device-tls'];
  if (t === undefined) return undefined;
  const cert = await readPem(t.cert, 'device-tls.cert', baseDir);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(t.key)) throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: device-tls.key: expected a PEM private key (a secret reference: file: or env:)');
  return { cert, key: t.key, ...(t.ca !== undefined ? { ca: await readPem(t.ca, 'device-tls.ca', baseDir) } : {}) };
}
