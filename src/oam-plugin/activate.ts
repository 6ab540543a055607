/**
 * The OAM plugin's composition root: `activate(host)` (src/plugin/contract.ts) builds the flow's ports and
 * wires the flow (src/oam) to the NETCONF registry through the northbound adapter (./northbound.ts).
 *
 * - createOamPlugin(deps) takes the ports from the caller (the demo injects the simulator's driver and the
 *   reference PVE's client); everything else has defaults built from host.dataDir and host.config.
 * - activate (the default export of the built-in plugin) takes the real ports built from host.config (./ports.ts:
 *   the NETCONF device driver, src/device; the RESTCONF or NETCONF PVE client, src/pve; the store) and the
 *   software fetcher (./software-fetcher.ts). This file only wires.
 * Files in host.dataDir: keys/ (the OAM signing key, keys/jwks.json) and, with driver sqlite, the database.
 * The store also holds the notification replay log, which the plugin hands to the server (setReplayLog).
 */
import { readFile } from 'node:fs/promises';
import type { XmlElement } from '../netconf/xml/index.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActivateFn, PluginHandle, PluginHost } from '../plugin/contract.js';
import { compileTexts } from '../yang/index.js';
import { softwareAllowList } from '../integrity/index.js';
import { EventLog } from '../store/index.js';
import type { Store } from '../store/index.js';
import { DEFAULT_JOB_RETENTION_DAYS, startRetention } from './retention.js';
import { measuredDevices, measuredPve, observeResult, registerPluginMetrics } from './metrics.js';
import { metrics } from '../metrics/index.js';
import type { Jwks, JwksSource, SigningKey, ReplayCache } from '../tokens/index.js';
import { newNonce as defaultNonce, publishJwks, storeReplayCache } from '../tokens/index.js';
import { createResultTokens } from '../oam/index.js';
import type { Clock, DeviceDriver, PveClient, SoftwareFetcher, SoftwareManifestCheck, StepTimeouts } from '../oam/index.js';
import { OamService } from './northbound.js';
import { AuditTrail } from './audit.js';
import type { OamPolicies } from './northbound.js';
import type { OamPluginConfig, SoftwareOptions } from './config.js';
import { OamConfigError, baseDirOf, configOf, policiesFromConfig, pveEvidenceOf, softwareFromConfig, storeFromConfig } from './config.js';
import { devicesFromConfig, loadOamSigningKey, oamKeysDir, openConfiguredStore, pveFromConfig, referenceValuesSignerFromConfig } from './ports.js';
import { createSoftwareFetcher } from './software-fetcher.js';
import { inventoryEntryOfFile, inventoryFromRunning, seedInventory } from './inventory.js';
import type { ConfigHenb, InventoryEntry } from './inventory.js';
import type { HenbConnection } from './northbound.js';
import { manifestCheckFromConfig } from './software-manifest.js';

export interface OamPluginDeps {
  pve: PveClient;
  devices: DeviceDriver;
  /** keys that verify the PVE's tokens: fixed, or asked at each verification (./ports.ts pveJwksFile over config pve.jwks) */
  pveJwks: Jwks | JwksSource;
  /** expected iss of the PVE's tokens (default urn:henb-sw-verify:pve, or config pve.issuer) */
  pveIssuer?: string | string[];
  /** default: src/integrity fetchAndDigest (file/http/https, streaming) with the config's software section */
  fetcher?: SoftwareFetcher;
  /** default: the SQLite store in host.dataDir (closed with the plugin) */
  store?: Store;
  /** default: loadOrCreateSigningKey(<dataDir>/keys, 'oam'), its JWKS published to <dataDir>/keys/jwks.json */
  signingKey?: SigningKey;
  /** default: storeReplayCache(store) */
  replayCache?: ReplayCache;
  /**
   * the H(e)NB ids managed, in addition to the running configuration's /hsv:inventory (tests). Default: none;
   * the configuration's henbs seed running on the first start (./inventory.ts), and running is the inventory.
   * A host without NetconfRegistry.seedRunning keeps config henbs[] as a second source.
   */
  inventory?: string[] | (() => Iterable<string>);
  /** told of the running inventory at activation and after every change (the composition root syncs the driver) */
  onInventory?: (entries: InventoryEntry[]) => void;
  /** how a device is connected now (/hsv:henbs connection, connected-since) */
  connections?: (henbId: string) => HenbConnection | undefined;
  /** default: config policies (+ pve.timeout) */
  policies?: OamPolicies;
  /** the OAM's token lifetime in s (default config policies.token-lifetime or 86400) */
  tokenLifetimeSec?: number;
  /** per-step timeouts in ms overriding the policies (tests, demo) */
  timeouts?: Partial<StepTimeouts>;
  clock?: Clock;
  newNonce?: () => string;
  /** default: the package's yang/ directory */
  yangDir?: string;
  /** called at close, after the flow stopped (release ports the caller created) */
  onClose?: () => Promise<void> | void;
}

/** Modules the OAM plugin implements or imports (as declared in plugin.json). */
export const OAM_MODULE_FILES = ['henb-sw-verify.yang', 'ietf/ietf-inet-types@2013-07-15.yang', 'ietf/ietf-yang-types@2013-07-15.yang'];

export function defaultYangDir(): string {
  return fileURLToPath(new URL('../../yang/', import.meta.url));
}

export interface OamPlugin {
  activate: ActivateFn;
  /** the service once activated (demo, tests) */
  readonly service: OamService | undefined;
}

/** What an activation opened, closed in the reverse order of opening; at a failed activation, closed quietly. */
class Opened {
  private readonly closers: Array<() => Promise<void> | void> = [];

  add(close: () => Promise<void> | void): void {
    this.closers.unshift(close);
  }

  async closeAll(onError: (err: unknown) => void): Promise<void> {
    for (const c of this.closers) await Promise.resolve(c()).catch(onError);
  }
}

/**
 * The host as the plugin keeps it: all of it but `config`, which activation reads once (configOf). What outlives
 * activation (the close handle, config listeners, the store's error handler, the service's callbacks) holds this
 * view, never the host: the host's config holds the configuration file's `henbs`, which running holds once seeded
 * (100,000 entries in a national fleet, ~0.35 KiB each with configOf's copy: issue 15, branch invmem).
 */
export type KeptHost = Omit<PluginHost, 'config'>;

export function keptHost(host: PluginHost): KeptHost {
  return Object.freeze({
    apiVersion: host.apiVersion, registry: host.registry, log: host.log, dataDir: host.dataDir, signal: host.signal,
    ...(host.baseDir !== undefined ? { baseDir: host.baseDir } : {}),
  });
}

/**
 * one activation's inputs: the host (as kept), its parsed config without `henbs`, the configuration file's henbs
 * (read at activation: seeding, the device secrets), the caller's ports, what it opened so far
 */
interface Activation {
  host: KeptHost;
  cfg: Omit<OamPluginConfig, 'henbs'>;
  henbs: readonly ConfigHenb[];
  deps: OamPluginDeps;
  opened: Opened;
}

/**
 * The store (the caller's, or the configured one, closed with the plugin) and the RFC 5277 replay log in it: with
 * several instances on one PostgreSQL database, an NMS subscribed to any of them replays the notifications of all
 * (the server keeps no file of its own then).
 */
async function openStore({ host, cfg, deps, opened }: Activation): Promise<Store> {
  const storeOptions = storeFromConfig(cfg.store, host.dataDir);
  let store = deps.store;
  if (store === undefined) {
    // SQLite: a failed WAL checkpoint in the store's checkpointer thread is logged and counted, never thrown
    const s = await openConfiguredStore({ ...storeOptions, onCheckpointError: (err) => {
      metrics.storeCheckpointErrors.inc();
      host.log.warn('store: WAL checkpoint failed', { err });
    } });
    store = s;
    opened.add(() => s.close());
  }
  const events = new EventLog(store);
  await events.prune();
  host.registry.setReplayLog?.(events);
  opened.add(() => events.close());
  return store;
}

/** the OAM signing key and the JWKS it publishes (the caller's key, or keys/ in the data dir) */
async function signingKeys({ host, deps }: Activation): Promise<{ signingKey: SigningKey; jwks: Jwks }> {
  const signingKey = deps.signingKey ?? await loadOamSigningKey(host.dataDir);
  const jwks: Jwks = deps.signingKey !== undefined ? { keys: [deps.signingKey.publicJwk] } : await publishJwks(oamKeysDir(host.dataDir));
  return { signingKey, jwks };
}

/** the audit log: the server's decisions go in, the head is signed with the OAM key (./audit.ts) */
function startAudit({ host, cfg, opened }: Activation, store: Store, signingKey: SigningKey): void {
  const audit = new AuditTrail({
    store, key: signingKey, log: host.log.child({ component: 'audit' }),
    sealIntervalMs: (cfg.audit?.['seal-interval'] ?? 60) * 1000,
  });
  opened.add(() => audit.close());
  host.registry.onAudit?.((e) => audit.record({ actor: e.actor, action: e.action, object: e.object, details: e.details, at: e.at.getTime() }));
  audit.start();
}

/**
 * The managed H(e)NB ids: the caller's, else running once seeding is possible (`runningOnly`, set after
 * seedInventory); until then, and on a host that cannot seed running, the configuration's henbs count as well.
 */
function inventorySource(a: Activation): { inventory: () => Iterable<string>; setRunningOnly(v: boolean): void } {
  const inv = a.deps.inventory;
  let configured: readonly string[] = a.henbs.map((h) => h['henb-id']);
  const inventory = typeof inv === 'function' ? inv : (): Iterable<string> => inv ?? configured;
  // running only: the file's ids are not kept
  return { inventory, setRunningOnly: (v) => { if (v) configured = []; } };
}

interface ServiceParts {
  store: Store;
  software: SoftwareOptions;
  softwareManifest: SoftwareManifestCheck | undefined;
  signingKey: SigningKey;
  jwks: Jwks;
  inventory: () => Iterable<string>;
}

/** The flow's service over the ports: result tokens, fetcher, policies, the config's jobs/store/software settings. */
function createService({ host, cfg, deps, opened }: Activation, p: ServiceParts): OamService {
  const { store, software, softwareManifest, signingKey, jwks, inventory } = p;
  const tokens = createResultTokens({
    signingKey, pveJwks: deps.pveJwks, replayCache: deps.replayCache ?? storeReplayCache(store),
    ...(deps.pveIssuer ?? cfg.pve?.issuer) !== undefined ? { pveIssuer: (deps.pveIssuer ?? cfg.pve?.issuer)! } : {},
    ttlSec: deps.tokenLifetimeSec ?? cfg.policies?.['token-lifetime'] ?? 86_400,
  });
  const fetcher: SoftwareFetcher = deps.fetcher ?? createSoftwareFetcher(software, host.log.child({ component: 'software-fetch' }));
  const policies: OamPolicies = deps.policies ?? policiesFromConfig(cfg);
  const svc = new OamService({
    store, pve: measuredPve(deps.pve), devices: measuredDevices(deps.devices), fetcher, tokens, inventory, policies,
    onResult: (job, saved) => void observeResult(store, job, saved).catch((err: unknown) => host.log.debug('metrics: result not observed', { err })),
    ...(softwareManifest !== undefined ? { softwareManifest } : {}),
    newNonce: deps.newNonce ?? defaultNonce, jwks: () => jwks, log: host.log.child({ component: 'oam' }),
    ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
    ...(deps.timeouts !== undefined ? { timeouts: deps.timeouts } : {}),
    ...(software.fileRoot !== undefined ? { fileRoot: software.fileRoot } : {}),
    confineSoftware: { allowHttpUrl: softwareAllowList(software.allow ?? []) },
    ...(cfg.store?.['instance-id'] !== undefined ? { instanceId: cfg.store['instance-id'] } : {}),
    ...(cfg.store?.lease !== undefined ? { leaseMs: cfg.store.lease * 1000 } : {}),
    ...(deps.connections !== undefined ? { connections: deps.connections } : {}),
    ...(cfg.jobs?.['max-active'] !== undefined ? { maxActiveJobs: cfg.jobs['max-active'] } : {}),
    ...(cfg.pve !== undefined ? { pveEvidence: pveEvidenceOf(cfg.pve.evidence) } : {}),
  });
  opened.add(() => svc.close());
  return svc;
}

/** the modules the plugin implements or imports, added to the registry */
async function addModules({ host, deps }: Activation): Promise<void> {
  const yangDir = deps.yangDir ?? defaultYangDir();
  const texts = await Promise.all(OAM_MODULE_FILES.map(async (f) => ({ file: f, text: await readFile(join(yangDir, f), 'utf8') })));
  for (const m of compileTexts(texts).modules) host.registry.addModule(m);
}

/** tell deps.onInventory the running inventory now and after every change (plus the file's henbs when running cannot be seeded) */
function followInventory({ host, henbs, deps }: Activation, runningOnly: boolean): void {
  if (!deps.onInventory) return;
  const tell = deps.onInventory;
  const baseDir = baseDirOf(host);
  const fileEntries: InventoryEntry[] = runningOnly ? [] : henbs.map((h) => inventoryEntryOfFile(h, baseDir));
  const current = (running: XmlElement): InventoryEntry[] => {
    const fromRunning = inventoryFromRunning(running);
    const ids = new Set(fromRunning.map((e) => e.henbId));
    return [...fileEntries.filter((e) => !ids.has(e.henbId)), ...fromRunning];
  };
  tell(current(host.registry.getRunning()));
  host.registry.onConfigChange((running) => tell(current(running)));
}

/** metrics read when scraped and the readiness checks of /readyz; job retention at start (before anything is served), then hourly */
async function startHousekeeping({ host, cfg, opened }: Activation, store: Store, signingKey: SigningKey): Promise<void> {
  const unregisterMetrics = registerPluginMetrics({ store, signingKid: signingKey.kid, ...(cfg.pve?.endpoint !== undefined ? { pveEndpoint: cfg.pve.endpoint } : {}) });
  opened.add(unregisterMetrics);
  const retention = startRetention({ store, days: cfg.store?.['job-retention'] ?? DEFAULT_JOB_RETENTION_DAYS, log: host.log.child({ component: 'retention' }) });
  opened.add(() => retention.close());
  await retention.run();
}

/** Everything an activation opens, in order (config first: a bad one opens nothing); `onService` sees the service once registered. */
async function activateOam(a: Activation, onService: (svc: OamService) => void): Promise<void> {
  const { host, cfg } = a;
  const software = await softwareFromConfig(cfg, baseDirOf(host));
  const softwareManifest = await manifestCheckFromConfig(cfg, software, baseDirOf(host), host.log.child({ component: 'software-manifest' }));
  const store = await openStore(a);
  const { signingKey, jwks } = await signingKeys(a);
  startAudit(a, store, signingKey);
  const source = inventorySource(a);
  const svc = createService(a, { store, software, softwareManifest, signingKey, jwks, inventory: source.inventory });
  await addModules(a);
  svc.register(host.registry);
  const seeded = await seedInventory(host.registry, a.henbs, host.dataDir, host.log.child({ component: 'inventory' }), baseDirOf(host));
  source.setRunningOnly(seeded !== 'unsupported');
  followInventory(a, seeded !== 'unsupported');
  onService(svc);
  await startHousekeeping(a, store, signingKey);
  const resumed = await svc.resume();
  if (resumed.length > 0) host.log.info('jobs resumed after restart', { jobs: resumed });
}

export function createOamPlugin(deps: OamPluginDeps): OamPlugin {
  let service: OamService | undefined;
  const activate: ActivateFn = async (given: PluginHost): Promise<PluginHandle> => {
    const opened = new Opened();
    const host = keptHost(given);
    try {
      const { henbs, ...cfg } = configOf(given.config);
      await activateOam({ host, cfg, henbs: henbs ?? [], deps, opened }, (svc) => { service = svc; });
    } catch (err) {
      await opened.closeAll(() => undefined);
      await Promise.resolve(deps.onClose?.()).catch(() => undefined);
      throw err;
    }
    let closing: Promise<void> | undefined;
    return {
      close(): Promise<void> {
        closing ??= (async () => {
          await opened.closeAll((err: unknown) => host.log.warn('close failed', { err }));
          await deps.onClose?.();
        })();
        return closing;
      },
    };
  };
  return {
    activate,
    get service() { return service; },
  };
}

/** The built-in plugin's activate: the real ports from host.config (./ports.ts), wired by createOamPlugin. */
export const activate: ActivateFn = async (host) => {
  const cfg = configOf(host.config);
  // the client signs the reference values it sends (several H(e)NBs' as one list statement) with the OAM's key
  const { pve, pveJwks, pveIssuer } = await pveFromConfig(cfg, host, referenceValuesSignerFromConfig(cfg, host.dataDir));
  let ports: Awaited<ReturnType<typeof devicesFromConfig>>;
  try {
    ports = await devicesFromConfig(cfg, host.log, baseDirOf(host));
  } catch (err) {
    pve.close();
    throw err;
  }
  const { devices, callHome, onInventory } = ports;
  // the driver's resume() replays (RFC 5277 startTime) what a device sent while the OAM was down
  const handle = await createOamPlugin({
    pve, devices, pveJwks, onInventory,
    connections: (id) => devices.connection(id),
    ...(pveIssuer !== undefined ? { pveIssuer } : {}),
    onClose: async () => {
      await callHome?.close();
      await devices.close();
      pve.close();
    },
  }).activate(host);
  if (callHome !== undefined) {
    try {
      const at = await callHome.listen();
      host.log.info('NETCONF call home listening', at);
    } catch (err) {
      await handle.close();
      throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: call-home.listen: ${(err as Error).message}`, { cause: err });
    }
  }
  return handle;
};
