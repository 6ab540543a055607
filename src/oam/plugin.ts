/**
 * The OAM plugin: `activate(host)` (src/plugin/contract.ts) wires the flow to the NETCONF registry.
 *
 * - createOamPlugin(deps) takes the ports from the caller (the demo injects the simulator's driver and the
 *   reference PVE's client); everything else has defaults built from host.dataDir and host.config.
 * - activate (the default export of the built-in plugin) builds the real ports from host.config:
 *     henbs[]   {henb-id, address, port=830, ssh-host-key?, username?, password?, private-key?}  -> device driver
 *     pve       transport=restconf: {endpoint (https://...), ca (PEM file), jwks (JWKS file), issuer?, timeout=30 s}
 *                 -> RESTCONF PVE client (src/pve/client.ts)
 *               transport=netconf:  {endpoint (ssh://HOST[:PORT=830]), ssh-host-key (SHA256:...), username,
 *                 password | private-key, jwks, issuer?, timeout}   -> NETCONF PVE client (src/pve/netconf-client.ts)
 *     software  {ca? (PEM file: https software URIs are trusted only with these CAs),
 *                file-root? (directory: file: URIs outside it are refused before any job starts)}
 *     policies  {self-check=true, on-mismatch=[alarm, rollback], step-timeout=300 s, token-lifetime=86400 s}
 *     store     {driver=sqlite} (a file in host.dataDir) or {driver: postgres, url (postgres://USER@HOST:PORT/DB,
 *                 no password), password? (secret), pool-size=10} -> src/store openStore;
 *               instance-id?, lease=60 s -> the runner's job leases (several instances on one database)
 *   Relative file names resolve against the current directory.
 * Files in host.dataDir: keys/ (the OAM signing key, keys/jwks.json) and, with driver sqlite, the database.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HsvError } from '../errors.js';
import type { ActivateFn, PluginHandle, PluginHost } from '../plugin/contract.js';
import { compileTexts } from '../yang/index.js';
import { fetchAndDigest } from '../integrity/index.js';
import type { Store } from '../store/types.js';
import type { OpenStoreOptions } from '../store/open.js';
import type { Jwks, SigningKey, ReplayCache } from '../tokens/types.js';
import { loadJwksFile, loadOrCreateSigningKey, newNonce as defaultNonce, publishJwks, storeReplayCache } from '../tokens/index.js';
import type { DeviceTarget } from '../device/connect.js';
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
  pve?: {
    endpoint: string; transport?: 'restconf' | 'netconf'; ca?: string; jwks?: string; issuer?: string; timeout?: number;
    /** transport netconf: the PVE's pinned SSH host key, the login and its secret */
    'ssh-host-key'?: string; username?: string; password?: string; 'private-key'?: string;
  };
  software?: { ca?: string; 'file-root'?: string };
  policies?: { 'self-check'?: boolean; 'on-mismatch'?: Measure[]; 'step-timeout'?: number; 'token-lifetime'?: number };
  /** SQLite in the data directory (default) or PostgreSQL (several OAM instances sharing the work) */
  store?: { driver?: 'sqlite' | 'postgres'; url?: string; password?: string; 'pool-size'?: number; 'instance-id'?: string; lease?: number };
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
      // config first: a bad one opens nothing
      const software = await softwareFromConfig(cfg);
      const storeOptions = storeFromConfig(cfg.store, host.dataDir);
      let store = deps.store;
      if (store === undefined) {
        const s = await openConfiguredStore(storeOptions);
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
      const fetcher: SoftwareFetcher = deps.fetcher ?? createSoftwareFetcher(software);
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
}

export async function softwareFromConfig(cfg: OamPluginConfig): Promise<SoftwareOptions> {
  const sw = cfg.software ?? {};
  const out: SoftwareOptions = {};
  if (sw.ca !== undefined) out.caPem = await readPem(sw.ca, 'software.ca');
  if (sw['file-root'] !== undefined) {
    const dir = resolve(sw['file-root']);
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
      out.fileRoot = await realpath(dir);
    } catch (cause) {
      throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: software.file-root: expected a directory, got ${dir}`, { cause });
    }
  }
  return out;
}

/** A CA file of the config (relative to the current directory): PEM certificates, or ERR_OAM_CONFIG naming the field. */
async function readPem(name: string, field: string): Promise<string> {
  const file = resolve(name);
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

/** TLS verification failures of node:tls (the cause's code) */
const TLS_TRUST = /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_[A-Z_]+|[A-Z_]*SELF_SIGNED[A-Z_]*|UNABLE_TO_[A-Z_]+)$/;

function tlsCodeOf(err: unknown): string | undefined {
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_TRUST.test(code)) return code;
  }
  return undefined;
}

/** Step 5 with the config's CA pin and file root (src/integrity fetchAndDigest, streaming). */
export function createSoftwareFetcher(software: SoftwareOptions = {}): SoftwareFetcher {
  return {
    fetchAndDigest: async (uri, signal) => {
      try {
        const r = await fetchAndDigest(uri, {
          signal,
          ...(software.caPem !== undefined ? { caPem: software.caPem } : {}),
          ...(software.fileRoot !== undefined ? { fileRoot: software.fileRoot } : {}),
        });
        return { sha256: r.digest, size: r.size };
      } catch (err) {
        const tls = tlsCodeOf(err);
        if (tls === undefined) throw err;
        // say why the download was refused (the runner shows message and code as the job's reason)
        throw new HsvError('ERR_SOFTWARE_FETCH', `software fetch refused: the https server's certificate is not trusted (${tls}); ` +
          (software.caPem !== undefined ? 'it is not issued by the CA pinned in software.ca' : 'pin its CA with software.ca'), { cause: err });
      }
    },
  };
}

/** The built-in plugin's activate: real ports (NETCONF device driver; RESTCONF or NETCONF PVE client, by pve.transport) from host.config. */
export const activate: ActivateFn = async (host) => {
  const cfg = (host.config ?? {}) as OamPluginConfig;
  const pveCfg = cfg.pve;
  const [{ createPveClient }, { createNetconfPveClient }, { createDeviceDriver }] = await Promise.all([
    import('../pve/client.js'), import('../pve/netconf-client.js'), import('../device/driver.js')]);
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
    pveJwks = await loadJwksFile(resolve(pveCfg.jwks));
    const timeoutMs = (pveCfg.timeout ?? 30) * 1000;
    pve = pveTarget !== undefined
      ? createNetconfPveClient({ ...pveTarget, timeoutMs })
      : createPveClient({ url: pveCfg.endpoint, ca: await readPem(pveCfg.ca!, 'pve.ca'), timeoutMs });
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
  if (pveCfg['ssh-host-key'] === undefined) throw bad('ssh-host-key', 'expected the PVE\'s pinned SSH host key (SHA256:... as OpenSSH prints it) for transport netconf');
  if (pveCfg.username === undefined) throw bad('username', 'expected the NETCONF user name at the PVE for transport netconf');
  if (pveCfg.password === undefined && pveCfg['private-key'] === undefined) throw bad('password', 'expected a password or a private-key (secret references) for transport netconf');
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port !== '' ? Number(url.port) : 830,
    username: pveCfg.username, hostKeySha256: pveCfg['ssh-host-key'],
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
    return { driver: 'sqlite', dataDir };
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
  };
}

async function openConfiguredStore(options: OpenStoreOptions): Promise<Store> {
  // imported lazily so that a plugin given a store never loads SQLite (nor pg)
  const { openStore } = await import('../store/index.js');
  return openStore(options);
}
