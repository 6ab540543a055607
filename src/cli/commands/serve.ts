/** `henb-sw-verify serve`: the NETCONF server over SSH with the OAM plugin (a real deployment). */
import { join } from 'node:path';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, formatHostPort, parseHostPort, str, strs } from '../args.js';
import { CliUsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { defaultServeConfig, loadConfigFile } from '../../config/load.js';
import type { ServeConfig } from '../../config/load.js';
import { builtinPluginDir, loadPlugin } from '../../plugin/host.js';
import { readManifest, validatePluginConfig, checkHostVersion, checkRequires, HOST_SERVICES } from '../../plugin/manifest.js';
import { HOST_API_VERSION } from '../../plugin/contract.js';
import { createLogger } from '../../log/logger.js';
import type { LogLevel, Logger } from '../../log/logger.js';
import { startOamServer } from '../oam-server.js';
import type { RunningOamServer } from '../oam-server.js';
import { startMetricsServer } from '../metrics-server.js';
import type { MetricsServer } from '../metrics-server.js';
import { combinedSchema } from '../../config/schema.js';
import { collectUsers } from '../users.js';
import { resolve } from 'node:path';
import { waitForAbort } from '../../abort.js';
import { callHomeListen, callHomeListenError, checkHost, checkPluginReferences, checkTlsFiles, listenError, prepareDataDir, probeListen } from '../serve-check.js';
import type { HostPort } from '../args.js';

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the OAM NETCONF server (SSH) with the henb-sw-verify plugin',
  usage: '--listen HOST:PORT --data-dir DIR [--config FILE] [--plugin PATH]... [--check]',
  description:
    'Starts the NETCONF server over SSH. On first start it creates an SSH host key in the data dir and keeps it. ' +
    'User admin logs in with the password in HENB_SW_VERIFY_ADMIN_PASSWORD; more users (passwords, public keys) come from the config file ' +
    'and from DIR/authorized_keys (OpenSSH format; a line may start with user="NAME", admin otherwise). ' +
    'Prints exactly one line when it accepts sessions: `henb-sw-verify: listening on HOST:PORT (ssh host key SHA256:..., ssh-ed25519 AAAA...)`: ' +
    'the host key as its fingerprint and as its public key; every --host-key / ssh-host-key takes either form. ' +
    'followed on the same line by `; NETCONF over TLS on HOST:PORT` when the config has a `tls:` section (RFC 7589, default port 6513), ' +
    'and stops cleanly on SIGINT/SIGTERM. --check runs the checks a start makes, without starting anything: config, plugins, ' +
    'the files the config names (pve.ca, pve.jwks, software.*), the data dir (writable or creatable), every address, and the listen address (bound and released). ' +
    'Logs are JSON lines on stderr.',
  options: {
    listen: { type: 'string', value: 'HOST:PORT', help: 'address to listen on (overrides the config file; port 0 picks a free port)' },
    'data-dir': { type: 'string', value: 'DIR', help: 'data directory: host key, running config, database, signing keys (overrides the config file)' },
    config: { type: 'string', short: 'c', value: 'FILE', help: 'configuration file (YAML or JSON), see docs/operator-guide.md' },
    plugin: { type: 'string', multiple: true, value: 'PATH', help: 'load another plugin (a directory with plugin.json)' },
    check: { type: 'boolean', help: 'run the checks a start makes, then exit (0 valid, 2 invalid config, 3 listen address unusable)' },
    'print-schema': { type: 'boolean', help: 'print the JSON Schema of the config file (for editors) and exit' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn, error or silent (overrides the config file)' },
    json: { type: 'boolean', help: 'machine-readable output (the ready line and --check result as JSON)' },
  },
  examples: [
    'HENB_SW_VERIFY_ADMIN_PASSWORD=secret henb-sw-verify serve --listen 127.0.0.1:8830 --data-dir ./data',
    'henb-sw-verify serve --config /etc/henb-sw-verify/config.yaml',
    'henb-sw-verify serve --config config.yaml --check',
  ],
  exitCodes: [EXIT.OK, EXIT.USAGE, EXIT.UNAVAILABLE, EXIT.INTERRUPTED],
  run: runServe,
};

/** what the command line and the config file say, resolved (listen and data dir: the option wins over the file) */
interface ServeSettings {
  manifest: Awaited<ReturnType<typeof readManifest>>;
  config: ServeConfig;
  listen: HostPort | undefined;
  listenKey: string;
  dataDir: string | undefined;
  dataDirKey: string;
  level: string;
  pluginPaths: string[];
  json: boolean;
  check: boolean;
  env: NodeJS.ProcessEnv;
  /** the config file a key comes from (undefined for an option) */
  fileOf(key: string): string | undefined;
}

async function serveSettings(args: ParsedArgs, ctx: CliContext, manifest: ServeSettings['manifest']): Promise<ServeSettings> {
  const configFile = str(args, 'config');
  const config: ServeConfig = configFile ? await loadConfigFile(resolve(ctx.cwd, configFile), { manifest, env: ctx.env }) : defaultServeConfig();
  const listenText = str(args, 'listen') ?? config.listen;
  const dataDirText = str(args, 'data-dir') ?? config.dataDir;
  const level = str(args, 'log-level') ?? config.logLevel;
  if (!LEVELS.includes(level)) throw new CliUsageError(`serve: --log-level expects one of ${LEVELS.join(', ')}, got '${level}'`);
  const pluginPaths = strs(args, 'plugin').map((p) => resolve(ctx.cwd, p));
  const json = bool(args, 'json');

  const listenKey = str(args, 'listen') !== undefined ? '--listen' : 'listen';
  const dataDirKey = str(args, 'data-dir') !== undefined ? '--data-dir' : 'data-dir';
  const fileOf = (key: string): string | undefined => (key.startsWith('--') ? undefined : config.file);
  const listen = listenText !== undefined ? parseListen(listenText, listenKey, fileOf(listenKey)) : undefined;
  const dataDir = dataDirText !== undefined ? resolve(ctx.cwd, dataDirText) : undefined;
  const check = bool(args, 'check');
  if (!check && !listen) throw new CliUsageError('serve: --listen HOST:PORT is required (or `listen:` in the config file)');
  if (!check && !dataDir) throw new CliUsageError('serve: --data-dir DIR is required (or `data-dir:` in the config file)');
  return { manifest, config, listen, listenKey, dataDir, dataDirKey, level, pluginPaths, json, check, env: ctx.env, fileOf };
}

/** what the checks resolved: the extra plugins, and the other addresses the server would listen on */
interface Checked {
  extra: Array<{ path: string; config: unknown; where: Array<string | number> | undefined }>;
  tlsListen: HostPort | undefined;
  metricsListen: HostPort | undefined;
  chListen: HostPort | undefined;
}

/** the same checks for --check and for a start (src/cli/serve-check.ts): what --check accepts, start accepts */
async function checkServe(s: ServeSettings): Promise<Checked> {
  const { manifest, config, pluginPaths } = s;
  validatePluginConfig(manifest, config.builtin, config.file);
  checkHostVersion(manifest, HOST_API_VERSION);
  const extra = [...pluginPaths.map((p) => ({ path: p, config: config.plugins.find((c) => c.path === p)?.config ?? {}, where: undefined as Array<string | number> | undefined })), ...config.plugins.filter((p) => !pluginPaths.includes(p.path))];
  for (const p of extra) {
    const loaded = await loadPlugin(p.path);
    checkHostVersion(loaded.manifest, HOST_API_VERSION);
    checkRequires(loaded.manifest, HOST_SERVICES);
    validatePluginConfig(loaded.manifest, p.config, config.file, p.where);
  }
  await checkPluginReferences(config);
  await checkTlsFiles(config);
  const tlsListen = config.tls ? parseListen(config.tls.listen ?? `${hostForPort(s.listen?.host ?? '127.0.0.1')}:6513`, 'tls.listen', config.file) : undefined;
  if (s.dataDir !== undefined) await prepareDataDir(s.dataDir, s.dataDirKey, { create: !s.check, file: s.fileOf(s.dataDirKey) });
  const metricsListen = config.metrics !== undefined ? parseListen(config.metrics.listen, 'metrics.listen', config.file) : undefined;
  return { extra, tlsListen, metricsListen, chListen: callHomeListen(config) };
}

/** --check: every address bound and released at once (a port in use fails here, as it would at start), then the summary */
async function reportCheck(s: ServeSettings, c: Checked, ctx: CliContext): Promise<number> {
  const { config, listen, dataDir } = s;
  if (listen) await probeListen(listen, s.listenKey, s.fileOf(s.listenKey));
  if (c.metricsListen) await probeListen(c.metricsListen, 'metrics.listen', config.file);
  if (c.tlsListen) await probeListen(c.tlsListen, 'tls.listen', config.file);
  if (c.chListen) await probeListen(c.chListen, 'call-home.listen', config.file);
  const users = dataDir ? await collectUsers(config.users, ctx.env, dataDir) : config.users;
  const henbs = ((config.builtin.henbs as unknown[] | undefined) ?? []).length;
  const summary = { ok: true, file: config.file ?? null, listen: listen ? formatHostPort(listen) : null, dataDir: dataDir ?? null, users: users.map((u) => u.name), henbs, plugins: [s.manifest.name, ...c.extra.map((p) => p.path)] };
  if (s.json) ctx.stdout.write(JSON.stringify(summary) + '\n');
  else ctx.stdout.write(`henb-sw-verify: configuration OK${config.file ? ` (${config.file})` : ''}: ${henbs} H(e)NB(s), users ${summary.users.join(', ') || '(none)'}, plugins ${summary.plugins.length}\n`);
  return EXIT.OK;
}

/** startOamServer, an unusable address named as the key it came from (listen, tls.listen, call-home.listen) */
function startServer(s: ServeSettings, c: Checked, listen: HostPort, dataDir: string, log: Logger): Promise<RunningOamServer> {
  const { config, pluginPaths } = s;
  const { tlsListen, chListen } = c;
  return startOamServer({ listen, dataDir, config, env: s.env, log, pluginPaths, ...(tlsListen ? { tlsListen } : {}) }).catch((err: unknown) => {
    if (tlsListen && (err as { tlsListen?: boolean } | null)?.tlsListen === true) throw listenError((err as { cause?: unknown }).cause, tlsListen, 'tls.listen', config.file);
    if (chListen) {
      const mapped = callHomeListenError(err, chListen, config.file);
      if (mapped !== err) throw mapped;
    }
    throw listenError(err, listen, s.listenKey, s.fileOf(s.listenKey));
  });
}

/** the metrics endpoint (config metrics.listen), or the server closed again and the address named */
async function startMetrics(server: RunningOamServer, metricsListen: HostPort | undefined, log: Logger, file: string | undefined): Promise<MetricsServer | undefined> {
  if (!metricsListen) return undefined;
  try {
    return await startMetricsServer(metricsListen, log.child({ component: 'metrics' }));
  } catch (err) {
    await server.close();
    throw listenError(err, metricsListen, 'metrics.listen', file);
  }
}

const reasonOf = (signal: AbortSignal): string => String((signal.reason as Error | undefined)?.message ?? signal.reason);

async function runServe(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
  if (bool(args, 'print-schema')) {
    ctx.stdout.write(JSON.stringify(combinedSchema(manifest.configSchema), null, 2) + '\n');
    return EXIT.OK;
  }
  const s = await serveSettings(args, ctx, manifest);
  const c = await checkServe(s);
  if (s.check) return reportCheck(s, c, ctx);
  const { listen, dataDir, json } = s;
  if (!listen || !dataDir) throw new CliUsageError('serve: --listen and --data-dir are required');

  const log = createLogger({ level: s.level as LogLevel, write: (l) => ctx.stderr.write(l) });
  // a signal while starting stops the start: whatever opened is closed once the start returns
  const starting = startServer(s, c, listen, dataDir, log);
  const started = await Promise.race([starting, waitForAbort(ctx.signal).then(() => undefined)]);
  if (started === undefined) {
    log.warn('interrupted while starting', { reason: reasonOf(ctx.signal) });
    void starting.then((x) => x.close(), () => undefined);
    return EXIT.INTERRUPTED;
  }
  const server = started;
  const metricsServer = await startMetrics(server, c.metricsListen, log, s.config.file);
  const readyExtra = { publicKey: server.publicKey, ...(metricsServer ? { metrics: metricsServer.address } : {}) };
  ctx.stdout.write(readyLine(server.address, server.fingerprint, json, readyExtra, server.tlsAddress) +
    (metricsServer && !json ? `; metrics http://${formatHostPort(metricsServer.address)}/metrics` : '') + '\n');
  await waitForAbort(ctx.signal);
  log.info('shutting down', { reason: reasonOf(ctx.signal) });
  await metricsServer?.close();
  await server.close();
  return EXIT.OK;
}

export function readyLine(address: { host: string; port: number }, fingerprint: string, json: boolean, extra: Record<string, unknown> = {}, tls?: { host: string; port: number }): string {
  if (json) return JSON.stringify({ event: 'listening', host: address.host, port: address.port, hostKey: fingerprint, ...extra, ...(tls ? { tls: { host: tls.host, port: tls.port } } : {}) });
  // both forms of the host key: the fingerprint (rollout --host-key, ssh-keygen -lf) and the public key (known_hosts,
  // ncclient hostkey_b64); every place that pins a key takes either
  const pub = typeof extra.publicKey === 'string' ? `, ${extra.publicKey}` : '';
  return `henb-sw-verify: listening on ${formatHostPort(address)} (ssh host key ${fingerprint}${pub})${tls ? `; NETCONF over TLS on ${formatHostPort(tls)}` : ''}`;
}

/** a host as it goes before `:PORT` (IPv6 in brackets) */
function hostForPort(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}


/** HOST:PORT of --listen or `listen:`; a malformed one is a usage error naming where it came from */
function parseListen(text: string, key: string, file: string | undefined): HostPort {
  const hp = parseHostPort(text, file !== undefined ? `${file}: ${key}` : key);
  checkHost(hp.host, key, file);
  return hp;
}
