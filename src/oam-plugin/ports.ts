/**
 * The ports the built-in plugin builds from its configuration (./config.ts): the PVE client (RESTCONF or NETCONF,
 * by pve.transport; or one that refuses every request when no PVE is configured), the NETCONF device driver (that
 * follows the running inventory) with the call-home listener, and the store. activate.ts wires them; nothing here runs the flow.
 */
import { join, resolve } from 'node:path';
import type { PluginHost } from '../plugin/contract.js';
import type { Logger } from '../log/logger.js';
import type { OpenStoreOptions, Store } from '../store/index.js';
import type { Jwks, JwksFile, JwksSource, SigningKey } from '../tokens/index.js';
import { loadOrCreateSigningKey } from '../tokens/index.js';
import { followedJwksFile } from './jwks-files.js';
import { metrics } from '../metrics/index.js';
import { createReferenceValuesSigner } from '../oam/index.js';
import type { PveClient, ReferenceValuesSigner } from '../oam/index.js';
import type { CallHomeListener, NetconfDeviceDriver } from '../device/index.js';
import { OamConfigError, baseDirOf, callHomeFromConfig, deviceTlsFromConfig, pveTargetFromConfig, readPem } from './config.js';
import { InventoryFiles, deviceEntryOf, fileHenbsById } from './inventory.js';
import type { InventoryEntry } from './inventory.js';
import type { OamPluginConfig } from './config.js';

/** where the OAM's own signing key lives (DATA_DIR/keys), and the key itself (made there at the first start) */
export function oamKeysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

export function loadOamSigningKey(dataDir: string): Promise<SigningKey> {
  return loadOrCreateSigningKey(oamKeysDir(dataDir), 'oam');
}

/**
 * The OAM's signing of the reference values it provides (issue 15), for its PVE client: the OAM's key
 * (DATA_DIR/keys, name oam: the key the plugin signs its results with), iss the OAM, aud the PVE's name (config
 * pve.issuer). Undefined without a PVE. The key is read at the first signature (activation has made it by then), so
 * that nothing is opened before the plugin's configuration has been checked.
 */
export function referenceValuesSignerFromConfig(cfg: OamPluginConfig, dataDir: string): ReferenceValuesSigner | undefined {
  const pveCfg = cfg.pve;
  if (pveCfg === undefined) return undefined;
  let made: Promise<ReferenceValuesSigner> | undefined;
  const signer = (): Promise<ReferenceValuesSigner> => made ??= loadOamSigningKey(dataDir).then(
    (signingKey) => createReferenceValuesSigner({ signingKey, ...(pveCfg.issuer !== undefined ? { pveIssuer: pveCfg.issuer } : {}) }),
    (err: unknown) => {
      made = undefined;
      throw err;
    });
  return { one: async (v) => (await signer()).one(v), list: async (vs) => (await signer()).list(vs) };
}

/**
 * The PVE port from config pve, the keys that verify its tokens and its issuer. The keys are pve.jwks as it is at
 * each verification (pveJwksFile), whichever the transport (RESTCONF or NETCONF: both hand the token to the flow).
 * With `signer` (referenceValuesSignerFromConfig) the client signs reference values as they leave: those of several
 * H(e)NBs sent together as one list statement, one signature (src/pve/batcher.ts).
 */
export async function pveFromConfig(
  cfg: OamPluginConfig, host: Pick<PluginHost, 'log' | 'baseDir'>, signer?: ReferenceValuesSigner,
): Promise<{ pve: PveClient & { close(): void }; pveJwks: Jwks | JwksSource; pveIssuer?: string }> {
  const pveCfg = cfg.pve;
  if (pveCfg === undefined) {
    // Without a PVE the plugin still serves its modules, state and inventory; the flow cannot trust any
    // H(e)NB, so every integrity-request and software-update is refused with this reason.
    host.log.warn('no PVE is configured: integrity-request and software-update will be refused until the configuration has a pve section');
    return { pve: unconfiguredPve(), pveJwks: { keys: [] } };
  }
  const { createPveClient, createNetconfPveClient } = await import('../pve/index.js');
  const pveTarget = pveTargetFromConfig(pveCfg);
  if (pveCfg.jwks === undefined) throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: pve.jwks: expected the JWKS file of the PVE keys');
  const pveJwks = await pveJwksFile(resolve(baseDirOf(host), pveCfg.jwks), host.log);
  const timeoutMs = (pveCfg.timeout ?? 30) * 1000;
  // a connection not made within connect-timeout was never sent a request: retried (src/pve/retry.ts notSent)
  const connectTimeoutMs = (pveCfg['connect-timeout'] ?? 10) * 1000;
  const retry = { initialMs: cfg.retry?.['base-delay'] ?? 200, maxMs: cfg.retry?.['max-delay'] ?? 10_000 };
  // requests and statements made while others are on their way go together (src/pve/batcher.ts), on either transport.
  // The callbacks see the logger alone: a closure that named `host` would keep the whole host, its configuration's
  // henbs list included, for the plugin's life (test/oam-plugin/config-retained.test.ts)
  const log = host.log;
  const lists = {
    batch: { maxRequests: pveCfg['max-batch'] ?? 32 },
    onSent: (operation: string, entries: number) => {
      metrics.pveOperations.inc({ operation });
      metrics.pveOperationEntries.inc({ operation }, entries);
    },
    onBatchUnsupported: (err: unknown) => log.info('the PVE has no list operations (integrity-requests, provide-reference-values-list): one request per operation', { err }),
    ...(signer !== undefined ? { referenceValuesSigner: signer } : {}),
  };
  const pve = pveTarget !== undefined
    ? createNetconfPveClient({ ...pveTarget, timeoutMs, connectTimeoutMs, retry, ...lists })
    : createPveClient({ url: pveCfg.endpoint, ca: await readPem(pveCfg.ca!, 'pve.ca', baseDirOf(host)), timeoutMs, connectTimeoutMs, retry, ...lists });
  return { pve, pveJwks, ...(pveCfg.issuer !== undefined ? { pveIssuer: pveCfg.issuer } : {}) };
}

/** The PVE's JWKS file (config pve.jwks): read at start, then followed at each verification of a PVE token (./jwks-files.ts). */
export async function pveJwksFile(file: string, log: Logger): Promise<JwksFile> {
  return followedJwksFile('pve.jwks', file, log);
}

/**
 * The NETCONF device driver (its resume() replays, RFC 5277 startTime, what a device sent while the OAM was
 * down), the NETCONF Call Home listener when config `call-home` is given (src/device/call-home.ts; not yet
 * listening: the caller starts it once the inventory is known), and `onInventory`, which makes the driver follow
 * the running inventory (./inventory.ts): secrets from an entry's credentials or the config file's entry.
 */
export async function devicesFromConfig(cfg: OamPluginConfig, log: Logger, baseDir: string = process.cwd()): Promise<{
  devices: NetconfDeviceDriver; callHome: CallHomeListener | undefined; onInventory: (entries: InventoryEntry[]) => void;
}> {
  const callHomeAt = callHomeFromConfig(cfg);
  const { createDeviceDriver, createCallHomeListener } = await import('../device/index.js');
  // NETCONF over TLS to H(e)NBs (RFC 7589): the OAM's client certificate, also presented on TLS call home
  const deviceTls = await deviceTlsFromConfig(cfg, baseDir);
  const callHome = callHomeAt !== undefined
    ? createCallHomeListener({
      host: callHomeAt.host, port: callHomeAt.port, log: log.child({ component: 'call-home' }),
      ...(callHomeAt.tls !== undefined && deviceTls !== undefined ? {
        tls: { host: callHomeAt.tls.host, port: callHomeAt.tls.port, cert: deviceTls.cert, key: deviceTls.key, ...(deviceTls.ca !== undefined ? { ca: deviceTls.ca } : {}) },
      } : {}),
    })
    : undefined;
  const tlsDefaults = { baseDir, ...(deviceTls ?? {}) };
  const devices = createDeviceDriver({
    log: log.child({ component: 'device-driver' }), devices: [], ...(callHome !== undefined ? { callHome } : {}),
    backoff: { initialMs: cfg.retry?.['base-delay'] ?? 200, maxMs: cfg.retry?.['max-delay'] ?? 10_000 },
    idleTimeoutMs: (cfg.devices?.['idle-timeout'] ?? 5) * 1000, maxOpenSessions: cfg.devices?.['max-open-sessions'] ?? 1000,
    maxIdleSessions: cfg.devices?.['max-idle-sessions'] ?? 64,
  });
  const fileHenbs = fileHenbsById(cfg.henbs ?? []);
  const ilog = log.child({ component: 'inventory' });
  // the files entries name: stat'ed once per change of running, read again only when changed (./inventory.ts)
  const files = new InventoryFiles();
  // the devices of the last pass are the driver's (no set of their ids kept here: ~26 bytes per H(e)NB at 100,000)
  const onInventory = (entries: InventoryEntry[]): void => {
    const next = new Set<string>();
    files.pass(() => {
      for (const e of entries) {
        const d = deviceEntryOf(e, fileHenbs, process.env, ilog, tlsDefaults, files);
        if (d === undefined) continue;
        try {
          devices.setDevice(d);
          next.add(e.henbId);
        } catch (err) {
          ilog.warn('inventory entry not usable', { henbId: e.henbId, err });
        }
      }
    });
    for (const id of devices.deviceIds()) if (!next.has(id)) devices.removeDevice(id);
  };
  return { devices, callHome, onInventory };
}

/** The PVE port when none is configured: every request fails with ERR_OAM_NO_PVE, which names the fix. */
export function unconfiguredPve(): PveClient & { close(): void } {
  return {
    integrityRequest: () => Promise.reject(new OamConfigError('ERR_OAM_NO_PVE',
      'no PVE is configured: add a pve section (endpoint, ca, jwks) to the serve configuration')),
    close: () => undefined,
  };
}

export async function openConfiguredStore(options: OpenStoreOptions): Promise<Store> {
  // imported lazily so that a plugin given a store never loads SQLite (nor pg)
  const { openStore } = await import('../store/index.js');
  return openStore(options);
}
