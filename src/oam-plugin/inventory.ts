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
import { HOST_KEY_FORMS, hostKeyFingerprint } from '../host-key.js';
import type { Logger } from '../log/logger.js';
import type { NetconfRegistry } from '../plugin/contract.js';
import { child, childText, childrenNamed, el, leaf } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import type { DeviceInventoryEntry } from '../device/index.js';
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
}

export type ConfigHenb = NonNullable<OamPluginConfig['henbs']>[number];

/** the marker of a done seeding, in the plugin's data directory */
export const INVENTORY_SEEDED_FILE = 'inventory-seeded';

/** The entries of /hsv:inventory in a running configuration (<data>), in document order. */
export function inventoryFromRunning(running: XmlElement): InventoryEntry[] {
  const inv = child(running, HSV_NS, 'inventory');
  if (!inv) return [];
  const out: InventoryEntry[] = [];
  for (const h of childrenNamed(inv, HSV_NS, 'henb')) {
    const text = (name: string): string | undefined => {
      const v = childText(h, HSV_NS, name)?.trim();
      return v === undefined || v === '' ? undefined : v;
    };
    const henbId = text('henb-id');
    if (henbId === undefined) continue;
    const port = Number(text('port') ?? '830');
    const e: InventoryEntry = { henbId, port: Number.isInteger(port) ? port : 830, callHome: child(h, HSV_NS, 'call-home') !== undefined };
    const set = <K extends keyof InventoryEntry>(k: K, v: InventoryEntry[K] | undefined): void => {
      if (v !== undefined) e[k] = v;
    };
    set('address', text('address'));
    set('sshHostKey', text('ssh-host-key'));
    set('username', text('username'));
    set('credentials', text('credentials'));
    set('description', text('description'));
    out.push(e);
  }
  return out;
}

/** /hsv:inventory holding the configuration file's henbs, secrets left out */
export function inventoryXml(henbs: ConfigHenb[]): XmlElement {
  return el(HSV_NS, 'inventory', henbs.map((h) => el(HSV_NS, 'henb',
    leaf(HSV_NS, 'henb-id', h['henb-id']),
    h['call-home'] === true ? el(HSV_NS, 'call-home') : h.address !== undefined ? leaf(HSV_NS, 'address', h.address) : undefined,
    h.port !== undefined && h.port !== 830 ? leaf(HSV_NS, 'port', String(h.port)) : undefined,
    h['ssh-host-key'] !== undefined ? leaf(HSV_NS, 'ssh-host-key', h['ssh-host-key']) : undefined,
    h.username !== undefined ? leaf(HSV_NS, 'username', h.username) : undefined,
    h.description !== undefined ? leaf(HSV_NS, 'description', h.description) : undefined)));
}

/**
 * First start: put the configuration file's henbs into running (when the registry can, and running has no
 * inventory yet), then remember that it was done. Returns what happened, for the log and the tests:
 * 'seeded', 'kept' (running already had an inventory, or the marker says seeding was done before),
 * 'unsupported' (a host without seedRunning: the file stays a second source, as before).
 */
export async function seedInventory(registry: NetconfRegistry, henbs: ConfigHenb[], dataDir: string, log: Logger): Promise<'seeded' | 'kept' | 'unsupported'> {
  if (registry.seedRunning === undefined) return 'unsupported';
  const marker = join(dataDir, INVENTORY_SEEDED_FILE);
  const done = await access(marker).then(() => true, () => false);
  let outcome: 'seeded' | 'kept' = 'kept';
  if (!done) {
    if (henbs.length > 0 && await registry.seedRunning(inventoryXml(henbs))) outcome = 'seeded';
    await mkdir(dataDir, { recursive: true });
    await writeFile(marker, `${new Date().toISOString()} ${outcome === 'seeded' ? `seeded ${henbs.length} henb(s) from the plugin configuration` : 'running already had an inventory'}\n`);
  }
  const inRunning = new Set(inventoryFromRunning(registry.getRunning()).map((e) => e.henbId));
  const ignored = henbs.map((h) => h['henb-id']).filter((id) => !inRunning.has(id));
  if (outcome === 'seeded') log.info('inventory seeded into running from the plugin configuration (first start)', { henbs: henbs.length });
  if (ignored.length > 0) {
    log.warn('henbs of the plugin configuration that running does not have are not managed: running is the inventory after the first start (add them with edit-config)', { henbs: ignored });
  }
  return outcome;
}

/**
 * The device driver's entry for an inventory entry: address, pin and login from running, the secret from its
 * credentials reference or, without one, from the configuration file's entry of the same henb-id. Undefined
 * (and logged) when the entry cannot be used: dialled without an address, call-home without a pinned key.
 */
export function deviceEntryOf(e: InventoryEntry, fileHenbs: ConfigHenb[], env: NodeJS.ProcessEnv, log: Logger): DeviceInventoryEntry | undefined {
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
  const file = fileHenbs.find((h) => h['henb-id'] === e.henbId);
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
  const secret = readCredentials(e.credentials, env);
  if (secret === undefined) {
    log.warn('inventory entry: its credentials reference cannot be read (env:NAME or file:PATH); connections will fail', { henbId: e.henbId, credentials: e.credentials.replace(/^(env|file):.*$/, '$1:...') });
    return out;
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret)) out.privateKey = secret;
  else out.password = secret;
  return out;
}

function readCredentials(ref: string, env: NodeJS.ProcessEnv): string | undefined {
  if (ref.startsWith('env:')) {
    const v = env[ref.slice(4)];
    return v === undefined || v === '' ? undefined : v;
  }
  if (ref.startsWith('file:')) {
    try {
      const v = readFileSync(resolve(ref.slice(5)), 'utf8').replace(/\r?\n$/, '');
      return v === '' ? undefined : v;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
