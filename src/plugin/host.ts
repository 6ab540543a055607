/**
 * The plugin host (avvio style): loads a plugin (the built-in one or `--plugin PATH`), validates its
 * manifest and configuration BEFORE running any of its code, activates it with a time limit inside its
 * own scope, seals every scope at start, and closes plugins in reverse order.
 *
 * Scope: each plugin gets a view of the server's NetconfRegistry that
 * - refuses to register an RPC, state node, stream or module another owner registered (ERR_PLUGIN_CONFLICT),
 * - refuses streams and modules its manifest does not declare (ERR_PLUGIN_UNDECLARED),
 * - refuses notifications on streams it does not own, except NETCONF (ERR_PLUGIN_SCOPE),
 * - refuses any registration after start (ERR_PLUGIN_SEALED) and everything after its close (ERR_PLUGIN_CLOSED).
 */
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ActivateFn, PluginHandle, PluginHost } from './contract.js';
import { HOST_API_VERSION } from './contract.js';
import type { NetconfRegistry, ReplayLog, StreamInfo, YangModuleInfo, ConfigListener, ServerAuditEvent } from './contract.js';
import type { Logger } from '../log/logger.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { PluginError } from './errors.js';
import { resolveSecrets } from '../config/secrets.js';
import { HOST_SERVICES, checkHostVersion, checkRequires, readManifest, validatePluginConfig } from './manifest.js';
import type { PluginManifest } from './manifest.js';

export interface LoadedPlugin {
  manifest: PluginManifest;
  /** the directory the manifest's relative paths resolve against */
  dir: string;
  activate: ActivateFn;
}

/** The directory of the built-in plugin (the package root, where plugin.json is). */
export function builtinPluginDir(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

/**
 * Load a plugin from a directory holding plugin.json (or the path of a plugin.json). The manifest is
 * validated and its YANG files checked before the entry module is imported.
 */
export async function loadPlugin(path: string): Promise<LoadedPlugin> {
  const abs = resolve(path);
  let manifestFile = abs;
  try {
    if ((await stat(abs)).isDirectory()) manifestFile = join(abs, 'plugin.json');
  } catch (err) {
    throw new PluginError('ERR_PLUGIN_LOAD', `no plugin at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const manifest = await readManifest(manifestFile);
  const dir = dirname(manifestFile);
  for (const [i, mod] of manifest.yang.modules.entries()) {
    try {
      await access(join(dir, mod.file));
    } catch (err) {
      throw new PluginError('ERR_PLUGIN_MANIFEST', `${manifestFile}: yang.modules[${i}].file: expected an existing file, got ${JSON.stringify(mod.file)}`, { cause: err });
    }
  }
  const entry = join(dir, manifest.entry);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (err) {
    throw new PluginError('ERR_PLUGIN_LOAD', `cannot load the entry ${manifest.entry} of plugin ${manifest.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const def = mod.default as { activate?: unknown } | ((...a: unknown[]) => unknown) | undefined;
  const activate = typeof mod.activate === 'function' ? mod.activate : typeof def === 'function' ? def : def?.activate;
  if (typeof activate !== 'function') {
    throw new PluginError('ERR_PLUGIN_LOAD', `the entry ${manifest.entry} of plugin ${manifest.name} exports no activate(host) function`);
  }
  return { manifest, dir, activate: activate as ActivateFn };
}

export interface PluginHostOptions {
  /** the server's registry; plugins get scoped views of it */
  registry: NetconfRegistry;
  log: Logger;
  /** the host's data directory; a plugin gets `<dataDir>/plugins/<name>` */
  dataDir: string;
  /** the contract version this host implements (default HOST_API_VERSION) */
  apiVersion?: string;
  /** services this host provides (default: logger, store, netconf-registry) */
  provides?: readonly string[];
  /** upper bound of one activation in ms (default 10 s; a manifest may ask for less, not more) */
  activationTimeoutMs?: number;
  /** upper bound of one plugin's close in ms (default 10 s) */
  closeTimeoutMs?: number;
}

export interface ActivatePluginOptions {
  /** the file the config came from, for error messages */
  source?: string;
  /** where the plugin's section is inside that file */
  prefix?: Array<string | number>;
  /** environment for `{env: NAME}` secret references (default process.env) */
  env?: NodeJS.ProcessEnv;
  /**
   * the directory relative file names of the config are relative to (the config file's): `{file: PATH}` secret
   * references here, the plugin's own file names by the plugin (PluginHost.baseDir). Default the current directory.
   */
  baseDir?: string;
}

interface Active {
  name: string;
  version: string;
  scope: Scope;
  handle: PluginHandle;
  controller: AbortController;
}

type OwnerKind = 'rpc' | 'state' | 'stream' | 'module' | 'replay-log';

/** a capability the manifest declares (?module=NAME) whose module the plugin did not register: a warning */
function warnUnregisteredModules(manifest: PluginManifest, scope: Scope, log: Logger): void {
  for (const cap of manifest.capabilities) {
    const m = /[?&]module=([^&]+)/.exec(cap);
    if (m && !scope.registered.has(`module\u0000${decodeURIComponent(m[1] ?? '')}`)) {
      log.warn('declared capability has no registered module', { capability: cap });
    }
  }
}

/** Runs plugins: validate, activate (time-limited, scoped), seal, close in reverse order. */
export class PluginHostRuntime {
  private readonly owners = new Map<string, string>();
  private readonly active: Active[] = [];
  private sealed = false;
  private closing: Promise<void> | undefined;
  private readonly apiVersion: string;

  constructor(private readonly opts: PluginHostOptions) {
    this.apiVersion = opts.apiVersion ?? HOST_API_VERSION;
  }

  /** names and versions of the active plugins, in activation order */
  plugins(): Array<{ name: string; version: string }> {
    return this.active.map((a) => ({ name: a.name, version: a.version }));
  }

  /**
   * Validate the manifest against this host and the config against the manifest's schema, then
   * activate the plugin in its own scope with a time limit. Nothing of the plugin runs when a check fails.
   */
  async activate(plugin: LoadedPlugin, rawConfig: unknown, options: ActivatePluginOptions = {}): Promise<void> {
    const { manifest } = plugin;
    this.checkActivatable(manifest);
    const valid = validatePluginConfig(manifest, rawConfig, options.source, options.prefix);
    // secrets are resolved only after validation, and only for the plugin
    const baseDir = resolve(options.baseDir ?? process.cwd());
    const config = await resolveSecrets(valid, options.env ?? process.env, baseDir, options.source ?? `${manifest.name} config`, options.prefix ?? []);

    const dataDir = join(this.opts.dataDir, 'plugins', manifest.name);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const controller = new AbortController();
    const log = this.opts.log.child({ plugin: manifest.name });
    const scope = new Scope(manifest, this.opts.registry, this.owners, () => this.sealed);
    const host: PluginHost = Object.freeze({ apiVersion: this.apiVersion, registry: scope, log, dataDir, config, baseDir, signal: controller.signal });

    const handle = await this.timedActivate(plugin, host, scope, controller, log);
    if (!handle || typeof handle.close !== 'function') {
      scope.close();
      controller.abort();
      throw new PluginError('ERR_PLUGIN_ACTIVATE', `plugin ${manifest.name}: activate() must resolve to a handle with close()`);
    }
    this.active.push({ name: manifest.name, version: manifest.version, scope, handle, controller });
    warnUnregisteredModules(manifest, scope, log);
    log.info('plugin active', { version: manifest.version });
  }

  /** the host is open and not started, the plugin not active yet; its manifest fits this host's API and services */
  private checkActivatable(manifest: PluginManifest): void {
    if (this.closing) throw new PluginError('ERR_PLUGIN_CLOSED', `the host is closed; cannot activate ${manifest.name}`);
    if (this.sealed) throw new PluginError('ERR_PLUGIN_SEALED', `the host has started; cannot activate ${manifest.name}`);
    if (this.active.some((a) => a.name === manifest.name)) {
      throw new PluginError('ERR_PLUGIN_DUPLICATE', `plugin ${manifest.name} is already active`);
    }
    checkHostVersion(manifest, this.apiVersion);
    checkRequires(manifest, this.opts.provides ?? HOST_SERVICES);
  }

  /**
   * The plugin's activate(host) within the time limit (the manifest's, at most the host's). On a failure its scope
   * is closed and its signal aborted; one that finishes after its time limit is closed at once.
   */
  private async timedActivate(plugin: LoadedPlugin, host: PluginHost, scope: Scope, controller: AbortController, log: Logger): Promise<PluginHandle> {
    const { manifest } = plugin;
    const limit = Math.min(manifest.activationTimeoutMs ?? Infinity, this.opts.activationTimeoutMs ?? 10_000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const started = plugin.activate(host);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new PluginError('ERR_PLUGIN_TIMEOUT', `plugin ${manifest.name} did not finish activating within ${limit} ms`));
      }, limit);
    });
    try {
      return await Promise.race([started, timeout]);
    } catch (err) {
      scope.close();
      controller.abort(err);
      if (timedOut) {
        // it may still finish: release whatever it opened
        started.then((h) => h.close()).catch((e: unknown) => log.warn('late activation failed', { err: e }));
        throw err;
      }
      if (err instanceof PluginError) throw err;
      throw new PluginError('ERR_PLUGIN_ACTIVATE', `plugin ${manifest.name} failed to activate: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Seal every scope: no plugin can register anything from now on. */
  start(): void {
    this.sealed = true;
  }

  /**
   * Abort every plugin's signal, then close plugins in reverse activation order (each with a time
   * limit). Idempotent. Rejects with ERR_PLUGIN_CLOSE after all have been tried when any close failed.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    this.sealed = true;
    const errors: unknown[] = [];
    for (const a of [...this.active].reverse()) a.controller.abort(new Error('host shutting down'));
    for (const a of [...this.active].reverse()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = this.opts.closeTimeoutMs ?? 10_000;
      try {
        await Promise.race([
          a.handle.close(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new PluginError('ERR_PLUGIN_TIMEOUT', `plugin ${a.name} did not close within ${limit} ms`)), limit);
          }),
        ]);
      } catch (err) {
        errors.push(err);
        this.opts.log.error('plugin close failed', { plugin: a.name, err });
      } finally {
        clearTimeout(timer);
        a.scope.close();
      }
    }
    this.active.length = 0;
    if (errors.length > 0) {
      throw new PluginError('ERR_PLUGIN_CLOSE', `${errors.length} plugin(s) failed to close`, { cause: new AggregateError(errors) });
    }
  }
}

/** One plugin's view of the registry. */
class Scope implements NetconfRegistry {
  readonly registered = new Set<string>();
  private closed = false;

  constructor(
    private readonly manifest: PluginManifest,
    private readonly target: NetconfRegistry,
    private readonly owners: Map<string, string>,
    private readonly isSealed: () => boolean,
  ) {}

  /** namespaces of the modules this plugin implements (what it may seed in running) */
  private readonly implementedNs = new Set<string>();

  close(): void {
    this.closed = true;
  }

  private guard(what: string): void {
    if (this.closed) throw new PluginError('ERR_PLUGIN_CLOSED', `plugin ${this.manifest.name} is closed; cannot ${what}`);
    if (this.isSealed()) throw new PluginError('ERR_PLUGIN_SEALED', `plugin ${this.manifest.name}: cannot ${what} after the host has started`);
  }

  /** claim a name for this plugin, or fail when someone else owns it; false when this plugin already shares it */
  private claim(kind: OwnerKind, key: string, label: string, shareable = false): boolean {
    const k = `${kind}\u0000${key}`;
    const owner = this.owners.get(k);
    if (owner !== undefined) {
      if (shareable) return false;
      throw new PluginError('ERR_PLUGIN_CONFLICT', `plugin ${this.manifest.name} cannot register ${kind} ${label}: already registered by ${owner === this.manifest.name ? 'itself' : `plugin ${owner}`}`);
    }
    this.owners.set(k, this.manifest.name);
    this.registered.add(k);
    return true;
  }

  addRpc(ns: string, name: string, handler: Parameters<NetconfRegistry['addRpc']>[2]): void {
    this.guard(`add rpc ${name}`);
    this.claim('rpc', `${ns} ${name}`, `{${ns}}${name}`);
    this.target.addRpc(ns, name, handler);
  }

  addState(ns: string, name: string, provider: Parameters<NetconfRegistry['addState']>[2]): void {
    this.guard(`add state ${name}`);
    this.claim('state', `${ns} ${name}`, `{${ns}}${name}`);
    this.target.addState(ns, name, provider);
  }

  addStream(info: StreamInfo): void {
    this.guard(`add stream ${info.name}`);
    if (info.name === 'NETCONF' || !this.manifest.streams.some((s) => s.name === info.name)) {
      throw new PluginError('ERR_PLUGIN_UNDECLARED', `plugin ${this.manifest.name} adds stream ${info.name}, which its plugin.json does not declare in streams`);
    }
    this.claim('stream', info.name, info.name);
    this.target.addStream(info);
  }

  addModule(module: YangModuleInfo): void {
    this.guard(`add module ${module.name}`);
    const declared = this.manifest.yang.modules.find((m) => m.name === module.name && m.revision === module.revision);
    if (!declared) {
      throw new PluginError('ERR_PLUGIN_UNDECLARED', `plugin ${this.manifest.name} adds module ${module.name}@${module.revision}, which its plugin.json does not declare in yang.modules`);
    }
    // import-only modules may be shared by several plugins (same name and revision)
    const importOnly = module.implemented === false;
    const key = importOnly ? `${module.name}@${module.revision}` : module.name;
    if (importOnly && this.owners.has(`module\u0000${module.name}`)) {
      throw new PluginError('ERR_PLUGIN_CONFLICT', `plugin ${this.manifest.name} cannot register module ${module.name}: implemented by plugin ${this.owners.get(`module\u0000${module.name}`)}`);
    }
    if (!importOnly && [...this.owners.keys()].some((k) => k.startsWith(`module\u0000${module.name}@`))) {
      throw new PluginError('ERR_PLUGIN_CONFLICT', `plugin ${this.manifest.name} cannot implement module ${module.name}: another plugin imports it`);
    }
    if (!this.claim('module', key, module.name, importOnly)) {
      this.registered.add(`module\u0000${key}`);
      return;
    }
    if (!importOnly) {
      this.registered.add(`module\u0000${module.name}`);
      this.implementedNs.add(module.namespace);
    }
    this.target.addModule(module);
  }

  notify(stream: string, event: XmlElement, eventTime?: Date): Promise<void> {
    if (this.closed) return Promise.reject(new PluginError('ERR_PLUGIN_CLOSED', `plugin ${this.manifest.name} is closed; cannot notify`));
    if (stream !== 'NETCONF' && this.owners.get(`stream\u0000${stream}`) !== this.manifest.name) {
      return Promise.reject(new PluginError('ERR_PLUGIN_SCOPE', `plugin ${this.manifest.name} cannot notify on stream ${stream}: it does not own it`));
    }
    return this.target.notify(stream, event, eventTime);
  }

  setReplayLog(log: ReplayLog): void {
    this.guard('set the replay log');
    if (this.target.setReplayLog === undefined) throw new PluginError('ERR_PLUGIN_SCOPE', `plugin ${this.manifest.name}: this host keeps no replay log a plugin can provide`);
    this.claim('replay-log', 'replay-log', 'the replay log');
    this.target.setReplayLog(log);
  }

  getRunning(): XmlElement {
    return this.target.getRunning();
  }

  seedRunning(node: XmlElement): Promise<boolean> {
    this.guard(`seed configuration ${node.name}`);
    if (!this.implementedNs.has(node.ns)) {
      return Promise.reject(new PluginError('ERR_PLUGIN_SCOPE', `plugin ${this.manifest.name} cannot seed ${node.name}: it implements no module of namespace ${node.ns}`));
    }
    return this.target.seedRunning?.(node) ?? Promise.resolve(false);
  }

  onConfigChange(listener: ConfigListener): void {
    this.guard('listen to config changes');
    this.target.onConfigChange((running) => (this.closed ? undefined : listener(running)));
  }

  onAudit(listener: (event: ServerAuditEvent) => void): void {
    this.guard('listen to audit events');
    this.target.onAudit?.((e) => (this.closed ? undefined : listener(e)));
  }
}
