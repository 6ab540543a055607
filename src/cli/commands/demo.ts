/**
 * `henb-sw-verify demo` (and `npm start`): the OAM server, the reference PVE and a simulated fleet in one
 * process on embedded defaults. Without --listen it runs one update over the fleet and exits 0 only when
 * every device ends as its profile predicts; with --listen it prints a ready line and keeps serving.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { withFreePort } from '../../free-port.js';
import type { HostPort } from '../../host-port.js';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, formatHostPort, int, parseHostPort, str } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { colors } from '../color.js';
import { ProgressBar } from '../progress.js';
import { importComponent } from '../lazy.js';
import { createLogger } from '../../log/logger.js';
import type { Logger, LogLevel } from '../../log/logger.js';
import { DEFAULT_FLEET, fleetNames, parseFleet, parseTrustRoot } from '../fleet-spec.js';
import type { FleetEntry } from '../fleet-spec.js';
import { defaultServeConfig } from '../../config/load.js';
import { startOamServer } from '../oam-server.js';
import type { RunningOamServer } from '../oam-server.js';
import { ADMIN_PASSWORD_ENV } from '../users.js';
import { readyLine } from './serve.js';
import { planWaves, runRollout } from '../rollout/engine.js';
import { summarize } from '../rollout/report.js';
import type { ResultStatus, RolloutReport } from '../rollout/report.js';
import { deviceTable, summaryTable } from '../rollout/render.js';
import type { ConnectOptions, RolloutConnection } from './rollout.js';
import { waitForAbort } from '../../abort.js';
import { CliUsageError } from '../errors.js';

/** what each profile must end as after one update (the demo's pass criterion) */
export const EXPECTED_STATUS: Record<string, ResultStatus> = {
  healthy: 'verified',
  compromised: 'refused',
  'healthy-reboot': 'verified',
  'bad-install': 'mismatch',
  'bad-install-reboot': 'mismatch',
  'self-check-fail': 'mismatch',
  unreachable: 'timeout',
  slow: 'timeout',
};

export const demoCommand: Command = {
  name: 'demo',
  summary: 'OAM server + reference PVE + simulated fleet in one process (embedded defaults)',
  usage: '[--fleet PROFILE[@tpm]=N,...] [--trust-root software-key|tpm] [--listen HOST:PORT --data-dir DIR] [--call-home-listen HOST:PORT] [--json]',
  description:
    'Starts a simulated fleet, the reference PVE and the OAM server with the henb-sw-verify plugin, all on loopback, with ' +
    'SQLite in the data dir (a temporary one by default). Without --listen it runs one software update over the whole fleet ' +
    '(progress bar on a terminal, then a results table) and exits 0 when every device ended as its profile predicts ' +
    '(healthy: verified, compromised: refused, bad-install/self-check-fail: mismatch, unreachable/slow: timeout), 1 otherwise. ' +
    `With --listen it names the devices <profile>-<n>, prints one ready line and serves NETCONF clients (user admin, password in ${ADMIN_PASSWORD_ENV}) until SIGINT/SIGTERM. ` +
    'Evidence is signed with a software key per device; a device with trust root tpm (PROFILE@tpm in --fleet, or --trust-root tpm ' +
    'for all) answers with TPM 2.0 quotes from its own swtpm and is named <profile>-tpm-<n>. Without --fleet the demo adds ' +
    'healthy@tpm=1 when swtpm and tpm2-tools are installed, and says so either way. ' +
    'With --call-home-listen the devices are not dialled: each calls home (RFC 8071) to the OAM on that address and to the PVE\'s own call-home port, and is known by its host key.',
  options: {
    // no declared default: the demo must know whether --fleet was given (the default fleet gains a TPM device)
    fleet: { type: 'string', value: 'PROFILE[@tpm]=N,...', help: `profiles and counts (default: ${DEFAULT_FLEET}, and healthy@tpm=1 when swtpm is installed)` },
    'trust-root': { type: 'string', value: 'ROOT', help: 'software-key or tpm: what signs the devices\' evidence', default: 'software-key' },
    listen: { type: 'string', value: 'HOST:PORT', help: 'keep serving on this address instead of running one update' },
    'call-home-listen': { type: 'string', value: 'HOST:PORT', help: 'devices call home (RFC 8071) to the OAM here (port 0: a free one; 4334 is the IANA port)' },
    'data-dir': { type: 'string', value: 'DIR', help: 'keep the state here (default: a temporary dir, removed at exit)' },
    timeout: { type: 'string', value: 'SECONDS', help: 'per-device limit of the one-shot update', default: '60' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn, error or silent', default: 'warn' },
    json: { type: 'boolean', help: 'ready line / results as JSON' },
  },
  examples: [
    'henb-sw-verify demo',
    `${ADMIN_PASSWORD_ENV}=secret henb-sw-verify demo --listen 127.0.0.1:8830 --data-dir ./demo-data --fleet healthy=3,compromised=1`,
  ],
  run: runDemo,
};

interface SimDevice {
  henbId: string;
  profile: string;
  host: string;
  port: number;
  username: string;
  password?: string;
  hostKeySha256?: string;
  devicePublicKey: string;
  trustRoot?: string;
  akPublic?: string;
}
interface FleetHandle {
  devices: SimDevice[];
  referenceValues: Record<string, string[]>;
  startCallHome(targets: Array<{ host: string; port: number }>): void;
  close(): Promise<void>;
}
interface PveHandleLike {
  url: string;
  caPath: string;
  issuer: string;
  jwks: unknown;
  callHome?: { host: string; port: number };
  close(): Promise<void>;
}

export interface DemoStack {
  server: RunningOamServer;
  fleet: FleetHandle;
  pve: PveHandleLike;
  dataDir: string;
  adminPassword: string;
  softwareUri: string;
  expected: Map<string, ResultStatus>;
  /** where the devices call the OAM (with callHomeListen) */
  callHome?: { host: string; port: number };
  close(): Promise<void>;
}

const DEVICE_SECRET_ENV = 'HSV_DEMO_DEVICE_PASSWORD';

/** where the demo's OAM plugin publishes its JWKS (serve's plugin data dir, keys/) */
function oamJwksFile(dataDir: string): string {
  return join(dataDir, 'oam', 'plugins', 'henb-sw-verify', 'keys', 'jwks.json');
}
const DEMO_STEP_TIMEOUT_SEC = 10;

type PveModule = { startPve(o: Record<string, unknown>): Promise<PveHandleLike> };
type DemoOptions = { fleet: FleetEntry[]; trustRoot?: 'software-key' | 'tpm'; listen: { host: string; port: number }; dataDir: string; adminPassword: string; env: NodeJS.ProcessEnv; log: Logger; callHomeListen?: { host: string; port: number } };

/**
 * The reference PVE for the fleet. Calling home, the PVE collects its evidence on its own call-home port (the
 * devices call both), so that the verifier's channel to a device never runs through the OAM it reports to
 * (docs/operator-guide.md).
 */
async function startDemoPve(pveMod: PveModule, opts: DemoOptions, fleet: FleetHandle): Promise<PveHandleLike> {
  const callingHome = opts.callHomeListen !== undefined;
  return pveMod.startPve({
    listen: '127.0.0.1:0',
    dataDir: join(opts.dataDir, 'pve'),
    devices: callingHome ? fleet.devices.map((d) => ({ ...d, callHome: true })) : fleet.devices,
    referenceValues: fleet.referenceValues,
    // the OAM provides the reference values of each verified update, signed with its key (published here once
    // the OAM plugin starts; read at each statement)
    oamJwks: oamJwksFile(opts.dataDir),
    log: opts.log,
    ...(callingHome ? { callHome: { listen: '127.0.0.1:0' } } : {}),
  });
}

/** the OAM plugin's configuration for the demo: the fleet's devices (dialled or calling home), the PVE, short steps, the image directory */
function demoPluginConfig(fleet: FleetHandle, pve: PveHandleLike, jwksFile: string, softwareDir: string, callHome: { host: string; port: number } | undefined): Record<string, unknown> {
  return {
    ...(callHome !== undefined ? { 'call-home': { listen: formatHostPort(callHome) } } : {}),
    henbs: fleet.devices.map((d) => ({
      'henb-id': d.henbId,
      ...(callHome !== undefined ? { 'call-home': true } : { address: d.host, port: d.port }),
      username: d.username,
      ...(d.password ? { password: { env: DEVICE_SECRET_ENV } } : {}),
      ...(d.hostKeySha256 ? { 'ssh-host-key': d.hostKeySha256.startsWith('SHA256:') ? d.hostKeySha256 : `SHA256:${d.hostKeySha256}` } : {}),
      description: `simulated, profile ${d.profile}, trust root ${d.trustRoot ?? 'software-key'}`,
    })),
    pve: { endpoint: pve.url, transport: 'restconf', ca: pve.caPath, jwks: jwksFile, issuer: pve.issuer, timeout: 30 },
    // short steps so that unreachable and slow devices end as timeout within the demo
    policies: { 'self-check': true, 'on-mismatch': ['alarm', 'rollback'], 'step-timeout': DEMO_STEP_TIMEOUT_SEC },
    // the demo's image directory is the only place file: software URIs may name (docs/security.md)
    software: { 'file-root': softwareDir },
  };
}

/** the image every device gets: a small deterministic file in the software directory; its file: URI */
async function writeDemoImage(softwareDir: string): Promise<string> {
  const image = Buffer.concat([Buffer.from('henb-sw-verify demo image v2\n'), createHash('sha256').update('demo').digest()]);
  const imageFile = join(softwareDir, 'henb-firmware-2.0.0.bin');
  await writeFile(imageFile, image);
  return pathToFileURL(imageFile).href;
}

/** Start fleet, PVE and OAM server; everything is closed again if a part fails. */
export async function startDemoStack(opts: DemoOptions): Promise<DemoStack> {
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const sim = await importComponent<{ startFleet(o: Record<string, unknown>): Promise<FleetHandle> }>('../simulator/index.js', 'the femtocell simulator (src/simulator)', 'startFleet');
    const pveMod = await importComponent<PveModule>('../pve/index.js', 'the reference PVE (src/pve)', 'startPve');
    const fleet = await sim.startFleet({ fleet: opts.fleet, trustRoot: opts.trustRoot ?? 'software-key', host: '127.0.0.1', dataDir: join(opts.dataDir, 'fleet'), log: opts.log.child({ component: 'fleet' }) });
    closers.push(() => fleet.close());
    const pve = await startDemoPve(pveMod, opts, fleet);
    closers.push(() => pve.close());
    const jwksFile = join(opts.dataDir, 'pve', 'jwks.json');
    await writeFile(jwksFile, JSON.stringify(pve.jwks, null, 2) + '\n');

    const softwareDir = join(opts.dataDir, 'software');
    await mkdir(softwareDir, { recursive: true });
    const devicePassword = fleet.devices.find((d) => d.password)?.password;
    const config = defaultServeConfig();
    // the examples drive the demo with Debian 12's yangcli, whose libssh2 1.10 has no ETM MAC: offer the
    // encrypt-and-MAC hmac-sha2-256 too (serve offers ETM MACs only unless ssh.macs says so; docs/security.md)
    config.ssh = { macs: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256'] };
    const env = { ...opts.env, [ADMIN_PASSWORD_ENV]: opts.adminPassword, ...(devicePassword ? { [DEVICE_SECRET_ENV]: devicePassword } : {}) };
    const startOam = async (callHome: HostPort | undefined): Promise<{ server: RunningOamServer; callHome: HostPort | undefined }> => {
      config.builtin = demoPluginConfig(fleet, pve, jwksFile, softwareDir, callHome);
      return { server: await startOamServer({ listen: opts.listen, dataDir: join(opts.dataDir, 'oam'), config, env, log: opts.log }), callHome };
    };
    const at = opts.callHomeListen;
    // --call-home-listen HOST:0: the devices are told the port, and the OAM's plugin binds it: a port free now, and
    // another one if some other process takes it before the OAM binds it (the devices are told only after)
    const { server, callHome } = at === undefined ? await startOam(undefined)
      : at.port !== 0 ? await startOam(at)
        : await withFreePort((port) => startOam({ host: at.host, port }), { host: at.host });
    closers.push(() => server.close());
    if (callHome !== undefined) fleet.startCallHome([callHome, ...(pve.callHome !== undefined ? [pve.callHome] : [])]);
    const softwareUri = await writeDemoImage(softwareDir);
    const expected = new Map(fleet.devices.map((d) => [d.henbId, EXPECTED_STATUS[d.profile] ?? 'verified']));
    return {
      server, fleet, pve, dataDir: opts.dataDir, adminPassword: opts.adminPassword, softwareUri, expected, close: closeAll,
      ...(callHome !== undefined ? { callHome } : {}),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * The trust roots of the demo's fleet: the default fleet gains one TPM-rooted healthy device when swtpm and
 * tpm2-tools are installed (a fresh machine without them runs on software keys alone); asking for tpm without
 * them is a usage error. Returns the fleet and the line that says which it is.
 */
export async function demoTrustRoots(fleet: FleetEntry[], trustRoot: 'software-key' | 'tpm', fleetGiven: boolean): Promise<{ fleet: FleetEntry[]; line: string }> {
  const sim = await importComponent<{ tpmToolsAvailable(): boolean }>('../simulator/index.js', 'the femtocell simulator (src/simulator)', 'tpmToolsAvailable');
  const available = sim.tpmToolsAvailable();
  const wantsTpm = trustRoot === 'tpm' || fleet.some((e) => e.trustRoot === 'tpm');
  if (wantsTpm && !available) throw new CliUsageError('demo: trust root tpm needs swtpm and tpm2-tools (scripts/install-peers.sh installs them)');
  if (wantsTpm) return { fleet, line: 'demo: TPM-rooted devices (trust root tpm) answer with TPM 2.0 quotes from their own swtpm; the others sign with a software key' };
  if (fleetGiven) return { fleet, line: 'demo: every device signs its evidence with a software key (trust root software-key)' };
  if (!available) return { fleet, line: 'demo: swtpm/tpm2-tools not installed: no TPM-rooted device; every device signs its evidence with a software key (scripts/install-peers.sh installs them)' };
  return { fleet: [...fleet, { profile: 'healthy', count: 1, trustRoot: 'tpm' }], line: 'demo: swtpm found: healthy-tpm-1 answers with TPM 2.0 quotes (trust root tpm); the others sign with a software key' };
}

async function runDemo(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const trustRoot = parseTrustRoot(str(args, 'trust-root'));
  const roots = await demoTrustRoots(parseFleet(str(args, 'fleet') ?? DEFAULT_FLEET), trustRoot, str(args, 'fleet') !== undefined);
  const fleet = roots.fleet;
  const listenText = str(args, 'listen');
  const serving = listenText !== undefined;
  const listen = serving ? parseHostPort(listenText) : { host: '127.0.0.1', port: 0 };
  const chText = str(args, 'call-home-listen');
  const callHomeListen = chText !== undefined ? parseHostPort(chText, '--call-home-listen') : undefined;
  const json = bool(args, 'json');
  const timeoutSec = int(args, 'demo', 'timeout', 60, { max: 3600 });
  const log = createLogger({ level: (str(args, 'log-level') ?? 'warn') as LogLevel, write: (l) => ctx.stderr.write(l) });
  const dirArg = str(args, 'data-dir');
  const dataDir = dirArg ? resolve(ctx.cwd, dirArg) : await mkdtemp(join(tmpdir(), 'henb-sw-verify-demo-'));
  const adminPassword = ctx.env[ADMIN_PASSWORD_ENV] || randomBytes(12).toString('base64url');
  if (serving && !ctx.env[ADMIN_PASSWORD_ENV]) {
    ctx.stderr.write(`henb-sw-verify: ${ADMIN_PASSWORD_ENV} is not set; user admin gets the generated password ${adminPassword}\n`);
  }
  const names = fleetNames(fleet, trustRoot);
  ctx.stderr.write(roots.line + '\n');
  let stack: DemoStack | undefined;
  try {
    stack = await startDemoStack({ fleet, trustRoot, listen, dataDir, adminPassword, env: ctx.env, log, ...(callHomeListen !== undefined ? { callHomeListen } : {}) });
    if (serving) {
      ctx.stdout.write(readyLine(stack.server.address, stack.server.fingerprint, json, { publicKey: stack.server.publicKey, fleet: names.map((n) => n.id), software: stack.softwareUri, jwks: oamJwksFile(stack.dataDir) }) + (json ? '' : ` fleet ${names.map((n) => n.id).join(',')}`) + '\n');
      await waitForAbort(ctx.signal);
      return EXIT.OK;
    }
    const report = await updateFleet(stack, timeoutSec, ctx, json, log);
    const matches = report.devices.every((d) => d.status === stack?.expected.get(d.henbId));
    const c = colors(ctx.tty);
    if (json) {
      ctx.stdout.write(JSON.stringify({ ok: matches, software: stack.softwareUri, devices: report.devices.map((d) => ({ ...d, expected: stack?.expected.get(d.henbId) })), summary: report.summary }) + '\n');
    } else {
      ctx.stdout.write(deviceTable(report, c, { expected: new Map(stack.expected) }) + '\n' + summaryTable(report, c));
      ctx.stdout.write((matches ? c.green('demo: every device ended as its profile predicts') : c.red('demo: some devices did not end as their profile predicts')) + '\n');
    }
    return matches ? EXIT.OK : EXIT.FAILED;
  } finally {
    await stack?.close();
    if (!dirArg) await rm(dataDir, { recursive: true, force: true });
  }
}

/** One update over the whole fleet, driven over NETCONF against the demo's own server (as rollout does). */
async function updateFleet(stack: DemoStack, timeoutSec: number, ctx: CliContext, json: boolean, log: Logger): Promise<RolloutReport> {
  const mod = await importComponent<{ connectRolloutTarget(o: ConnectOptions): Promise<RolloutConnection> }>('./rollout/netconf-target.js', 'the NETCONF client (src/netconf/client)', 'connectRolloutTarget');
  const software = { uri: stack.softwareUri, version: '2.0.0' };
  const conn = await mod.connectRolloutTarget({
    host: stack.server.address.host,
    port: stack.server.address.port,
    username: 'admin',
    password: stack.adminPassword,
    hostKey: stack.server.fingerprint,
    software,
    selfCheck: true,
    log,
    signal: ctx.signal,
  });
  try {
    const henbs = [...stack.expected.keys()];
    const now = new Date().toISOString();
    const report: RolloutReport = {
      format: 'henb-sw-verify-rollout/1',
      server: formatHostPort(stack.server.address),
      software,
      plan: { waveSize: henbs.length, firstWave: henbs.length, concurrency: 8, maxFailures: null, timeoutSec },
      startedAt: now,
      updatedAt: now,
      state: 'running',
      devices: planWaves(henbs, henbs.length, henbs.length),
      summary: summarize([]),
    };
    const bar = new ProgressBar(ctx.stderr, { total: henbs.length, label: 'update', enabled: ctx.tty && !json });
    bar.update(0);
    await runRollout(report, conn, {
      onChange: (_r, d) => {
        if (d.state === 'done') bar.tick(1, `${d.henbId} ${d.status}`);
      },
    }, { deviceTimeoutMs: timeoutSec * 1000, signal: ctx.signal });
    bar.done();
    report.summary = summarize(report.devices);
    return report;
  } finally {
    await conn.close();
  }
}
