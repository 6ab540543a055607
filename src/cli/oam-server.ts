/**
 * Assembles the `serve` host: the NETCONF server over SSH (host key kept in the data dir), the users,
 * the YANG validator, the standard operations, and the plugins (the built-in OAM plugin plus any
 * `--plugin PATH`), activated through the plugin host. Used by `serve` and `demo`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import type { NetconfRegistry } from '../netconf/server/registry.js';
import type { ServeConfig } from '../config/load.js';
import type { HostPort } from './args.js';
import { PluginHostRuntime, builtinPluginDir, loadPlugin } from '../plugin/host.js';
import type { LoadedPlugin } from '../plugin/host.js';
import { collectUsers, fingerprintOf } from './users.js';
import type { UserEntry } from './users.js';
import { importComponent } from './lazy.js';

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
}

export interface RunningOamServer {
  address: HostPort;
  /** SHA256:... of the SSH host key */
  fingerprint: string;
  users: string[];
  plugins: Array<{ name: string; version: string }>;
  close(): Promise<void>;
}

interface NetconfServerLike {
  registry: NetconfRegistry;
  listen(host: string, port: number): Promise<unknown>;
  close(): Promise<void>;
  address?(): { address?: string; host?: string; port: number } | null;
}

/** Start everything, or fail having started nothing (whatever opened is closed again). */
export async function startOamServer(opts: OamServerOptions): Promise<RunningOamServer> {
  const { log } = opts;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });

  // load and validate every plugin before anything listens
  const plugins: Array<{ plugin: LoadedPlugin; config: unknown; where?: Array<string | number> }> = [];
  if (opts.builtin !== false) plugins.push({ plugin: await loadPlugin(builtinPluginDir()), config: opts.config.builtin });
  for (const path of opts.pluginPaths ?? []) {
    const plugin = await loadPlugin(path);
    const fromFile = opts.config.plugins.find((p) => p.path === path);
    plugins.push({ plugin, config: fromFile?.config ?? {}, ...(fromFile ? { where: fromFile.where } : {}) });
  }
  for (const p of opts.config.plugins) {
    if (!(opts.pluginPaths ?? []).includes(p.path)) plugins.push({ plugin: await loadPlugin(p.path), config: p.config, where: p.where });
  }

  const users = await collectUsers(opts.config.users, opts.env, opts.dataDir);
  if (users.length === 0) log.warn('no user can log in: set HENB_SW_VERIFY_ADMIN_PASSWORD or configure users (docs/operator-guide.md)');

  const serverMod = await importComponent<{
    createNetconfServer(o: Record<string, unknown>): NetconfServerLike;
    loadOrCreateHostKey(dataDir: string): Promise<unknown>;
  }>('../netconf/server/index.js', 'the NETCONF server (src/netconf/server)', 'createNetconfServer');
  const stdOps = await importComponent<{ registerStandardOperations: (...a: unknown[]) => unknown }>(
    '../netconf/server/standard-ops.js', 'the standard NETCONF operations (src/netconf/server/standard-ops)', 'registerStandardOperations');
  const yangMod = await importComponent<{ loadYang(dir: string): Promise<{ validator: unknown }> }>('../yang/index.js', 'the YANG validator (src/yang)', 'loadYang');

  const hostKey = await serverMod.loadOrCreateHostKey(opts.dataDir);
  const fingerprint = fingerprintOf(hostKeyText(hostKey));
  const { validator } = await yangMod.loadYang(join(builtinPluginDir(), 'yang'));
  const server = serverMod.createNetconfServer({
    hostKeys: [hostKey],
    auth: authFor(users),
    validator,
    log: log.child({ component: 'netconf' }),
    dataDir: opts.dataDir,
    limits: opts.config.limits,
    operations: [stdOps.registerStandardOperations],
  });
  const host = new PluginHostRuntime({ registry: server.registry, log, dataDir: opts.dataDir });
  try {
    for (const p of plugins) {
      await host.activate(p.plugin, p.config, {
        source: opts.config.file ?? 'embedded defaults',
        env: opts.env,
        baseDir: opts.config.baseDir,
        ...(p.where ? { prefix: p.where } : {}),
      });
    }
    host.start();
    const bound = await server.listen(opts.listen.host, opts.listen.port);
    const address = boundAddress(bound, server, opts.listen);
    let closing: Promise<void> | undefined;
    return {
      address,
      fingerprint,
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

function hostKeyText(k: unknown): string | Buffer {
  if (typeof k === 'string' || Buffer.isBuffer(k)) return k;
  const o = k as { privateKey?: string | Buffer; key?: string | Buffer; pem?: string };
  return (o.privateKey ?? o.key ?? o.pem) as string | Buffer;
}

function authFor(users: UserEntry[]): { users: UserEntry[] } {
  return { users };
}

function boundAddress(bound: unknown, server: NetconfServerLike, fallback: HostPort): HostPort {
  const b = (bound ?? server.address?.()) as { address?: string; host?: string; port?: number } | undefined;
  if (b && typeof b.port === 'number') return { host: b.host ?? b.address ?? fallback.host, port: b.port };
  return fallback;
}
