/**
 * One conformance run: start the kit's image server, open a NETCONF session to the device (dialled, or on the
 * connection the device opens when it calls home: RFC 8071, src/device's call-home listener), run the checks in
 * their safe order (check-update.ts explains it), and return the report. Throws ConformanceError
 * ERR_CONFORMANCE_UNREACHABLE when no session can be opened at all (nothing was tested), and
 * ERR_CONFORMANCE_SETUP / ERR_CONFORMANCE_OPTIONS for the kit's own problems; every device behaviour, however
 * bad, is a result, never an exception.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectDevice, createCallHomeListener } from '../device/index.js';
import type { CallHomeDevice, CallHomeListener, DeviceConnector, DeviceTarget } from '../device/index.js';
import { createLogger } from '../log/logger.js';
import { ConformanceError } from './errors.js';
import { parseEnrolledKey } from './evidence-key.js';
import { Kit, describeSlots } from './context.js';
import type { KitOptions } from './context.js';
import { startImageServer } from './image-server.js';
import type { ImageServer } from './image-server.js';
import { REQUIREMENTS } from './requirements.js';
import type { RequirementId } from './requirements.js';
import { KitSession } from './session.js';
import { loadOrCreateKitTls } from './tls.js';
import type { KitTls } from './tls.js';
import type { ConformanceReport, Exchange, RequirementResult } from './types.js';
import { checkTransport } from './check-transport.js';
import { checkNotifications } from './check-notifications.js';
import { checkModule } from './check-module.js';
import { checkState } from './check-state.js';
import { checkKey } from './check-key.js';
import { checkMeasurement } from './check-measurement.js';
import { checkRefusals } from './check-refusals.js';
import { checkUpdates } from './check-update.js';
import type { GoodUpdate } from './check-update.js';
import { checkReplay } from './check-replay.js';
import { checkRollback } from './check-rollback.js';

export interface ConformanceOptions {
  /** the device's login and pinned host key; host/port are dialled unless `callHomeListen` is given */
  target: DeviceTarget;
  /**
   * wait for the device to call home (RFC 8071 section 3.1) on this address instead of dialling: the kit runs
   * the SSH client role on the TCP connection the device opens, accepts only the pinned host key (another one
   * is refused before any credential is sent) and opens every session of the run on that connection
   */
  callHomeListen?: { host: string; port: number };
  /** how long the kit waits for the device to call, at the start and after the kit's reconnect (default completionTimeoutMs) */
  callHomeWaitMs?: number;
  /**
   * the enrolled evidence key (absent: signature checks are skipped as unpinned): software trust root an SPKI
   * PEM; tpm the attestation key's TPM2B_PUBLIC, binary or base64 (simulate --json's akPublic)
   */
  devicePublicKey?: string | Buffer;
  /** the H(e)NB id the device signs into its completions */
  henbId?: string;
  trustRoot?: 'software' | 'tpm';
  /** keeps the kit's TLS certificate (kit-ca.pem) between runs; default a temporary directory */
  tlsDir?: string;
  /** the image server's address (default 127.0.0.1, a free port): the device must reach it */
  imageHost?: string;
  imagePort?: number;
  connectTimeoutMs?: number;
  rpcTimeoutMs?: number;
  completionTimeoutMs?: number;
  /** every rpc and notification of the run, in order (for --transcript) */
  transcript?: Exchange[];
  /**
   * stops the run between two checks (the requirements not reached are skipped as interrupted); the kit's own
   * update is still rolled back first, so the device is not left with the test image running
   */
  signal?: AbortSignal;
  /** called when the image server is up (the CA the device must trust) and, with callHomeListen, the kit listens */
  onReady?: (info: { caPath: string; imageUrl: string; callHome?: { host: string; port: number } }) => void;
}

const ALL = REQUIREMENTS.map((r) => r.id);

/** what a run knows before its session: the options, when it started, the trust root and the enrolled key */
interface RunFrame {
  options: ConformanceOptions;
  startedAt: string;
  trustRoot: 'software' | 'tpm';
  key: ReturnType<typeof parseEnrolledKey> | undefined;
  overTls: boolean;
  completionTimeoutMs: number;
}

/** how the kit reaches the device: dialling it, or waiting for its call on the kit's call-home listener */
interface Reach {
  connect: DeviceConnector;
  target: DeviceTarget;
  /** the device, as the report names it */
  where: string;
  /** the first session's time limit (calling home: the wait for the device's call) */
  firstConnectMs: number;
  listener?: CallHomeListener;
  callHome?: { host: string; port: number };
  /** what the call-home listener warned about (a refused key, a failed login) */
  heard: string[];
}

async function reachDevice(f: RunFrame): Promise<Reach> {
  const { options, overTls } = f;
  const heard: string[] = [];
  if (options.callHomeListen === undefined) {
    const where = `${options.target.host}:${options.target.port}${overTls ? ' (NETCONF over TLS)' : ''}`;
    return { connect: connectDevice, target: options.target, where, firstConnectMs: options.connectTimeoutMs ?? 15_000, heard };
  }
  const { listener, callHome } = await listenForCallHome(options, heard);
  return {
    connect: listener.connect,
    target: { ...options.target, callHome: true, henbId: CALL_HOME_ID },
    where: `the device calling home${overTls ? ' over TLS' : ''} to ${callHome.host}:${callHome.port}`,
    firstConnectMs: options.callHomeWaitMs ?? f.completionTimeoutMs,
    listener, callHome, heard,
  };
}

function kitOptionsOf(f: RunFrame, r: Reach): KitOptions {
  const { options, key } = f;
  return {
    target: r.target, connect: r.connect, trustRoot: f.trustRoot,
    ...(r.listener !== undefined ? { dropConnection: dropper(r.listener, options) } : {}),
    // calling home, every session waits for the device's next call, which its reconnect backoff may delay
    connectTimeoutMs: r.firstConnectMs, rpcTimeoutMs: options.rpcTimeoutMs ?? 30_000,
    completionTimeoutMs: f.completionTimeoutMs,
    ...(key !== undefined ? { enrolledKey: key } : {}),
    ...(options.henbId !== undefined ? { henbId: options.henbId } : {}),
    ...(options.transcript !== undefined ? { transcript: options.transcript } : {}),
  };
}

/** a report of a run that got no session (interrupted, or no NETCONF on the connection) */
function noSessionReport(f: RunFrame, where: string, results: RequirementResult[], interrupted: boolean): ConformanceReport {
  return {
    device: where, trustRoot: f.trustRoot, keyPinned: f.key !== undefined, keySource: f.key !== undefined ? 'pinned' : 'none',
    startedAt: f.startedAt, finishedAt: new Date().toISOString(), results, ok: false, leftState: 'unchanged (no session)',
    ...(interrupted ? { interrupted: true } : {}),
  };
}

/** why no session could be opened at all (calling home: which calls were refused, what the device was told) */
function unreachableMessage(f: RunFrame, r: Reach, e: unknown): string {
  const { overTls } = f;
  const code = (e as { code?: unknown }).code;
  if (r.listener === undefined || code !== 'ERR_DEVICE_TIMEOUT') return `cannot open a NETCONF session to ${r.where}: ${(e as Error).message}`;
  const { listener, heard } = r;
  return `no device with ${deviceIdentity(f.options.target)} called home${overTls ? ' over TLS' : ''} to ${r.callHome!.host}:${r.callHome!.port} within ${Math.round(r.firstConnectMs / 1000)} s` +
    (listener.refused.size > 0 ? `; calls from other ${overTls ? 'certificates' : 'host keys'} were refused: ${[...listener.refused.keys()].join(', ')} (is ${overTls ? '--tls-certificate / --tls-ca' : '--host-key'} right?)` : '') +
    (own(heard).length > 0 ? `; the device with that key called, but: ${own(heard).slice(-3).join('; ')}` : '');
}

/**
 * The first session, or the report of a run without one: interrupted before it opened, or reached over SSH (or
 * TLS) but no NETCONF (the device's failure, reported). Anything else: ERR_CONFORMANCE_UNREACHABLE.
 */
async function openSession(f: RunFrame, r: Reach, rpcTimeoutMs: number): Promise<KitSession | ConformanceReport> {
  const { options, overTls } = f;
  try {
    return await KitSession.open(r.connect, r.target, r.firstConnectMs, rpcTimeoutMs, options.transcript, options.signal);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_DEVICE_ABORTED' && options.signal?.aborted === true) {
      const results: RequirementResult[] = REQUIREMENTS.map((q) => ({ id: q.id, title: q.title, level: q.level, exchanges: [], outcome: 'skip' as const, detail: 'interrupted before a session was open' }));
      return noSessionReport(f, r.where, results, true);
    }
    if (code !== 'ERR_DEVICE_NETCONF') throw new ConformanceError('ERR_CONFORMANCE_UNREACHABLE', unreachableMessage(f, r, e), { cause: e });
    const results: RequirementResult[] = REQUIREMENTS.map((q) => ({
      id: q.id, title: q.title, level: q.level, exchanges: [],
      ...(q.id === 'HSV-NC-01'
        ? { outcome: 'fail' as const, detail: (e as Error).message, expected: overTls ? 'a <hello> on the TLS connection (RFC 7589 3)' : 'the SSH subsystem "netconf" and a <hello> (RFC 6242 3)' }
        : { outcome: 'skip' as const, detail: 'no NETCONF session (HSV-NC-01)' }),
    }));
    return noSessionReport(f, r.where, results, false);
  }
}

/** the device's state as the kit leaves it (slots, TIM, as found or not) */
async function leftStateOf(kit: Kit): Promise<string> {
  if (!kit.moduleAnnounced) return 'untouched: without the device module the kit sent nothing that changes a device';
  const end = await kit.readState();
  return end.state
    ? `${describeSlots(end.state.slots)}; TIM ${end.state.tim}${kit.before ? (end.state.tim === kit.before.tim ? ' (as found)' : ` (found with ${kit.before.tim})`) : ''}`
    : `unknown (${end.problem ?? 'state unreadable'})`;
}

/** the checks on an open session, then the report (the session is closed in any case) */
async function checkDevice(f: RunFrame, kit: Kit, where: string): Promise<ConformanceReport> {
  let leftState = 'unknown';
  try {
    await runChecks(kit, f.options.signal);
    leftState = await leftStateOf(kit);
  } finally {
    await kit.session.close();
  }
  const results = ALL.map((id) => kit.results.get(id) ?? missing(id));
  return {
    device: where, trustRoot: f.trustRoot, keyPinned: f.key !== undefined, keySource: kit.signing?.source ?? 'none', startedAt: f.startedAt, finishedAt: new Date().toISOString(), results,
    ok: results.every((r) => r.level !== 'MUST' || r.outcome === 'pass'), leftState,
    ...(f.options.signal?.aborted === true ? { interrupted: true } : {}),
  };
}

/** reach the device, open the first session, run the checks (the image server is up; the listener is closed in any case) */
async function runWithImage(f: RunFrame, tls: KitTls, image: ImageServer): Promise<ConformanceReport> {
  let listener: CallHomeListener | undefined;
  try {
    const r = await reachDevice(f);
    listener = r.listener;
    f.options.onReady?.({ caPath: tls.certPath, imageUrl: image.url('/image-*.bin'), ...(r.callHome !== undefined ? { callHome: r.callHome } : {}) });
    const kitOptions = kitOptionsOf(f, r);
    const session = await openSession(f, r, kitOptions.rpcTimeoutMs);
    if (!(session instanceof KitSession)) return session;
    let where = r.where;
    const c = listener?.connection(CALL_HOME_ID);
    if (c !== undefined) where = `${c.remoteAddress}:${c.remotePort} (called home${f.overTls ? ' over TLS' : ''} to ${r.callHome!.host}:${r.callHome!.port})`;
    return await checkDevice(f, new Kit(kitOptions, session, image), where);
  } finally {
    await listener?.close();
  }
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const startedAt = new Date().toISOString();
  const trustRoot = options.trustRoot ?? 'software';
  const key = options.devicePublicKey !== undefined ? parseEnrolledKey(Buffer.from(options.devicePublicKey), trustRoot) : undefined;
  const tmp = options.tlsDir === undefined ? await mkdtemp(join(tmpdir(), 'hsv-kit-')) : undefined;
  const host = options.imageHost ?? '127.0.0.1';
  const frame: RunFrame = { options, startedAt, trustRoot, key, overTls: options.target.transport === 'tls', completionTimeoutMs: options.completionTimeoutMs ?? 120_000 };
  try {
    const tls = await loadOrCreateKitTls(options.tlsDir ?? tmp!, [host]);
    const image = await startImageServer(tls, host, options.imagePort ?? 0);
    try {
      return await runWithImage(frame, tls, image);
    } finally {
      await image.close();
    }
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
}

/** the listener's warnings about the pinned device (a refused key is listed on its own), each once */
const own = (heard: readonly string[]): string[] => [...new Set(heard.filter((h) => !h.startsWith('call-home from an unknown host key') && !h.startsWith('call-home over TLS refused')))];

/** the name the kit's call-home listener gives the one device it expects */
const CALL_HOME_ID = 'device-under-test';

/**
 * The kit's call-home listener, with the device under test as its one enrolled device (known by its pinned host
 * key, logged in with the run's credentials). `heard` collects the listener's warnings (a host key refused, a
 * login the device refused) so that a device that never gets a session is told why.
 */
async function listenForCallHome(options: ConformanceOptions, heard: string[]): Promise<{ listener: CallHomeListener; callHome: { host: string; port: number } }> {
  const t = options.target;
  const at = options.callHomeListen!;
  const tls = t.transport === 'tls';
  if (!tls && t.hostKeySha256 === undefined) throw new ConformanceError('ERR_CONFORMANCE_OPTIONS', 'a device that calls home is known only by its host key: pin it (--host-key)');
  if (tls && (t.tls === undefined || (t.tls.ca === undefined && t.tls.certSha256 === undefined))) {
    throw new ConformanceError('ERR_CONFORMANCE_OPTIONS', 'a device that calls home over TLS is known only by its certificate: pin it (--tls-certificate) or give its CA (--tls-ca)');
  }
  if (tls && t.tls!.certSha256 === undefined && t.tls!.serverName === undefined) {
    throw new ConformanceError('ERR_CONFORMANCE_OPTIONS', 'a device that calls home over TLS and is known by its CA needs the name its certificate carries (--tls-server-name): it has no address to check');
  }
  const log = createLogger({
    level: 'warn',
    write: (line) => {
      try {
        const r = JSON.parse(line) as Record<string, unknown>;
        const { time: _t, level: _l, component: _c, msg, ...fields } = r;
        heard.push(`${String(msg)} (${Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ')})`);
      } catch {
        heard.push(line.trim());
      }
    },
  });
  // over TLS (RFC 8071 section 4) the kit listens on the given address for TLS only; the SSH listener it also
  // starts is bound to a free loopback port nobody is told about
  const listener = tls
    ? createCallHomeListener({ host: '127.0.0.1', port: 0, log, maxPending: 4, tls: { host: at.host, port: at.port, cert: t.tls!.cert, key: t.tls!.key } })
    : createCallHomeListener({ host: at.host, port: at.port, log, maxPending: 4 });
  try {
    listener.setDevice(callHomeDevice(t));
  } catch (e) {
    throw new ConformanceError('ERR_CONFORMANCE_OPTIONS', (e as Error).message, { cause: e });
  }
  try {
    const bound = await listener.listen();
    return { listener, callHome: tls ? bound.tls! : { host: bound.host, port: bound.port } };
  } catch (e) {
    await listener.close();
    throw new ConformanceError('ERR_CONFORMANCE_SETUP', `the kit cannot listen for call home: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * End the device's call-home connection and wait (at most 5 s) until it is closed (or already replaced by the
 * next call); the device calls again and
 * the next session waits for that call. (The listener ends a device's connection when the device is removed;
 * it is enrolled again at once.)
 */
function dropper(listener: CallHomeListener, options: ConformanceOptions): () => Promise<void> {
  return async () => {
    const old = listener.connection(CALL_HOME_ID);
    if (old === undefined) return;
    const t = options.target;
    const gone = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      const poll = setInterval(() => {
        const now = listener.connection(CALL_HOME_ID);
        if (now === undefined || now.remotePort !== old.remotePort || now.since !== old.since) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve();
        }
      }, 20);
      timer.unref();
    });
    listener.removeDevice(CALL_HOME_ID);
    listener.setDevice(callHomeDevice(t));
    await gone;
  };
}

/** how the device under test is known: its pinned host key (SSH), or its certificate (TLS: pin, or CA and name) */
function deviceIdentity(t: DeviceTarget): string {
  if (t.transport !== 'tls') return `host key ${t.hostKeySha256 ?? '?'}`;
  return t.tls?.certSha256 !== undefined ? `certificate ${t.tls.certSha256}` : `a certificate from --tls-ca naming ${t.tls?.serverName ?? CALL_HOME_ID}`;
}

function callHomeDevice(t: DeviceTarget): CallHomeDevice {
  if (t.transport === 'tls') {
    const x = t.tls!;
    return {
      henbId: CALL_HOME_ID, username: t.username, transport: 'tls',
      tls: { ...(x.ca !== undefined ? { ca: x.ca } : {}), ...(x.certSha256 !== undefined ? { certSha256: x.certSha256 } : {}), ...(x.serverName !== undefined ? { serverName: x.serverName } : {}) },
    };
  }
  return {
    henbId: CALL_HOME_ID, hostKeySha256: t.hostKeySha256!, username: t.username,
    ...(t.password !== undefined ? { password: t.password } : {}), ...(t.privateKey !== undefined ? { privateKey: t.privateKey } : {}),
  };
}

function missing(id: RequirementId): RequirementResult {
  const r = REQUIREMENTS.find((x) => x.id === id)!;
  return { id, title: r.title, level: r.level, outcome: 'skip', detail: 'not reached', exchanges: [] };
}

/** run one check; an exception (a session lost mid-check, a kit bug) fails what it had not decided yet */
async function guarded(kit: Kit, ids: readonly RequirementId[], fn: () => Promise<unknown> | unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    for (const id of ids) if (!kit.has(id)) kit.fail(id, `the check stopped: ${(e as Error).message}`, 'a device that keeps its session and answers');
  }
}

async function runChecks(kit: Kit, signal: AbortSignal | undefined): Promise<void> {
  const stopped = (): boolean => {
    if (signal?.aborted !== true) return false;
    for (const r of REQUIREMENTS) if (!kit.has(r.id)) kit.skip(r.id, 'interrupted before this check');
    return true;
  };
  await guarded(kit, ['HSV-NC-01', 'HSV-NC-02'], () => checkTransport(kit));
  if (stopped()) return;
  await guarded(kit, ['HSV-NC-03', 'HSV-NC-04'], () => checkNotifications(kit));
  if (stopped()) return;
  await guarded(kit, ['HSV-YANG-01', 'HSV-YANG-02'], () => checkModule(kit));
  if (!kit.moduleAnnounced) {
    for (const r of REQUIREMENTS) if (r.needsModule && !kit.has(r.id)) kit.skip(r.id, 'the device module is missing (HSV-YANG-01)');
    return;
  }
  if (stopped()) return;
  await guarded(kit, ['HSV-STATE-01'], () => checkState(kit));
  if (stopped()) return;
  await guarded(kit, ['HSV-KEY-01'], () => checkKey(kit));
  if (stopped()) return;
  await guarded(kit, ['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-MEAS-03'], () => checkMeasurement(kit));
  if (stopped()) return;
  await guarded(kit, ['HSV-ERR-01', 'HSV-ERR-02'], () => checkRefusals(kit));
  if (stopped()) return;
  const needsCompletions = ['HSV-UPD-01', 'HSV-ERR-03', 'HSV-UPD-02', 'HSV-UPD-03', 'HSV-UPD-04', 'HSV-UPD-05', 'HSV-CPL-01', 'HSV-CPL-02', 'HSV-CPL-03', 'HSV-RBK-01'] as const;
  if (!kit.subscribed) {
    for (const id of needsCompletions) kit.skip(id, 'no notification subscription: completions cannot be seen (HSV-NC-03)');
    return;
  }
  let good: GoodUpdate | undefined;
  await guarded(kit, ['HSV-UPD-01', 'HSV-ERR-03', 'HSV-UPD-02', 'HSV-UPD-03', 'HSV-UPD-04', 'HSV-UPD-05', 'HSV-CPL-01', 'HSV-CPL-02'], async () => {
    good = await checkUpdates(kit);
  });
  if (signal?.aborted !== true) await guarded(kit, ['HSV-CPL-03'], () => checkReplay(kit, good));
  // the rollback also restores the device: it runs even when interrupted after the kit's update
  await guarded(kit, ['HSV-RBK-01'], () => checkRollback(kit, good));
  stopped();
}
