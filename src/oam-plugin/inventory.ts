/**
 * One inventory: the running configuration's /hsv:inventory is the list of H(e)NBs the OAM manages. The plugin
 * configuration's `henbs` seeds it on the plugin's first start (NetconfRegistry.seedRunning, once: a marker
 * file in the plugin's data directory remembers it, so an entry the operator deleted does not come back);
 * after that, edit-config is how H(e)NBs are added, changed and removed, and get-config, /hsv:henbs, the
 * device driver and the rollout tool (which reads /hsv:henbs) all read running.
 *
 * Secrets never enter running: a seeded entry has no `credentials` leaf, which means "the password or
 * private key of the plugin configuration's entry with this henb-id"; an entry added by edit-config names
 * its secret as env:NAME or file:PATH (YANG leaf credentials).
 */
import { readFileSync } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SyncFileCache } from '../file-cache.js';
import { HOST_KEY_FORMS, hostKeyFingerprint } from '../host-key.js';
import type { Logger } from '../log/logger.js';
import type { NetconfRegistry } from '../plugin/contract.js';
import { child, el, leaf, textOf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { DeviceInventoryEntry } from '../device/index.js';
import { defaultNetconfPort } from '../device/index.js';
import { HSV_NS } from './northbound.js';
import type { OamPluginConfig } from './config.js';

/** an /hsv:inventory/hsv:henb entry of running */
export interface InventoryEntry {
  henbId: string;
  address?: string;
  port: number;
  sshHostKey?: string;
  callHome: boolean;
  username?: string;
  credentials?: string;
  description?: string;
  /** NETCONF over TLS (RFC 7589): absent = ssh */
  transport?: 'ssh' | 'tls';
  tlsCa?: string;
  tlsCertificate?: string;
  tlsServerName?: string;
  tlsClientCertificate?: string;
}

/** The OAM's defaults for TLS H(e)NBs (config device-tls, read) and where relative file names start. */
export interface DeviceTlsDefaults {
  baseDir: string;
  cert?: string;
  key?: string;
  ca?: string;
}

export type ConfigHenb = NonNullable<OamPluginConfig['henbs']>[number];

/** what deviceEntryOf reads from a configuration-file henb: its login and secrets (the rest is in running) */
export type FileHenb = Readonly<Pick<ConfigHenb, 'username' | 'password' | 'private-key' | 'tls-client-cert' | 'tls-client-key'>>;

/** the configuration file's henbs' logins and secrets by henb-id (the first entry of an id wins), looked up once per inventory entry */
export type FileHenbs = ReadonlyMap<string, FileHenb>;

const FILE_HENB_KEYS = ['username', 'password', 'private-key', 'tls-client-cert', 'tls-client-key'] as const;

/**
 * The file's henbs' logins and secrets by id (an inventory of 100,000 entries looked each up in the list: O(n^2),
 * 17 s and more). Only what deviceEntryOf reads is kept, not the configuration's objects: running holds the rest
 * once seeded (issue 15, branch invmem: the list cost ~0.35 KiB per H(e)NB). Entries with the same login and
 * secrets share one frozen record (a fleet's H(e)NBs usually share them), and an entry with none is not kept
 * (deviceEntryOf reads an absent record as one without any).
 */
export function fileHenbsById(list: readonly ConfigHenb[]): FileHenbs {
  const m = new Map<string, FileHenb>();
  const shared = new Map<string, FileHenb>();
  for (const h of list) {
    if (m.has(h['henb-id'])) continue;
    const values = FILE_HENB_KEYS.map((k) => h[k]);
    if (values.every((v) => v === undefined)) continue;
    const key = JSON.stringify(values);
    let rec = shared.get(key);
    if (rec === undefined) {
      const r: Record<string, string> = {};
      for (const [i, k] of FILE_HENB_KEYS.entries()) if (values[i] !== undefined) r[k] = values[i];
      rec = Object.freeze(r) as FileHenb;
      shared.set(key, rec);
    }
    m.set(h['henb-id'], rec);
  }
  return m;
}

/** the marker of a done seeding, in the plugin's data directory */
export const INVENTORY_SEEDED_FILE = 'inventory-seeded';

/**
 * The entries of /hsv:inventory in a running configuration (<data>), in document order. Each call reads the elements
 * afresh, in one pass over each entry's children: a cache of the entries read from running's frozen elements (branch
 * editcut) held one more object per H(e)NB once the first edit-config had filled it (~150 bytes each at 100,000;
 * issue 15, branch invmem2), and reading an entry this way costs less than copying a cached one did
 * (bench/_inventory-read.ts).
 */
export function inventoryFromRunning(running: XmlElement): InventoryEntry[] {
  const inv = child(running, HSV_NS, 'inventory');
  if (!inv) return [];
  const out: InventoryEntry[] = [];
  for (const h of inv.children) {
    if (typeof h === 'string' || h.name !== 'henb' || h.ns !== HSV_NS) continue;
    const e = inventoryEntryOf(h);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/** a leaf's text as inventoryEntryOf reads it: trimmed, undefined when absent or empty */
function trimmed(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  // most texts have nothing to trim (printable ASCII at both ends is no white space to trim()): no call for them
  const a = v.charCodeAt(0);
  const z = v.charCodeAt(v.length - 1);
  if (a > 32 && a < 127 && z > 32 && z < 127) return v;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** the text of a leaf (textOf, without a concatenation for the usual one text child) */
function leafText(e: XmlElement): string {
  const k = e.children;
  return k.length === 1 && typeof k[0] === 'string' ? k[0] : textOf(e);
}

/** one /hsv:inventory/hsv:henb element read (the first child of each name counts, as childText); undefined without a henb-id */
function inventoryEntryOf(h: XmlElement): InventoryEntry | undefined {
  let henbId: string | undefined, address: string | undefined, port: string | undefined, sshHostKey: string | undefined;
  let username: string | undefined, credentials: string | undefined, description: string | undefined, transport: string | undefined;
  let tlsCa: string | undefined, tlsCertificate: string | undefined, tlsServerName: string | undefined, tlsClientCertificate: string | undefined;
  let callHome = false;
  for (const c of h.children) {
    if (typeof c === 'string' || c.ns !== HSV_NS) continue;
    switch (c.name) {
      case 'henb-id': henbId ??= leafText(c); break;
      case 'address': address ??= leafText(c); break;
      case 'port': port ??= leafText(c); break;
      case 'ssh-host-key': sshHostKey ??= leafText(c); break;
      case 'username': username ??= leafText(c); break;
      case 'credentials': credentials ??= leafText(c); break;
      case 'description': description ??= leafText(c); break;
      case 'transport': transport ??= leafText(c); break;
      case 'tls-ca': tlsCa ??= leafText(c); break;
      case 'tls-certificate': tlsCertificate ??= leafText(c); break;
      case 'tls-server-name': tlsServerName ??= leafText(c); break;
      case 'tls-client-certificate': tlsClientCertificate ??= leafText(c); break;
      case 'call-home': callHome = true; break;
      default: break;
    }
  }
  const id = trimmed(henbId);
  if (id === undefined) return undefined;
  const t = trimmed(transport);
  // no port: the transport's (YANG has no default for it: 830 for ssh, 6513 for tls)
  const dflt = defaultNetconfPort(t === 'tls' ? 'tls' : 'ssh');
  const p = Number(trimmed(port) ?? dflt);
  const e: InventoryEntry = { henbId: id, port: Number.isInteger(p) ? p : dflt, callHome };
  // named stores in one order (one hidden class per set of leaves present), not a keyed helper: read per entry per change
  if ((address = trimmed(address)) !== undefined) e.address = address;
  if ((sshHostKey = trimmed(sshHostKey)) !== undefined) e.sshHostKey = sshHostKey;
  if ((username = trimmed(username)) !== undefined) e.username = username;
  if ((credentials = trimmed(credentials)) !== undefined) e.credentials = credentials;
  if ((description = trimmed(description)) !== undefined) e.description = description;
  if (t === 'tls' || t === 'ssh') e.transport = t;
  if ((tlsCa = trimmed(tlsCa)) !== undefined) e.tlsCa = tlsCa;
  if ((tlsCertificate = trimmed(tlsCertificate)) !== undefined) e.tlsCertificate = tlsCertificate;
  if ((tlsServerName = trimmed(tlsServerName)) !== undefined) e.tlsServerName = tlsServerName;
  if ((tlsClientCertificate = trimmed(tlsClientCertificate)) !== undefined) e.tlsClientCertificate = tlsClientCertificate;
  return e;
}

/** the port of a configuration-file henb: its own, or 830 (ssh) / 6513 (tls) */
export function configPort(h: ConfigHenb): number {
  return h.port ?? defaultNetconfPort(h.transport === 'tls' ? 'tls' : 'ssh');
}

/** /hsv:inventory holding the configuration file's henbs, secrets left out (file names made absolute) */
export function inventoryXml(henbs: readonly ConfigHenb[], baseDir: string = process.cwd()): XmlElement {
  const port = (h: ConfigHenb): number => configPort(h);
  return el(HSV_NS, 'inventory', henbs.map((h) => el(HSV_NS, 'henb',
    leaf(HSV_NS, 'henb-id', h['henb-id']),
    h['call-home'] === true ? el(HSV_NS, 'call-home') : h.address !== undefined ? leaf(HSV_NS, 'address', h.address) : undefined,
    // written unless it is the transport's port (what running means without it)
    port(h) !== defaultNetconfPort(h.transport === 'tls' ? 'tls' : 'ssh') ? leaf(HSV_NS, 'port', String(port(h))) : undefined,
    h['ssh-host-key'] !== undefined ? leaf(HSV_NS, 'ssh-host-key', h['ssh-host-key']) : undefined,
    h.username !== undefined ? leaf(HSV_NS, 'username', h.username) : undefined,
    h.description !== undefined ? leaf(HSV_NS, 'description', h.description) : undefined,
    h.transport === 'tls' ? leaf(HSV_NS, 'transport', 'tls') : undefined,
    h['tls-ca'] !== undefined ? leaf(HSV_NS, 'tls-ca', resolve(baseDir, h['tls-ca'])) : undefined,
    h['tls-certificate'] !== undefined ? leaf(HSV_NS, 'tls-certificate', h['tls-certificate']) : undefined,
    h['tls-server-name'] !== undefined ? leaf(HSV_NS, 'tls-server-name', h['tls-server-name']) : undefined,
    h['tls-client-cert'] !== undefined ? leaf(HSV_NS, 'tls-client-certificate', resolve(baseDir, h['tls-client-cert'])) : undefined)));
}

/** The inventory entry of a configuration-file henb (hosts without seedRunning use the file as it is). */
export function inventoryEntryOfFile(h: ConfigHenb, baseDir: string = process.cwd()): InventoryEntry {
  return {
    henbId: h['henb-id'], port: configPort(h), callHome: h['call-home'] === true,
    ...(h.address !== undefined ? { address: h.address } : {}),
    ...(h['ssh-host-key'] !== undefined ? { sshHostKey: h['ssh-host-key'] } : {}),
    ...(h.username !== undefined ? { username: h.username } : {}),
    ...(h.transport === 'tls' ? { transport: 'tls' as const } : {}),
    ...(h['tls-ca'] !== undefined ? { tlsCa: resolve(baseDir, h['tls-ca']) } : {}),
    ...(h['tls-certificate'] !== undefined ? { tlsCertificate: h['tls-certificate'] } : {}),
    ...(h['tls-server-name'] !== undefined ? { tlsServerName: h['tls-server-name'] } : {}),
    ...(h['tls-client-cert'] !== undefined ? { tlsClientCertificate: resolve(baseDir, h['tls-client-cert']) } : {}),
  };
}

/**
 * First start: put the configuration file's henbs into running (when the registry can, and running has no
 * inventory yet), then remember that it was done. Returns what happened, for the log and the tests:
 * 'seeded', 'kept' (running already had an inventory, or the marker says seeding was done before),
 * 'unsupported' (a host without seedRunning: the file stays a second source, as before).
 */
export async function seedInventory(registry: NetconfRegistry, henbs: readonly ConfigHenb[], dataDir: string, log: Logger, baseDir: string = process.cwd()): Promise<'seeded' | 'kept' | 'unsupported'> {
  if (registry.seedRunning === undefined) return 'unsupported';
  const marker = join(dataDir, INVENTORY_SEEDED_FILE);
  const done = await access(marker).then(() => true, () => false);
  let outcome: 'seeded' | 'kept' = 'kept';
  if (!done) {
    if (henbs.length > 0 && await registry.seedRunning(inventoryXml(henbs, baseDir))) outcome = 'seeded';
    await mkdir(dataDir, { recursive: true });
    await writeFile(marker, `${new Date().toISOString()} ${outcome === 'seeded' ? `seeded ${henbs.length} henb(s) from the plugin configuration` : 'running already had an inventory'}\n`);
  }
  // just seeded: running holds every henb of the file (a copy of running costs ~0.4 s at 100,000 H(e)NBs)
  const inRunning = outcome === 'seeded' ? undefined : new Set(inventoryFromRunning(registry.getRunning()).map((e) => e.henbId));
  const ignored = inRunning === undefined ? [] : henbs.map((h) => h['henb-id']).filter((id) => !inRunning.has(id));
  if (outcome === 'seeded') log.info('inventory seeded into running from the plugin configuration (first start)', { henbs: henbs.length });
  if (ignored.length > 0) {
    log.warn('henbs of the plugin configuration that running does not have are not managed: running is the inventory after the first start (add them with edit-config)', { henbs: ignored });
  }
  return outcome;
}

/** The text of a file an inventory entry names (an absolute path), or undefined when it cannot be read. */
export interface InventoryFileReader {
  text(file: string): string | undefined;
}

/** every call reads the file (what deviceEntryOf does without an InventoryFiles) */
const readEveryTime: InventoryFileReader = {
  text: (file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  },
};

/**
 * The files the inventory names (credentials file:PATH, tls-ca, tls-client-certificate, a file entry's
 * tls-client-cert), for the device driver, which is handed every entry again at every change of running (issue 15:
 * at 10,000 H(e)NBs naming one password file and one CA, an edit-config read them 10,000 times, synchronously).
 * In a pass (one change of running) a path is stat'ed once, whatever the number of entries naming it, and its content
 * is read again only when the file changed (SyncFileCache: dev, ino, size, mtime, ctime), so a file replaced on disk
 * is read at the next change, and one that cannot be read is unreadable for every entry of the pass, as before.
 * After a pass only the paths it used are kept.
 */
export class InventoryFiles implements InventoryFileReader {
  private readonly cache = new SyncFileCache<string>((file) => readFileSync(file, 'utf8'));
  private seen: Map<string, string | undefined> | undefined;

  /** one pass over the inventory: the files are stat'ed again at their first use in `fn` */
  pass<T>(fn: () => T): T {
    const seen = new Map<string, string | undefined>();
    this.seen = seen;
    try {
      return fn();
    } finally {
      this.seen = undefined;
      this.cache.retain(new Set(seen.keys()));
    }
  }

  text(file: string): string | undefined {
    const seen = this.seen;
    if (seen?.has(file) === true) return seen.get(file);
    let v: string | undefined;
    try {
      v = this.cache.get(file);
    } catch {
      v = undefined;
    }
    seen?.set(file, v);
    return v;
  }
}

/**
 * The device driver's entry for an inventory entry: address, pin and login from running, the secret from its
 * credentials reference or, without one, from the configuration file's entry of the same henb-id. Undefined
 * (and logged) when the entry cannot be used: dialled without an address, call-home without a pinned key.
 */
export function deviceEntryOf(e: InventoryEntry, fileHenbs: FileHenbs, env: NodeJS.ProcessEnv, log: Logger, tlsDefaults?: DeviceTlsDefaults,
  files: InventoryFileReader = readEveryTime): DeviceInventoryEntry | undefined {
  if (e.transport === 'tls') return tlsDeviceEntryOf(e, fileHenbs, { env, log, files }, tlsDefaults);
  if (e.callHome && e.sshHostKey === undefined) {
    log.warn('inventory entry unusable: a call-home H(e)NB is identified by its ssh-host-key, which it lacks', { henbId: e.henbId });
    return undefined;
  }
  if (!e.callHome && e.address === undefined) {
    log.warn('inventory entry unusable: no address to dial (or set call-home true)', { henbId: e.henbId });
    return undefined;
  }
  // the leaf holds the fingerprint or the public key (typedef ssh-host-key); the driver pins the fingerprint
  const pin = e.sshHostKey !== undefined ? hostKeyFingerprint(e.sshHostKey) : undefined;
  if (e.sshHostKey !== undefined && pin === undefined) {
    log.warn(`inventory entry unusable: its ssh-host-key is not ${HOST_KEY_FORMS} (a public key whose blob is not an SSH key of its type?)`, { henbId: e.henbId });
    return undefined;
  }
  const file = fileHenbs.get(e.henbId);
  const out: DeviceInventoryEntry = {
    henbId: e.henbId, host: e.address ?? '', port: e.port, username: e.username ?? file?.username ?? 'admin',
    ...(pin !== undefined ? { hostKeySha256: pin } : {}),
    ...(e.callHome ? { callHome: true } : {}),
  };
  if (e.credentials === undefined) {
    if (file?.password !== undefined) out.password = file.password;
    if (file?.['private-key'] !== undefined) out.privateKey = file['private-key'];
    return out;
  }
  const secret = readCredentials(e.credentials, env, files);
  if (secret === undefined) {
    log.warn('inventory entry: its credentials reference cannot be read (env:NAME or file:PATH); connections will fail', { henbId: e.henbId, credentials: e.credentials.replace(/^(env|file):.*$/, '$1:...') });
    return out;
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret)) out.privateKey = secret;
  else out.password = secret;
  return out;
}

function readCredentials(ref: string, env: NodeJS.ProcessEnv, files: InventoryFileReader): string | undefined {
  if (ref.startsWith('env:')) {
    const v = env[ref.slice(4)];
    return v === undefined || v === '' ? undefined : v;
  }
  if (ref.startsWith('file:')) {
    const v = files.text(resolve(ref.slice(5)))?.replace(/\r?\n$/, '');
    return v === '' ? undefined : v;
  }
  return undefined;
}

/** what an entry's secrets and files are read from, and where an unusable entry is told */
interface EntryReads {
  env: NodeJS.ProcessEnv;
  log: Logger;
  files: InventoryFileReader;
}

/** a PEM file of a TLS entry, or undefined (logged) when unreadable */
function pemFile(path: string, baseDir: string, what: string, henbId: string, { log, files }: EntryReads): string | undefined {
  const text = files.text(resolve(baseDir, path));
  if (text?.includes('-----BEGIN ') === true) return text;
  log.warn(`inventory entry unusable: its ${what} is not a readable PEM file`, { henbId, file: resolve(baseDir, path) });
  return undefined;
}

/**
 * A TLS entry (RFC 7589): the H(e)NB's CA (tls-ca, else device-tls.ca) and/or pinned certificate, the name, and
 * the OAM's client certificate: tls-client-certificate with the key from credentials (file:PATH), else the
 * file entry's tls-client-cert / tls-client-key, else device-tls. Undefined (logged) when something is missing.
 */
function tlsDeviceEntryOf(e: InventoryEntry, fileHenbs: FileHenbs, r: EntryReads, d: DeviceTlsDefaults | undefined): DeviceInventoryEntry | undefined {
  const { env, log, files } = r;
  const baseDir = d?.baseDir ?? process.cwd();
  if (!e.callHome && e.address === undefined) {
    log.warn('inventory entry unusable: no address to dial (or set call-home)', { henbId: e.henbId });
    return undefined;
  }
  const file = fileHenbs.get(e.henbId);
  const ca = e.tlsCa !== undefined ? pemFile(e.tlsCa, baseDir, 'tls-ca', e.henbId, r) : d?.ca;
  if (e.tlsCa !== undefined && ca === undefined) return undefined;
  if (ca === undefined && e.tlsCertificate === undefined) {
    log.warn('inventory entry unusable: transport tls needs tls-ca (or device-tls.ca) or a pinned tls-certificate', { henbId: e.henbId });
    return undefined;
  }
  let cert: string | undefined;
  let key: string | undefined;
  if (e.tlsClientCertificate !== undefined) {
    cert = pemFile(e.tlsClientCertificate, baseDir, 'tls-client-certificate', e.henbId, r);
    if (cert === undefined) return undefined;
    key = e.credentials !== undefined ? readCredentials(e.credentials, env, files) : file?.['tls-client-key'];
  } else if (file?.['tls-client-cert'] !== undefined) {
    cert = pemFile(file['tls-client-cert'], baseDir, 'tls-client-cert', e.henbId, r);
    key = file['tls-client-key'];
  } else {
    cert = d?.cert;
    key = e.credentials !== undefined ? readCredentials(e.credentials, env, files) : d?.key;
  }
  if (cert === undefined || key === undefined || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    log.warn('inventory entry unusable: transport tls needs the OAM\'s client certificate and key (device-tls, or tls-client-certificate with credentials file:KEY)', { henbId: e.henbId });
    return undefined;
  }
  return {
    henbId: e.henbId, host: e.address ?? '', port: e.port, username: e.username ?? file?.username ?? 'admin', transport: 'tls',
    ...(e.callHome ? { callHome: true } : {}),
    tls: {
      cert, key, ...(ca !== undefined ? { ca } : {}),
      ...(e.tlsCertificate !== undefined ? { certSha256: e.tlsCertificate } : {}),
      ...(e.tlsServerName !== undefined ? { serverName: e.tlsServerName } : {}),
    },
  };
}
