/**
 * HSV-UPD-01..05 and HSV-ERR-03: software-update (steps 6-8) against the kit's own HTTPS server, in an order that
 * leaves a conforming device as it was found and a flawed one recoverable by a normal OAM:
 *   1. an unreachable URI (a port the kit holds and never listens on): download-error, nothing installed (UPD-01);
 *   2. the same job-id again: refused, nothing started (ERR-03);
 *   3. the kit's image announced with a wrong software-rim: integrity-error, nothing installed (UPD-02); a
 *      device that installs it anyway is rolled back at once;
 *   4. the good update, its image held by the kit's server while a second software-update is sent: in-use /
 *      slot-busy (UPD-05); then released: completed (UPD-03), into the inactive slot (UPD-04), with the
 *      attested TIM and the evidence (CPL-01, CPL-02, check-completion.ts).
 * The rollback that restores the running software is check-rollback.ts (after the replay check).
 */
import { createHash } from 'node:crypto';
import { parseCompletion, parseStartedReply, rollbackXml, softwareUpdateXml } from '../device/index.js';
import type { CompletionEvent, SoftwareUpdateInput } from '../device/index.js';
import { elements } from '../netconf/xml/index.js';
import type { DeviceState, Kit } from './context.js';
import { completionOf, describeSlots, isCompletionFor, sameSlots } from './context.js';
import type { RequirementId } from './requirements.js';
import type { RpcOutcome } from './session.js';
import type { Exchange } from './types.js';
import { checkCompletion } from './check-completion.js';

export interface GoodUpdate {
  jobId: string;
  /** epoch ms just before the software-update was sent (the replay check starts here) */
  sentAt: number;
  completion?: CompletionEvent;
  before: DeviceState;
}

function startedStatus(o: RpcOutcome): string {
  if (!o.reply) return o.error ? 'rpc-error' : 'no reply';
  try {
    return parseStartedReply(elements(o.reply)).status;
  } catch {
    return 'malformed reply';
  }
}

/** wait for the completion of `jobId` received after index `from`; parsed, with its XML */
async function completion(kit: Kit, jobId: string, from: number): Promise<{ c?: CompletionEvent; exchange: Exchange; problem?: string }> {
  const r = await kit.session.waitFor(isCompletionFor(jobId), kit.options.completionTimeoutMs, from);
  if (!r) return { exchange: { sent: `(waiting for software-update-complete of job ${jobId})`, received: `nothing within ${kit.options.completionTimeoutMs} ms` }, problem: `no software-update-complete for job ${jobId} within ${kit.options.completionTimeoutMs} ms` };
  const exchange = { sent: `(waiting for software-update-complete of job ${jobId})`, received: r.xml };
  try {
    return { c: parseCompletion(completionOf(r.notification)!), exchange };
  } catch (e) {
    return { exchange, problem: (e as Error).message };
  }
}

function update(kit: Kit, input: Omit<SoftwareUpdateInput, 'nonce'> & { nonce?: Buffer }): Promise<RpcOutcome> {
  return kit.session.rpc(softwareUpdateXml({ ...input, nonce: (input.nonce ?? kit.nonce()).toString('base64') }));
}

/** state unchanged after an update that must not install anything; returns the problem or undefined */
async function unchanged(kit: Kit, before: DeviceState, exchanges: Exchange[]): Promise<string | undefined> {
  const r = await kit.readState();
  exchanges.push(r.exchange);
  if (!r.state) return r.problem ?? 'state unreadable';
  if (!sameSlots(before.slots, r.state.slots)) return `the slots changed: before ${describeSlots(before.slots)}, after ${describeSlots(r.state.slots)}`;
  if (r.state.tim !== before.tim) return `the TIM changed from ${before.tim} to ${r.state.tim}`;
  return undefined;
}

/** a failed install that must not have happened: roll it back at once (the device is left recoverable) */
async function undo(kit: Kit, jobId: string, exchanges: Exchange[]): Promise<void> {
  const from = kit.session.received.length;
  const o = await kit.session.rpc(rollbackXml(jobId));
  exchanges.push(o.exchange);
  if (startedStatus(o) === 'started') exchanges.push((await completion(kit, jobId, from)).exchange);
}

async function expectFailedUpdate(kit: Kit, id: RequirementId, status: 'download-error' | 'integrity-error', jobId: string, o: RpcOutcome, from: number, before: DeviceState, what: string): Promise<void> {
  const expected = `status started, then software-update-complete with status ${status} for job ${jobId}, slots and TIM unchanged`;
  const exchanges = [o.exchange];
  const st = startedStatus(o);
  if (st !== 'started') {
    kit.fail(id, `${what}: the software-update answered ${st} (the failure must be reported by the completion)`, expected, exchanges);
    return;
  }
  const w = await completion(kit, jobId, from);
  exchanges.push(w.exchange);
  if (!w.c) {
    kit.fail(id, `${what}: ${w.problem ?? 'no completion'}`, expected, exchanges);
    return;
  }
  const problem = await unchanged(kit, before, exchanges);
  if (w.c.status !== status) {
    kit.fail(id, `${what}: completion status ${w.c.status}${problem !== undefined ? `; ${problem}` : ''}`, expected, exchanges);
    if (w.c.status === 'completed' || w.c.status === 'self-check-failed') await undo(kit, jobId, exchanges);
  } else if (problem !== undefined) {
    kit.fail(id, `${what}: status ${status}, but ${problem}`, expected, exchanges);
  } else {
    kit.pass(id, `${what}: completion ${status}, slots and TIM unchanged`, exchanges);
  }
}

/** 1. an unreachable URI (a port the kit holds and never listens on): download-error, nothing installed (UPD-01); returns its job id */
async function checkUnreachable(kit: Kit, before: DeviceState): Promise<{ jobId: string; uri: string }> {
  const jobId = kit.newJobId();
  const uri = await kit.image.unreachableUrl();
  const from = kit.session.received.length;
  const o = await update(kit, { jobId, uri, softwareRim: kit.image.digest, selfCheck: true });
  await expectFailedUpdate(kit, 'HSV-UPD-01', 'download-error', jobId, o, from, before, `uri ${uri} (connection refused)`);
  return { jobId, uri };
}

/** 2. the same job-id again: refused, nothing started (ERR-03) */
async function checkReusedJobId(kit: Kit, jobId: string, uri: string): Promise<void> {
  const from = kit.session.received.length;
  const o = await update(kit, { jobId, uri, softwareRim: kit.image.digest, selfCheck: true });
  const st = startedStatus(o);
  if (o.error || st === 'refused') kit.pass('HSV-ERR-03', `a reused job-id is refused (${o.error ? `rpc-error ${o.error.errors[0]?.tag ?? ''}` : 'status refused'})`, [o.exchange]);
  else {
    kit.fail('HSV-ERR-03', `a software-update reusing job-id ${jobId} answered ${st}`, 'status refused (or an rpc-error): a job-id names one job; the OAM relies on it to tell completions apart', [o.exchange]);
    if (st === 'started') await completion(kit, jobId, from);
  }
}

/** 3. the kit's image announced with a wrong software-rim: integrity-error, nothing installed (UPD-02) */
async function checkWrongRim(kit: Kit, before: DeviceState): Promise<void> {
  const jobId = kit.newJobId();
  const wrongRim = createHash('sha256').update('not the image ').update(kit.image.digest).digest('hex');
  const from = kit.session.received.length;
  const o = await update(kit, { jobId, uri: kit.image.url(`/image-${jobId}.bin`), softwareRim: wrongRim, selfCheck: true });
  await expectFailedUpdate(kit, 'HSV-UPD-02', 'integrity-error', jobId, o, from, before, `the kit's image announced with software-rim ${wrongRim.slice(0, 16)}... (its digest is ${kit.image.digest.slice(0, 16)}...)`);
}

/** the good update as sent: its job, image path, version and nonce, the slots before it, its first reply */
interface GoodStart {
  good: GoodUpdate;
  path: string;
  version: string;
  nonce: Buffer;
  from: number;
  o: RpcOutcome;
}

/** 4. the good update, its image held by the kit's server */
async function startGoodUpdate(kit: Kit, before: DeviceState): Promise<GoodStart> {
  const now = await kit.readState();
  const base = now.state ?? before;
  const jobId = kit.newJobId();
  const path = `/image-${jobId}.bin`;
  const version = `hsv-kit-${jobId.slice(8)}`;
  const nonce = kit.nonce();
  kit.image.hold(path);
  const sentAt = Date.now();
  const from = kit.session.received.length;
  const o = await update(kit, { jobId, uri: kit.image.url(path), softwareRim: kit.image.digest, version, selfCheck: true, nonce });
  return { good: { jobId, sentAt, before: base }, path, version, nonce, from, o };
}

/** 5. a second update while the first runs: in-use / slot-busy (UPD-05); returns it, and whether it started */
async function checkBusy(kit: Kit, first: RpcOutcome): Promise<{ jobId: string; path: string; from: number; started: boolean }> {
  const jobId = kit.newJobId();
  const path = `/image-${jobId}.bin`;
  kit.image.hold(path);
  const from = kit.session.received.length;
  const o = await update(kit, { jobId, uri: kit.image.url(path), softwareRim: kit.image.digest, selfCheck: true });
  const e = o.error?.errors[0];
  const busyExpected = '<rpc-error> error-tag in-use, error-app-tag slot-busy while an install runs';
  let started = false;
  if (e && e.tag === 'in-use' && e.appTag === 'slot-busy') kit.pass('HSV-UPD-05', 'a second software-update during the install: in-use / slot-busy', [first.exchange, o.exchange]);
  else if (e) kit.fail('HSV-UPD-05', `refused with error-tag ${e.tag}${e.appTag !== undefined ? `, error-app-tag ${e.appTag}` : ''}`, busyExpected, [first.exchange, o.exchange]);
  else {
    started = startedStatus(o) === 'started';
    kit.fail('HSV-UPD-05', `a second software-update during the install answered ${startedStatus(o)}`, busyExpected, [first.exchange, o.exchange]);
  }
  return { jobId, path, from, started };
}

/** UPD-03: the good update's completion says completed, and the image was fetched from the uri given */
function judgeCompletion(kit: Kit, c: CompletionEvent, path: string, fetched: boolean, exchanges: Exchange[]): void {
  if (c.status !== 'completed') kit.fail('HSV-UPD-03', `completion status ${c.status}${c.reason !== undefined ? ` (${c.reason})` : ''}`, 'status completed for a correct image', exchanges);
  else if (!fetched && !kit.image.requests.includes(path)) kit.fail('HSV-UPD-03', 'completed, but the image was never fetched from the uri given', `a GET of ${kit.image.url(path)}`, exchanges);
  else kit.pass('HSV-UPD-03', `fetched ${kit.image.url(path)} (${kit.image.size} octets) and completed`, exchanges);
}

/** what is wrong with the slots after the good update (the inactive slot `target` took it; `running` kept its software) */
function slotProblems(kit: Kit, base: DeviceState, after: DeviceState, version: string): string[] {
  const target = base.slots.find((s) => !s.active);
  const running = base.slots.find((s) => s.running);
  const t = target ? after.slots.find((s) => s.name === target.name) : undefined;
  const old = running ? after.slots.find((s) => s.name === running.name) : undefined;
  const problems: string[] = [];
  if (!target || !t) problems.push('no inactive slot before the update');
  else {
    if (!(t.status === 'VALID' && t.active && t.running)) problems.push(`slot ${t.name} (inactive before) is ${describeSlots([t])}, not VALID, active and running`);
    if (t.rim !== undefined && t.rim !== kit.image.digest) problems.push(`slot ${t.name} rim ${t.rim} is not the image's digest`);
    if (t.version !== undefined && t.version !== version) problems.push(`slot ${t.name} version ${t.version} is not ${version}`);
  }
  if (!old || !running) problems.push('the slot that ran before is gone');
  else if (old.running || old.status !== 'VALID' || old.version !== running.version || old.rim !== running.rim) problems.push(`slot ${old.name} (running before) is now ${describeSlots([old])}: it must keep its software (VALID, not running)`);
  return problems;
}

/** UPD-04: the slots after the good update; returns the state read */
async function checkSlotsAfter(kit: Kit, base: DeviceState, version: string): Promise<DeviceState | undefined> {
  const after = await kit.readState();
  const slotEx = [after.exchange];
  if (!after.state) {
    kit.fail('HSV-UPD-04', after.problem ?? 'state unreadable', 'software-slots after the update', slotEx);
    return undefined;
  }
  const problems = slotProblems(kit, base, after.state, version);
  if (problems.length > 0) kit.fail('HSV-UPD-04', problems.join('; '), 'the update lands in the slot that was inactive (now VALID, active, running, rim = the image digest); the old slot keeps its software for a rollback', slotEx);
  else kit.pass('HSV-UPD-04', `before: ${describeSlots(base.slots)}; after: ${describeSlots(after.state.slots)}`, slotEx);
  return after.state;
}

/** 4-5: the good update (UPD-03, UPD-04), a second one while it runs (UPD-05), its completion (CPL-01, CPL-02) */
async function checkGoodUpdate(kit: Kit, before: DeviceState): Promise<GoodUpdate> {
  const { good, path, version, nonce, from, o } = await startGoodUpdate(kit, before);
  const { jobId, before: base } = good;
  const st = startedStatus(o);
  if (st !== 'started') {
    kit.image.release(path);
    kit.fail('HSV-UPD-03', `the software-update answered ${st}`, 'status started, then software-update-complete with status completed', [o.exchange]);
    for (const id of ['HSV-UPD-04', 'HSV-UPD-05', 'HSV-CPL-01', 'HSV-CPL-02'] as const) kit.skip(id, 'the good update did not start (HSV-UPD-03)');
    return good;
  }
  const fetched = await kit.image.requested(path, Math.min(kit.options.completionTimeoutMs, 30_000));
  const second = await checkBusy(kit, o);
  kit.image.release(path);
  const w = await completion(kit, jobId, from);
  const exchanges = [o.exchange, w.exchange];
  kit.image.release(second.path);
  if (second.started) await completion(kit, second.jobId, second.from);
  if (!w.c) {
    kit.fail('HSV-UPD-03', w.problem ?? 'no completion', 'software-update-complete with status completed', exchanges);
    for (const id of ['HSV-UPD-04', 'HSV-CPL-01', 'HSV-CPL-02'] as const) kit.skip(id, 'no completion of the good update (HSV-UPD-03)');
    return good;
  }
  good.completion = w.c;
  judgeCompletion(kit, w.c, path, fetched, exchanges);
  const after = await checkSlotsAfter(kit, base, version);
  checkCompletion(kit, { c: w.c, before: base, rim: kit.image.digest, nonce, jobId, exchanges, ...(after ? { stateAfterTim: after.tim } : {}) });
  return good;
}

export async function checkUpdates(kit: Kit): Promise<GoodUpdate | undefined> {
  const before = kit.before;
  if (!before) {
    for (const id of ['HSV-UPD-01', 'HSV-ERR-03', 'HSV-UPD-02', 'HSV-UPD-03', 'HSV-UPD-04', 'HSV-UPD-05', 'HSV-CPL-01', 'HSV-CPL-02'] as const) {
      kit.skip(id, 'the state before the update could not be read (HSV-STATE-01)');
    }
    return undefined;
  }
  const first = await checkUnreachable(kit, before);
  await checkReusedJobId(kit, first.jobId, first.uri);
  await checkWrongRim(kit, before);
  return checkGoodUpdate(kit, before);
}
