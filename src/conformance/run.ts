/**
 * One conformance run: start the kit's image server, open a NETCONF session to the device, run the checks in
 * their safe order (check-update.ts explains it), and return the report. Throws ConformanceError
 * ERR_CONFORMANCE_UNREACHABLE when no session can be opened at all (nothing was tested), and
 * ERR_CONFORMANCE_SETUP / ERR_CONFORMANCE_OPTIONS for the kit's own problems; every device behaviour, however
 * bad, is a result, never an exception.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceTarget } from '../device/index.js';
import { ConformanceError } from './errors.js';
import { parseEnrolledKey } from './evidence-key.js';
import { Kit, describeSlots } from './context.js';
import { startImageServer } from './image-server.js';
import { REQUIREMENTS } from './requirements.js';
import type { RequirementId } from './requirements.js';
import { KitSession } from './session.js';
import { loadOrCreateKitTls } from './tls.js';
import type { ConformanceReport, Exchange, RequirementResult } from './types.js';
import { checkTransport } from './check-transport.js';
import { checkNotifications } from './check-notifications.js';
import { checkModule } from './check-module.js';
import { checkState } from './check-state.js';
import { checkMeasurement } from './check-measurement.js';
import { checkRefusals } from './check-refusals.js';
import { checkUpdates } from './check-update.js';
import type { GoodUpdate } from './check-update.js';
import { checkReplay } from './check-replay.js';
import { checkRollback } from './check-rollback.js';

export interface ConformanceOptions {
  target: DeviceTarget;
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
  /** called when the image server is up (the CA the device must trust) */
  onReady?: (info: { caPath: string; imageUrl: string }) => void;
}

const ALL = REQUIREMENTS.map((r) => r.id);

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const startedAt = new Date().toISOString();
  const trustRoot = options.trustRoot ?? 'software';
  const key = options.devicePublicKey !== undefined ? parseEnrolledKey(Buffer.from(options.devicePublicKey), trustRoot) : undefined;
  const tmp = options.tlsDir === undefined ? await mkdtemp(join(tmpdir(), 'hsv-kit-')) : undefined;
  const host = options.imageHost ?? '127.0.0.1';
  try {
    const tls = await loadOrCreateKitTls(options.tlsDir ?? tmp!, [host]);
    const image = await startImageServer(tls, host, options.imagePort ?? 0);
    try {
      options.onReady?.({ caPath: tls.certPath, imageUrl: image.url('/image-*.bin') });
      const kitOptions = {
        target: options.target, trustRoot,
        connectTimeoutMs: options.connectTimeoutMs ?? 15_000, rpcTimeoutMs: options.rpcTimeoutMs ?? 30_000,
        completionTimeoutMs: options.completionTimeoutMs ?? 120_000,
        ...(key !== undefined ? { enrolledKey: key } : {}),
        ...(options.henbId !== undefined ? { henbId: options.henbId } : {}),
        ...(options.transcript !== undefined ? { transcript: options.transcript } : {}),
      };
      let session: KitSession;
      const where = `${options.target.host}:${options.target.port}`;
      try {
        session = await KitSession.open(options.target, kitOptions.connectTimeoutMs, kitOptions.rpcTimeoutMs, options.transcript);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        if (code !== 'ERR_DEVICE_NETCONF') {
          throw new ConformanceError('ERR_CONFORMANCE_UNREACHABLE', `cannot open a NETCONF session to ${where}: ${(e as Error).message}`, { cause: e });
        }
        // reached over SSH, but no NETCONF: that is the device's failure, reported
        const results: RequirementResult[] = REQUIREMENTS.map((r) => ({
          id: r.id, title: r.title, level: r.level, exchanges: [],
          ...(r.id === 'HSV-NC-01'
            ? { outcome: 'fail' as const, detail: (e as Error).message, expected: 'the SSH subsystem "netconf" and a <hello> (RFC 6242 3)' }
            : { outcome: 'skip' as const, detail: 'no NETCONF session (HSV-NC-01)' }),
        }));
        return { device: where, trustRoot, keyPinned: key !== undefined, startedAt, finishedAt: new Date().toISOString(), results, ok: false, leftState: 'unchanged (no session)' };
      }
      const kit = new Kit(kitOptions, session, image);
      let leftState = 'unknown';
      try {
        await runChecks(kit, options.signal);
        if (!kit.moduleAnnounced) {
          leftState = 'untouched: without the device module the kit sent nothing that changes a device';
          return finish();
        }
        const end = await kit.readState();
        leftState = end.state
          ? `${describeSlots(end.state.slots)}; TIM ${end.state.tim}${kit.before ? (end.state.tim === kit.before.tim ? ' (as found)' : ` (found with ${kit.before.tim})`) : ''}`
          : `unknown (${end.problem ?? 'state unreadable'})`;
      } finally {
        await kit.session.close();
      }
      return finish();
      function finish(): ConformanceReport {
        const results = ALL.map((id) => kit.results.get(id) ?? missing(id));
        return {
          device: where, trustRoot, keyPinned: key !== undefined, startedAt, finishedAt: new Date().toISOString(), results,
          ok: results.every((r) => r.level !== 'MUST' || r.outcome === 'pass'), leftState,
          ...(options.signal?.aborted === true ? { interrupted: true } : {}),
        };
      }
    } finally {
      await image.close();
    }
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
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
