/**
 * The OAM plugin's composition root: `activate(host)` (src/plugin/contract.ts) builds the flow's ports and
 * wires the flow (src/oam) to the NETCONF registry through the northbound adapter (./northbound.ts).
 *
 * - createOamPlugin(deps) takes the ports from the caller (the demo injects the simulator's driver and the
 *   reference PVE's client); everything else has defaults built from host.dataDir and host.config.
 * - activate (the default export of the built-in plugin) builds the real ports from host.config (./config.ts):
 *   the NETCONF device driver (src/device), the RESTCONF or NETCONF PVE client (src/pve), the store.
 * Files in host.dataDir: keys/ (the OAM signing key, keys/jwks.json) and, with driver sqlite, the database.
 * The store also holds the notification replay log, which the plugin hands to the server (setReplayLog).
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HsvError } from '../errors.js';
import type { ActivateFn, PluginHandle, PluginHost } from '../plugin/contract.js';
import { compileTexts } from '../yang/index.js';
import { fetchAndDigest, softwareAllowList } from '../integrity/index.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { EventLog } from '../store/index.js';
import type { Store, OpenStoreOptions } from '../store/index.js';
import type { Jwks, SigningKey, ReplayCache } from '../tokens/index.js';
import { loadJwksFile, loadOrCreateSigningKey, newNonce as defaultNonce, publishJwks, storeReplayCache } from '../tokens/index.js';
import { createResultTokens } from '../oam/index.js';
import type { Clock, DeviceDriver, PveClient, SoftwareFetcher, StepTimeouts } from '../oam/index.js';
import { OamService } from './northbound.js';
import type { OamPolicies } from './northbound.js';
import { OamConfigError, baseDirOf, policiesFromConfig, pveTargetFromConfig, readPem, softwareFromConfig, storeFromConfig } from './config.js';
import type { OamPluginConfig, SoftwareOptions } from './config.js';

export interface OamPluginDeps {
  pve: PveClient;
  devices: DeviceDriver;
  /** keys that verify the PVE's tokens */
  pveJwks: Jwks;
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
      // config first: a bad one opens nothing
      const software = await softwareFromConfig(cfg, baseDirOf(host));
      const storeOptions = storeFromConfig(cfg.store, host.dataDir);
      let store = deps.store;
      if (store === undefined) {
        const s = await openConfiguredStore(storeOptions);
        store = s;
        opened.push(() => s.close());
      }
      // the RFC 5277 replay log lives in the store: with several instances on one PostgreSQL database, an NMS
      // subscribed to any of them replays the notifications of all (the server keeps no file of its own then)
      const events = new EventLog(store);
      await events.prune();
      host.registry.setReplayLog?.(events);
      opened.unshift(() => events.close());
      const keysDir = join(host.dataDir, 'keys');
      const signingKey = deps.signingKey ?? await loadOrCreateSigningKey(keysDir, 'oam');
      const jwks: Jwks = deps.signingKey !== undefined ? { keys: [deps.signingKey.publicJwk] } : await publishJwks(keysDir);
      const tokens = createResultTokens({
        signingKey, pveJwks: deps.pveJwks, replayCache: deps.replayCache ?? storeReplayCache(store),
        ...(deps.pveIssuer ?? cfg.pve?.issuer) !== undefined ? { pveIssuer: (deps.pveIssuer ?? cfg.pve?.issuer)! } : {},
        ttlSec: deps.tokenLifetimeSec ?? cfg.policies?.['token-lifetime'] ?? 86_400,
      });
      const fetcher: SoftwareFetcher = deps.fetcher ?? createSoftwareFetcher(software, host.log.child({ component: 'software-fetch' }));
      const inv = deps.inventory;
      const configured = (cfg.henbs ?? []).map((h) => h['henb-id']);
      const inventory = typeof inv === 'function' ? inv : (): Iterable<string> => inv ?? configured;
      const policies: OamPolicies = deps.policies ?? policiesFromConfig(cfg);
      const svc = new OamService({
        store, pve: deps.pve, devices: deps.devices, fetcher, tokens, inventory, policies,
        newNonce: deps.newNonce ?? defaultNonce, jwks: () => jwks, log: host.log.child({ component: 'oam' }),
        ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
        ...(deps.timeouts !== undefined ? { timeouts: deps.timeouts } : {}),
        ...(software.fileRoot !== undefined ? { fileRoot: software.fileRoot } : {}),
        confineSoftware: { allowHttpUrl: softwareAllowList(software.allow ?? []) },
        ...(cfg.store?.['instance-id'] !== undefined ? { instanceId: cfg.store['instance-id'] } : {}),
        ...(cfg.store?.lease !== undefined ? { leaseMs: cfg.store.lease * 1000 } : {}),
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

/** TLS verification failures of node:tls (the cause's code) */
const TLS_TRUST = /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_[A-Z_]+|[A-Z_]*SELF_SIGNED[A-Z_]*|UNABLE_TO_[A-Z_]+)$/;

function tlsCodeOf(err: unknown): string | undefined {
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_TRUST.test(code)) return code;
  }
  return undefined;
}

/** the one reason every failed fetch gives towards the NMS (the job's reason): the detail is in the log only */
export const SOFTWARE_FETCH_FAILED = 'the software could not be fetched (the OAM log has the detail)';

/**
 * Step 5 with the config's source confinement (file-root, allow), CA pin (src/integrity fetchAndDigest,
 * streaming). Fail closed: a file: URI without a file root, an http(s) URI (or a redirect) outside the allow
 * list is refused. Every failure becomes one opaque ERR_SOFTWARE_FETCH with SOFTWARE_FETCH_FAILED, so that
 * the job's reason cannot tell a refused connection from an HTTP 404, a TLS error or a missing file (the
 * OAM must not be a port scanner); the detail goes to `log` at warn.
 */
export function createSoftwareFetcher(software: SoftwareOptions = {}, log: Logger = silentLogger): SoftwareFetcher {
  const allowHttpUrl = softwareAllowList(software.allow ?? []);
  return {
    fetchAndDigest: async (uri, signal) => {
      try {
        if (uri.startsWith('file:') && software.fileRoot === undefined) {
          throw new HsvError('ERR_SOFTWARE_URI', 'file: software URIs are refused without software.file-root');
        }
        const r = await fetchAndDigest(uri, {
          signal,
          allowHttpUrl,
          ...(software.caPem !== undefined ? { caPem: software.caPem } : {}),
          ...(software.fileRoot !== undefined ? { fileRoot: software.fileRoot } : {}),
        });
        return { sha256: r.digest, size: r.size };
      } catch (err) {
        if (signal.aborted) throw err; // the job's own cancellation or step timeout: the runner says so
        const tls = tlsCodeOf(err);
        const causes: string[] = [];
        for (let e: unknown = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) causes.push(`${(e as { code?: unknown }).code ?? e.name}: ${e.message}`);
        log.warn('software fetch failed', {
          uri, code: (err as { code?: unknown }).code, detail: causes.join(' <- '),
          ...(tls !== undefined ? { hint: `the https server's certificate is not trusted (${tls}); ` + (software.caPem !== undefined ? 'it is not issued by the CA pinned in software.ca' : 'pin its CA with software.ca') } : {}),
        });
        throw new HsvError('ERR_SOFTWARE_FETCH', SOFTWARE_FETCH_FAILED);
      }
    },
  };
}

/** The built-in plugin's activate: real ports (NETCONF device driver; RESTCONF or NETCONF PVE client, by pve.transport) from host.config. */
export const activate: ActivateFn = async (host) => {
  const cfg = (host.config ?? {}) as OamPluginConfig;
  const pveCfg = cfg.pve;
  const [{ createPveClient }, { createNetconfPveClient }, { createDeviceDriver }] = await Promise.all([
    import('../pve/index.js'), import('../pve/index.js'), import('../device/index.js')]);
  let pve: PveClient & { close(): void };
  let pveJwks: Jwks;
  if (pveCfg === undefined) {
    // Without a PVE the plugin still serves its modules, state and inventory; the flow cannot trust any
    // H(e)NB, so every integrity-request and software-update is refused with this reason.
    host.log.warn('no PVE is configured: integrity-request and software-update will be refused until the configuration has a pve section');
    pve = unconfiguredPve();
    pveJwks = { keys: [] };
  } else {
    const pveTarget = pveTargetFromConfig(pveCfg);
    if (pveCfg.jwks === undefined) throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: pve.jwks: expected the JWKS file of the PVE keys');
    pveJwks = await loadJwksFile(resolve(baseDirOf(host), pveCfg.jwks));
    const timeoutMs = (pveCfg.timeout ?? 30) * 1000;
    pve = pveTarget !== undefined
      ? createNetconfPveClient({ ...pveTarget, timeoutMs })
      : createPveClient({ url: pveCfg.endpoint, ca: await readPem(pveCfg.ca!, 'pve.ca', baseDirOf(host)), timeoutMs });
  }
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
    ...(pveCfg?.issuer !== undefined ? { pveIssuer: pveCfg.issuer } : {}),
    onClose: async () => {
      await devices.close();
      pve.close();
    },
  }).activate(host);
};

/** The PVE port when none is configured: every request fails with ERR_OAM_NO_PVE, which names the fix. */
function unconfiguredPve(): PveClient & { close(): void } {
  return {
    integrityRequest: () => Promise.reject(new OamConfigError('ERR_OAM_NO_PVE',
      'no PVE is configured: add a pve section (endpoint, ca, jwks) to the serve configuration')),
    close: () => undefined,
  };
}

async function openConfiguredStore(options: OpenStoreOptions): Promise<Store> {
  // imported lazily so that a plugin given a store never loads SQLite (nor pg)
  const { openStore } = await import('../store/index.js');
  return openStore(options);
}
