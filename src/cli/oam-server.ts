/**
 * Assembles the `serve` host: the NETCONF server over SSH (host key kept in the data dir), the users,
 * the YANG validator, the standard operations, and the plugins (the built-in OAM plugin plus any
 * `--plugin PATH`), activated through the plugin host. Used by `serve` and `demo`.
 */
import { metrics } from '../metrics/index.js';
import { mkdir, readFile } from 'node:fs/promises';
import { NETCONF_TLS_PORT } from '../netconf/tls/index.js';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { createNetconfServer, hostKeyFingerprint, loadOrCreateHostKey, parseSshKey, registerStandardOperations } from '../netconf/server/index.js';
import type { NetconfServer, NetconfServerLimits, NetconfTlsOptions, ServerObserver } from '../netconf/server/index.js';
import { loadYang } from '../yang/index.js';
import type { ServeConfig } from '../config/load.js';
import type { HostPort } from './args.js';
import { PluginHostRuntime, builtinPluginDir, loadPlugin } from '../plugin/host.js';
import type { LoadedPlugin } from '../plugin/host.js';
import { DEVICE_GROUP, collectUsers } from './users.js';

export interface OamServerOptions {
  listen: HostPort;
  dataDir: string;
  config: ServeConfig;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** load the built-in OAM plugin (default true) */
  builtin?: boolean;
  /** plugins given with --plugin (directories); their config comes from the config file's plugins list */
  pluginPaths?: string[];
  /** NETCONF over TLS address (when config.tls is set); default the listen host, port 6513 */
  tlsListen?: HostPort;
}

export interface RunningOamServer {
  address: HostPort;
  /** SHA256:... of the SSH host key */
  fingerprint: string;
  /** the host public key, `ssh-ed25519 AAAA...` (for known_hosts, ncclient's hostkey_b64) */
  publicKey: string;
  /** NETCONF over TLS, when config.tls is set */
  tlsAddress?: HostPort;
  users: string[];
  plugins: Array<{ name: string; version: string }>;
  close(): Promise<void>;
}

interface PluginToActivate {
  plugin: LoadedPlugin;
  config: unknown;
  where?: Array<string | number>;
}

/** Load and validate every plugin (the built-in one, --plugin ones, the config file's) before anything listens. */
async function loadPlugins(opts: OamServerOptions): Promise<PluginToActivate[]> {
  const plugins: PluginToActivate[] = [];
  if (opts.builtin !== false) {
    // always loaded: without a pve section the plugin serves its modules, state and inventory and refuses
    // integrity-request / software-update with ERR_OAM_NO_PVE (it logs why)
    plugins.push({ plugin: await loadPlugin(builtinPluginDir()), config: opts.config.builtin });
  }
  for (const path of opts.pluginPaths ?? []) {
    const plugin = await loadPlugin(path);
    const fromFile = opts.config.plugins.find((p) => p.path === path);
    plugins.push({ plugin, config: fromFile?.config ?? {}, ...(fromFile ? { where: fromFile.where } : {}) });
  }
  for (const p of opts.config.plugins) {
    if (!(opts.pluginPaths ?? []).includes(p.path)) plugins.push({ plugin: await loadPlugin(p.path), config: p.config, where: p.where });
  }
  return plugins;
}

/** the server's limits: the config's limits section, then its ssh section */
function serverLimits(config: ServeConfig): NetconfServerLimits {
  const limits: NetconfServerLimits = {};
  if (config.limits.maxSessions !== undefined) limits.maxSessions = config.limits.maxSessions;
  if (config.limits.helloTimeoutMs !== undefined) limits.helloTimeoutMs = config.limits.helloTimeoutMs;
  if (config.limits.idleTimeoutMs !== undefined) limits.idleTimeoutMs = config.limits.idleTimeoutMs;
  if (config.limits.maxMessageSize !== undefined) limits.maxMessageBytes = config.limits.maxMessageSize;
  const ssh = config.ssh ?? {};
  if (ssh.loginGraceMs !== undefined) limits.authTimeoutMs = ssh.loginGraceMs;
  if (ssh.maxUnauthenticated !== undefined) limits.maxUnauthenticated = ssh.maxUnauthenticated;
  if (ssh.maxSessionsPerConnection !== undefined) limits.maxSessionsPerConnection = ssh.maxSessionsPerConnection;
  if (ssh.maxSessionsPerUser !== undefined) limits.maxSessionsPerUser = ssh.maxSessionsPerUser;
  if (config.limits.xml !== undefined) limits.xml = config.limits.xml;
  return limits;
}

/** the config's tls files, read (undefined without a tls section) */
async function readTls(config: ServeConfig): Promise<NetconfTlsOptions | undefined> {
  const tlsConfig = config.tls;
  return tlsConfig ? {
    cert: await readFile(tlsConfig.cert, 'utf8'),
    key: await readFile(tlsConfig.key, 'utf8'),
    ca: await readFile(tlsConfig.ca, 'utf8'),
    certToName: tlsConfig.certToName,
  } : undefined;
}

/** sessions, RPCs by operation and error-tag, failed logins: the process's metrics (served when `metrics:` is set) */
const metricsObserver: ServerObserver = {
  sessionOpened: () => { metrics.netconfSessions.inc(); metrics.netconfSessionsTotal.inc(); },
  sessionClosed: () => metrics.netconfSessions.dec(),
  rpcAnswered: (operation, errorTag) => metrics.rpcs.inc({ operation, error_tag: errorTag ?? 'none' }),
  loginFailed: (method) => metrics.failedLogins.inc({ method }),
};

interface ServerParts {
  hostKey: ReturnType<typeof loadOrCreateHostKey>;
  users: Awaited<ReturnType<typeof collectUsers>>;
  tls: NetconfTlsOptions | undefined;
}

/** The NETCONF server (not listening yet): users, YANG validator, limits, metrics, the standard operations with NACM. */
async function createServer(opts: OamServerOptions, { hostKey, users, tls }: ServerParts): Promise<NetconfServer> {
  const groupsOf = new Map(users.map((u) => [u.name, u.groups]));
  const { validator, modules: yangModules } = await loadYang(join(builtinPluginDir(), 'yang'));
  // the OAM module's namespace (for the device binding of completion-tim), from the module itself
  const hsvNs = yangModules.find((m) => m.name === 'henb-sw-verify')?.namespace;
  const netconfLog = opts.log.child({ component: 'netconf' });
  const ssh = opts.config.ssh ?? {};
  return createNetconfServer({
    ...(tls ? { tls } : {}),
    hostKeys: [hostKey],
    auth: { users: users.map((u) => ({ username: u.name, ...(u.password !== undefined ? { password: u.password } : {}), authorizedKeys: u.publicKeys })) },
    validator,
    log: netconfLog,
    dataDir: opts.dataDir,
    limits: serverLimits(opts.config),
    ssh: { ...(ssh.macs ? { macs: ssh.macs } : {}), ...(ssh.penalties ? { penalties: ssh.penalties } : {}) },
    observer: metricsObserver,
    operations: [(reg) => registerStandardOperations(reg, {
      log: netconfLog, ietfYangDir: join(builtinPluginDir(), 'yang', 'ietf'), nmdaYangDir: join(builtinPluginDir(), 'yang-library'),
      // RFC 8341 access control; completion-tim of a device identity is bound to its own H(e)NB
      nacm: {
        externalGroups: (name) => groupsOf.get(name) ?? [],
        boundRpcs: hsvNs ? [{ ns: hsvNs, rpc: 'completion-tim', leaf: 'henb-id', group: DEVICE_GROUP }] : [],
      },
    })],
  });
}

/** Activate the plugins through the plugin host, start it, then listen (SSH, and TLS when configured). */
async function activateAndListen(opts: OamServerOptions, server: NetconfServer, host: PluginHostRuntime, plugins: PluginToActivate[], tls: boolean): Promise<{ address: HostPort; tlsAddress?: HostPort }> {
  for (const p of plugins) {
    await host.activate(p.plugin, p.config, {
      source: opts.config.file ?? 'embedded defaults',
      env: opts.env,
      baseDir: opts.config.baseDir,
      ...(p.where ? { prefix: p.where } : {}),
    });
  }
  host.start();
  const address = await server.listen(opts.listen.host, opts.listen.port);
  if (!tls) return { address };
  const at = opts.tlsListen ?? { host: opts.listen.host, port: NETCONF_TLS_PORT };
  // marked, so that the caller names tls.listen (not listen) when this address is unusable
  const tlsAddress = await server.listenTls(at.host, at.port).catch((err: unknown) => {
    throw Object.assign(new Error(`cannot listen on ${at.host}:${at.port} for NETCONF over TLS`, { cause: err }), { tlsListen: true });
  });
  return { address, tlsAddress };
}

/** Start everything, or fail having started nothing (whatever opened is closed again). */
export async function startOamServer(opts: OamServerOptions): Promise<RunningOamServer> {
  const { log } = opts;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const plugins = await loadPlugins(opts);
  const users = await collectUsers(opts.config.users, opts.env, opts.dataDir);
  if (users.length === 0) log.warn('no user can log in: set HENB_SW_VERIFY_ADMIN_PASSWORD or configure users (docs/operator-guide.md)');
  const hostKey = loadOrCreateHostKey(opts.dataDir);
  const parsedKey = parseSshKey(hostKey);
  const tls = await readTls(opts.config);
  const server = await createServer(opts, { hostKey, users, tls });
  const host = new PluginHostRuntime({
    registry: server.registry, log, dataDir: opts.dataDir,
    ...(opts.config.limits.pluginActivationMs !== undefined ? { activationTimeoutMs: opts.config.limits.pluginActivationMs } : {}),
  });
  try {
    const listening = await activateAndListen(opts, server, host, plugins, tls !== undefined);
    let closing: Promise<void> | undefined;
    return {
      ...listening,
      fingerprint: hostKeyFingerprint(hostKey),
      publicKey: `${parsedKey.type} ${parsedKey.getPublicSSH().toString('base64')}`,
      users: users.map((u) => u.name),
      plugins: host.plugins(),
      close: () =>
        (closing ??= (async () => {
          await server.close().catch((err: unknown) => log.error('server close failed', { err }));
          await host.close().catch((err: unknown) => log.error('plugin close failed', { err }));
        })()),
    };
  } catch (err) {
    await server.close().catch(() => undefined);
    await host.close().catch(() => undefined);
    throw err;
  }
}
