/**
 * The OAM plugin: `activate(host)` (src/plugin/contract.ts) wires the flow to the NETCONF registry.
 *
 * - createOamPlugin(deps) takes the ports from the caller (the demo injects the simulator's driver and the
 *   reference PVE's client); everything else has defaults built from host.dataDir and host.config.
 * - activate (the default export of the built-in plugin) builds the real ports from host.config:
 *     henbs[]   {henb-id, address, port=830, ssh-host-key?, username?, password?, private-key?}  -> device driver
 *     pve       {endpoint (https://...), ca (PEM file), jwks (JWKS file), issuer?, timeout=30 s}  -> PVE client
 *     policies  {self-check=true, on-mismatch=[alarm, rollback], step-timeout=300 s, token-lifetime=86400 s}
 *   Relative file names resolve against the current directory.
 * Files in host.dataDir: keys/ (the OAM signing key, keys/jwks.json) and the SQLite database.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HsvError } from '../errors.js';
import type { ActivateFn, PluginHandle, PluginHost } from '../plugin/contract.js';
import { compileTexts } from '../yang/index.js';
import { fetchAndDigest } from '../integrity/index.js';
import type { Store } from '../store/types.js';
import type { Jwks, SigningKey, ReplayCache } from '../tokens/types.js';
import { loadJwksFile, loadOrCreateSigningKey, newNonce as defaultNonce, publishJwks, storeReplayCache } from '../tokens/index.js';
import type { Clock, DeviceDriver, PveClient, SoftwareFetcher } from './ports.js';
import { OamService } from './service.js';
import type { OamPolicies } from './service.js';
import { createResultTokens } from './tokens-adapter.js';
import type { Measure, StepTimeouts } from './transition.js';

export class OamConfigError extends HsvError {}

/** The plugin configuration (plugin.json configSchema), after validation and secret resolution. */
export interface OamPluginConfig {
  henbs?: Array<{
    'henb-id': string; address: string; port?: number; 'ssh-host-key'?: string; username?: string;
    password?: string; 'private-key'?: string; description?: string;
  }>;
  pve?: { endpoint: string; transport?: 'restconf' | 'netconf'; ca?: string; jwks?: string; issuer?: string; timeout?: number };
  policies?: { 'self-check'?: boolean; 'on-mismatch'?: Measure[]; 'step-timeout'?: number; 'token-lifetime'?: number };
}

export interface OamPluginDeps {
  pve: PveClient;
  devices: DeviceDriver;
  /** keys that verify the PVE's tokens */
  pveJwks: Jwks;
  /** expected iss of the PVE's tokens (default urn:henb-sw-verify:pve, or config pve.issuer) */
  pveIssuer?: string | string[];
  /** default: H4's fetchAndDigest (file/http/https, streaming) */
  fetcher?: SoftwareFetcher;
  /** default: the SQLite store in host.dataDir (closed with the plugin) */
  store?: Store;
  /** default: loadOrCreateSigningKey(<dataDir>/keys, 'oam'), its JWKS published to <dataDir>/keys/jwks.json */
  signingKey?: SigningKey;
  /** default: storeReplayCache(store) */
  replayCache?: ReplayCache;
  /** the H(e)NB ids managed; default config henbs[].henb-id (the running config's /hsv:inventory adds to it) */
  inventory?: string[] | (() => Iterable<string>);
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

export function createOamPlugin(deps: OamPluginDeps): OamPlugin {
  let service: OamService | undefined;
  const activate: ActivateFn = async (host: PluginHost): Promise<PluginHandle> => {
    const cfg = (host.config ?? {}) as OamPluginConfig;
    const opened: Array<() => Promise<void> | void> = [];
    try {
      let store = deps.store;
      if (store === undefined) {
        const s = await openDefaultStore(host.dataDir);
        store = s;
        opened.push(() => s.close());
      }
      const keysDir = join(host.dataDir, 'keys');
      const signingKey = deps.signingKey ?? await loadOrCreateSigningKey(keysDir, 'oam');
      const jwks: Jwks = deps.signingKey !== undefined ? { keys: [deps.signingKey.publicJwk] } : await publishJwks(keysDir);
      const tokens = createResultTokens({
        signingKey, pveJwks: deps.pveJwks, replayCache: deps.replayCache ?? storeReplayCache(store),
        ...(deps.pveIssuer ?? cfg.pve?.issuer) !== undefined ? { pveIssuer: (deps.pveIssuer ?? cfg.pve?.issuer)! } : {},
        ttlSec: deps.tokenLifetimeSec ?? cfg.policies?.['token-lifetime'] ?? 86_400,
      });
      const fetcher: SoftwareFetcher = deps.fetcher ?? {
        fetchAndDigest: async (uri, signal) => {
          const r = await fetchAndDigest(uri, { signal });
          return { sha256: r.digest, size: r.size };
        },
      };
      const inv = deps.inventory;
      const configured = (cfg.henbs ?? []).map((h) => h['henb-id']);
      const inventory = typeof inv === 'function' ? inv : (): Iterable<string> => inv ?? configured;
      const policies: OamPolicies = deps.policies ?? policiesFromConfig(cfg);
      const svc = new OamService({
        store, pve: deps.pve, devices: deps.devices, fetcher, tokens, inventory, policies,
        newNonce: deps.newNonce ?? defaultNonce, jwks: () => jwks, log: host.log.child({ component: 'oam' }),
        ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
        ...(deps.timeouts !== undefined ? { timeouts: deps.timeouts } : {}),
      });
      opened.unshift(() => svc.close());
      const yangDir = deps.yangDir ?? defaultYangDir();
      const texts = await Promise.all(OAM_MODULE_FILES.map(async (f) => ({ file: f, text: await readFile(join(yangDir, f), 'utf8') })));
      for (const m of compileTexts(texts).modules) host.registry.addModule(m);
      svc.register(host.registry);
      service = svc;
      const resumed = await svc.resume();
      if (resumed.length > 0) host.log.info('jobs resumed after restart', { jobs: resumed });
    } catch (err) {
      for (const c of opened) await Promise.resolve(c()).catch(() => undefined);
      await Promise.resolve(deps.onClose?.()).catch(() => undefined);
      throw err;
    }
    let closing: Promise<void> | undefined;
    return {
      close(): Promise<void> {
        closing ??= (async () => {
          for (const c of opened) await Promise.resolve(c()).catch((err: unknown) => host.log.warn('close failed', { err }));
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

export function policiesFromConfig(cfg: OamPluginConfig): OamPolicies {
  const p = cfg.policies ?? {};
  return {
    selfCheck: p['self-check'] ?? true,
    onMismatch: p['on-mismatch'] ?? ['alarm', 'rollback'],
    stepTimeoutSec: p['step-timeout'] ?? 300,
    pveTimeoutSec: cfg.pve?.timeout ?? 30,
  };
}

/** The built-in plugin's activate: real ports (NETCONF device driver, RESTCONF PVE client) from host.config. */
export const activate: ActivateFn = async (host) => {
  const cfg = (host.config ?? {}) as OamPluginConfig;
  const pveCfg = cfg.pve;
  if (pveCfg === undefined) throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: pve: expected the PVE endpoint {endpoint, ca, jwks}');
  if ((pveCfg.transport ?? 'restconf') !== 'restconf') throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: pve.transport: only restconf is supported');
  if (pveCfg.ca === undefined) throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: pve.ca: expected the PEM file of the PVE CA');
  if (pveCfg.jwks === undefined) throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: pve.jwks: expected the JWKS file of the PVE keys');
  const [{ createPveClient }, { createDeviceDriver }] = await Promise.all([import('../pve/client.js'), import('../device/driver.js')]);
  const ca = await readFile(resolve(pveCfg.ca), 'utf8');
  const pveJwks = await loadJwksFile(resolve(pveCfg.jwks));
  const pve = createPveClient({ url: pveCfg.endpoint, ca, timeoutMs: (pveCfg.timeout ?? 30) * 1000 });
  const devices = createDeviceDriver({
    log: host.log.child({ component: 'device-driver' }),
    devices: (cfg.henbs ?? []).map((h) => ({
      henbId: h['henb-id'], host: h.address, port: h.port ?? 830, username: h.username ?? 'admin',
      ...(h.password !== undefined ? { password: h.password } : {}),
      ...(h['private-key'] !== undefined ? { privateKey: h['private-key'] } : {}),
      ...(h['ssh-host-key'] !== undefined ? { hostKeySha256: h['ssh-host-key'] } : {}),
    })),
  });
  // the driver's resume() replays (RFC 5277 startTime) what a device sent while the OAM was down
  return createOamPlugin({
    pve, devices, pveJwks,
    ...(pveCfg.issuer !== undefined ? { pveIssuer: pveCfg.issuer } : {}),
    onClose: async () => {
      await devices.close();
      pve.close();
    },
  }).activate(host);
};

async function openDefaultStore(dataDir: string): Promise<Store> {
  // imported lazily so that a plugin given a store never loads SQLite
  const { openSqliteStore } = await import('../store/index.js');
  return openSqliteStore({ dataDir });
}
