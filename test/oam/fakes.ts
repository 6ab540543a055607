/**
 * Fakes for the flow tests: an in-memory Store (transactions roll back by snapshot), a PVE, a fleet of
 * devices with the simulator's profiles, a fetcher and result tokens. No sockets, no real timers (the
 * device's install delay uses the global setTimeout, which the tests replace with vitest fake timers).
 */
import { HsvError } from '../../src/errors.js';
import type {
  ConsumeNonceResult, HenbInput, HenbRecord, JobEvent, JobRecord, JobTransitionOptions, NewJob, NonceInput, NonceRecord,
  NewNotification, NotificationLogTimes, NotificationQuery, NotificationRecord, ResultInput, ResultRecord, ReferenceLogRecord, Store, StoreTx,
} from '../../src/store/types.js';
import type { EarClaims, EarStatus } from '../../src/tokens/types.js';
import { nextAuditRecord } from '../../src/store/audit.js';
import type { AuditHeadInput, AuditHeadRecord, AuditInput, AuditRecord } from '../../src/store/audit.js';
import type { DeviceCompletion, DeviceDriver, PveClient, PveIntegrityRequest, SoftwareFetcher, SoftwareUpdateCommand, MeasurementLogEntry } from '../../src/oam/ports.js';
import type { ResultTokens } from '../../src/oam/result-token.js';
import { extendDigest, replayLog } from '../../src/oam/measure.js';
import { BASE_LOG, OLD_RIM, SW_RIM, h } from './helpers.js';
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { rebootLogAfterUpdate, signCompletion } from '../../src/integrity/index.js';
import { appraiseCompletion } from '../../src/pve/appraise.js';

/** Each fake H(e)NB's attestation key (ECDSA P-256), made on first use: the devices sign with it, the PVE verifies. */
const DEVICE_KEYS = new Map<string, KeyObject>();
export function deviceKey(henbId: string): KeyObject {
  let k = DEVICE_KEYS.get(henbId);
  if (k === undefined) {
    k = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    DEVICE_KEYS.set(henbId, k);
  }
  return k;
}

/** A completion signed as a device signs it (src/integrity/evidence.ts), over `nonce` (the job's update nonce text). */
export function signedCompletion(c: DeviceCompletion, nonce: string, key: KeyObject = deviceKey(c.henbId)): DeviceCompletion {
  const tim = c.tim ?? h('unchanged');
  const log = c.measurementLog ?? [];
  const deviceStatus = c.deviceStatus ?? (c.status === 'completed' ? 'completed' : 'install-error');
  const signature = signCompletion({
    henbId: c.henbId, jobId: c.jobId, nonce: Buffer.from(nonce, 'base64'), status: deviceStatus, tim, log,
    ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
    ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
  }, key);
  return { ...c, tim, measurementLog: log, deviceStatus, evidence: { format: 'software-key', nonce, signatureAlgorithm: 'ES256', signature } };
}

interface Data {
  henbs: Map<string, HenbRecord>;
  jobs: Map<string, JobRecord>;
  events: JobEvent[];
  results: ResultRecord[];
  nonces: Map<string, NonceRecord>;
  jtis: Map<string, number>;
  referenceLogs: Map<string, ReferenceLogRecord>;
}

const clone = <T>(x: T): T => structuredClone(x);
const storeErr = (code: string, msg: string): HsvError => new HsvError(code, msg);

export class MemoryStore implements Store {
  readonly kind = 'sqlite' as const;
  d: Data = { henbs: new Map(), jobs: new Map(), events: [], results: [], nonces: new Map(), jtis: new Map(), referenceLogs: new Map() };
  /** count of committed transactions (tests check persist-before-effect ordering with it) */
  commits = 0;
  /** make the next saveJobTransition throw (simulates a failing database) */
  failNextSave = false;
  /** make matching saveJobTransition calls throw (simulates a crash at that point) */
  failSaveWhen: ((state: string, reason: string | undefined) => boolean) | undefined;

  async transaction<T>(fn: (tx: StoreTx) => Promise<T> | T): Promise<T> {
    const snapshot = clone(this.d);
    try {
      const r = await fn(this);
      this.commits++;
      return r;
    } catch (err) {
      this.d = snapshot;
      throw err;
    }
  }
  async close(): Promise<void> { /* nothing */ }

  async getHenb(id: string): Promise<HenbRecord | undefined> { const r = this.d.henbs.get(id); return r && clone(r); }
  async putHenb(rec: HenbInput): Promise<HenbRecord> {
    const r = { ...rec, updatedAt: Date.now() };
    this.d.henbs.set(rec.henbId, r);
    return clone(r);
  }
  async listHenbs(filter?: { state?: HenbRecord['state'] }): Promise<HenbRecord[]> {
    return [...this.d.henbs.values()].filter((x) => !filter?.state || x.state === filter.state).map(clone);
  }
  async deleteHenb(id: string): Promise<boolean> { return this.d.henbs.delete(id); }

  async createJob<T>(job: NewJob<T>): Promise<JobRecord<T>> {
    if (this.d.jobs.has(job.jobId)) throw storeErr('ERR_STORE_DUPLICATE', job.jobId);
    const now = Date.now();
    const rec: JobRecord<T> = {
      jobId: job.jobId, henbId: job.henbId, kind: job.kind, state: job.state, data: clone(job.data), version: 1,
      deadline: job.deadline ?? null, attempts: 0, updateSent: false, terminal: false, owner: job.owner ?? null,
      leaseUntil: job.leaseUntil ?? null, createdAt: now, updatedAt: now,
    };
    this.d.jobs.set(job.jobId, rec as JobRecord);
    this.d.events.push({ jobId: job.jobId, seq: 1, fromState: null, toState: job.state, at: now, reason: job.reason ?? null, detail: null });
    return clone(rec);
  }
  async getJob<T>(id: string): Promise<JobRecord<T> | undefined> { const r = this.d.jobs.get(id); return r && (clone(r) as JobRecord<T>); }
  async saveJobTransition<T>(id: string, state: string, o: JobTransitionOptions<T>): Promise<JobRecord<T>> {
    if (this.failNextSave) { this.failNextSave = false; throw storeErr('ERR_STORE_OPEN', 'disk full'); }
    if (this.failSaveWhen?.(state, o.reason)) throw storeErr('ERR_STORE_OPEN', 'disk full');
    const cur = this.d.jobs.get(id);
    if (!cur) throw storeErr('ERR_STORE_NOT_FOUND', id);
    if (cur.version !== o.expectPrevVersion) throw storeErr('ERR_STORE_CONFLICT', id);
    const next: JobRecord = {
      ...cur, state, version: cur.version + 1, updatedAt: o.at ?? Date.now(),
      ...(o.data !== undefined ? { data: clone(o.data) } : {}),
      ...(o.deadline !== undefined ? { deadline: o.deadline } : {}),
      ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
      updateSent: cur.updateSent || o.updateSent === true,
      terminal: cur.terminal || o.terminal === true,
    };
    this.d.jobs.set(id, next);
    const seq = this.d.events.filter((e) => e.jobId === id).length + 1;
    this.d.events.push({ jobId: id, seq, fromState: cur.state, toState: state, at: next.updatedAt, reason: o.reason ?? null, detail: o.detail ?? null });
    return clone(next) as JobRecord<T>;
  }
  async listActiveJobs<T>(): Promise<JobRecord<T>[]> {
    return [...this.d.jobs.values()].filter((j) => !j.terminal).map((j) => clone(j) as JobRecord<T>);
  }
  async listJobs<T>(filter?: { henbId?: string; limit?: number }): Promise<JobRecord<T>[]> {
    const all = [...this.d.jobs.values()].filter((j) => !filter?.henbId || j.henbId === filter.henbId);
    return all.slice(0, filter?.limit ?? all.length).map((j) => clone(j) as JobRecord<T>);
  }
  async listJobEvents(id: string): Promise<JobEvent[]> { return this.d.events.filter((e) => e.jobId === id).map(clone); }

  // job leases, as the real stores keep them (claim: unowned, own or expired; take: one job, any lease; taken from
  // another: version + 1)
  async claimJobs<T>(owner: string, leaseMs: number, now = Date.now()): Promise<JobRecord<T>[]> {
    this.alive.set(owner, now + leaseMs);
    const out: JobRecord<T>[] = [];
    for (const [id, j] of this.d.jobs) {
      if (j.terminal) continue;
      if (j.owner !== null && j.owner !== owner && j.leaseUntil !== null && (j.leaseUntil > now || (this.alive.get(j.owner) ?? 0) > now)) continue;
      const next = { ...j, owner, leaseUntil: now + leaseMs, version: j.owner !== null && j.owner !== owner ? j.version + 1 : j.version };
      this.d.jobs.set(id, next);
      out.push(clone(next) as JobRecord<T>);
    }
    return out;
  }
  async claimExpiredJobs<T>(owner: string, leaseMs: number, now = Date.now()): Promise<JobRecord<T>[]> {
    const out: JobRecord<T>[] = [];
    for (const [id, j] of this.d.jobs) {
      if (j.terminal || j.owner === owner) continue;
      if (j.owner !== null && j.leaseUntil !== null && (j.leaseUntil > now || (this.alive.get(j.owner) ?? 0) > now)) continue;
      const next = { ...j, owner, leaseUntil: now + leaseMs, version: j.owner !== null ? j.version + 1 : j.version };
      this.d.jobs.set(id, next);
      out.push(clone(next) as JobRecord<T>);
    }
    return out;
  }
  async takeJob<T>(jobId: string, owner: string, leaseMs: number, now = Date.now(), expectVersion?: number): Promise<JobRecord<T> | undefined> {
    const j = this.d.jobs.get(jobId);
    if (j === undefined || j.terminal || (expectVersion !== undefined && j.version !== expectVersion)) return undefined;
    const next = { ...j, owner, leaseUntil: now + leaseMs, version: j.owner !== null && j.owner !== owner ? j.version + 1 : j.version };
    this.d.jobs.set(jobId, next);
    return clone(next) as JobRecord<T>;
  }
  // as the stores: one heartbeat per instance holds the leases of its jobs (their rows are not written)
  private readonly alive = new Map<string, number>();
  async renewLeases(owner: string, leaseMs: number, now = Date.now()): Promise<number> {
    this.alive.set(owner, now + leaseMs);
    return 1;
  }
  async releaseJobs(owner: string): Promise<number> {
    this.alive.delete(owner);
    let n = 0;
    for (const j of this.d.jobs.values()) if (!j.terminal && j.owner === owner) { j.owner = null; j.leaseUntil = null; n++; }
    return n;
  }

  async putResult(rec: ResultInput): Promise<ResultRecord> {
    const r = { ...rec, createdAt: rec.createdAt ?? Date.now() };
    this.d.results.push(r);
    return clone(r);
  }
  async getResults(jobId: string): Promise<ResultRecord[]> { return this.d.results.filter((r) => r.jobId === jobId).map(clone); }
  async listResults(filter?: { henbId?: string; limit?: number }): Promise<ResultRecord[]> {
    return this.d.results.filter((r) => !filter?.henbId || r.henbId === filter.henbId).map(clone);
  }

  async putNonce(rec: NonceInput): Promise<NonceRecord> {
    if (this.d.nonces.has(rec.nonce)) throw storeErr('ERR_STORE_DUPLICATE', 'nonce');
    const r: NonceRecord = { nonce: rec.nonce, purpose: rec.purpose, jobId: rec.jobId ?? null, henbId: rec.henbId ?? null, createdAt: rec.createdAt ?? Date.now(), expiresAt: rec.expiresAt, consumedAt: null };
    this.d.nonces.set(rec.nonce, r);
    return clone(r);
  }
  async consumeNonce(nonce: string, now = Date.now()): Promise<ConsumeNonceResult> {
    const r = this.d.nonces.get(nonce);
    if (!r) return { ok: false, reason: 'unknown' };
    if (r.consumedAt !== null) return { ok: false, reason: 'consumed' };
    if (r.expiresAt <= now) return { ok: false, reason: 'expired' };
    r.consumedAt = now;
    return { ok: true, record: clone(r) };
  }
  async rememberJti(jti: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    const e = this.d.jtis.get(jti);
    if (e !== undefined && e > now) return false;
    this.d.jtis.set(jti, expiresAt);
    return true;
  }
  async putReferenceLog<T>(id: string, log: T): Promise<ReferenceLogRecord<T>> {
    const r = { henbId: id, log: clone(log), createdAt: Date.now(), updatedAt: Date.now() };
    this.d.referenceLogs.set(id, r);
    return clone(r);
  }
  async getReferenceLog<T>(id: string): Promise<ReferenceLogRecord<T> | undefined> { const r = this.d.referenceLogs.get(id); return r && (clone(r) as ReferenceLogRecord<T>); }
  async listReferenceLogs<T>(): Promise<ReferenceLogRecord<T>[]> { return [...this.d.referenceLogs.values()].map((r) => clone(r) as ReferenceLogRecord<T>); }
  async purgeExpired(): Promise<number> { return 0; }
  // the notification log, in memory (the real one is tested by test/store/contract.ts)
  private notifications: NotificationRecord[] = [];
  private lastNotification = 0;
  private agedAt: number | null = null;
  private readonly logCreatedAt = Date.now();
  async appendNotification(stream: string, eventTime: number, xml: string): Promise<number> {
    this.notifications.push({ id: ++this.lastNotification, stream, eventTime, xml });
    return this.lastNotification;
  }
  async appendNotifications(events: readonly NewNotification[]): Promise<number[]> {
    const ids: number[] = [];
    for (const e of events) ids.push(await this.appendNotification(e.stream, e.eventTime, e.xml));
    return ids;
  }
  async lastNotificationId(): Promise<number> { return this.lastNotification; }
  async listNotifications(q: NotificationQuery): Promise<NotificationRecord[]> {
    return this.notifications.filter((n) => n.id > (q.afterId ?? 0) && n.id <= (q.upToId ?? Infinity) && n.eventTime >= q.since
      && n.eventTime <= (q.until ?? Infinity) && (q.stream === undefined || n.stream === q.stream)).slice(0, q.limit ?? 1000);
  }
  async pruneNotifications(keep: number, olderThan: number): Promise<number> {
    const gone = this.notifications.filter((n) => n.id <= this.lastNotification - keep || n.eventTime < olderThan);
    for (const n of gone) this.agedAt = Math.max(this.agedAt ?? n.eventTime, n.eventTime);
    this.notifications = this.notifications.filter((n) => !gone.includes(n));
    return gone.length;
  }
  async notificationLogTimes(): Promise<NotificationLogTimes> { return { createdAt: this.logCreatedAt, agedAt: this.agedAt }; }

  // the audit log, in memory (the chain as the real stores build it; the flow tests do not read it)
  audit: AuditRecord[] = [];
  auditHeads: AuditHeadRecord[] = [];
  async appendAudit(entry: AuditInput): Promise<AuditRecord> {
    const rec = nextAuditRecord(entry, this.audit.at(-1));
    this.audit.push(rec);
    return rec;
  }
  async listAudit(filter: { afterSeq?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    return this.audit.filter((r) => r.seq > (filter.afterSeq ?? 0)).slice(0, filter.limit ?? 1000);
  }
  async lastAudit(): Promise<AuditRecord | undefined> { return this.audit.at(-1); }
  async putAuditHead(head: AuditHeadInput): Promise<AuditHeadRecord> {
    const rec = { ...head, id: this.auditHeads.length + 1 };
    this.auditHeads.push(rec);
    return rec;
  }
  async listAuditHeads(filter: { afterId?: number; limit?: number } = {}): Promise<AuditHeadRecord[]> {
    return this.auditHeads.filter((h) => h.id > (filter.afterId ?? 0)).slice(0, filter.limit ?? 1000);
  }
  async pruneJobs(before: number): Promise<number> {
    const gone = [...this.d.jobs.values()].filter((j) => j.terminal && j.updatedAt < before).map((j) => j.jobId);
    for (const id of gone) this.d.jobs.delete(id);
    this.d.events = this.d.events.filter((e) => !gone.includes(e.jobId));
    this.d.results = this.d.results.filter((r) => !gone.includes(r.jobId));
    return gone.length;
  }
}

// --- tokens: a transparent fake ("h.<base64url claims>.s") with the checks the real one makes on nonce and jti

export function fakeToken(claims: Partial<EarClaims>): string {
  return `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
}
export function decodeFake(token: string): EarClaims {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as EarClaims;
}

export class FakeTokens implements ResultTokens {
  seen = new Set<string>();
  signed: EarClaims[] = [];
  async verifyPve(token: string, expectedNonce: string): Promise<EarClaims> {
    const c = decodeFake(token);
    if (c.iss !== 'pve') throw new HsvError('ERR_TOKEN_ISSUER', 'issuer');
    if (c.eat_nonce !== expectedNonce) throw new HsvError('ERR_TOKEN_NONCE', 'nonce');
    if (this.seen.has(c.jti)) throw new HsvError('ERR_TOKEN_REPLAY', 'replay');
    this.seen.add(c.jti);
    return c;
  }
  /** reference values signed for the PVE (a transparent fake, like the results) */
  referenceValues: Array<Parameters<NonNullable<ResultTokens['signReferenceValues']>>[0]> = [];
  async signReferenceValues(input: Parameters<NonNullable<ResultTokens['signReferenceValues']>>[0]): Promise<string> {
    this.referenceValues.push(input);
    return `rv.${Buffer.from(JSON.stringify(input)).toString('base64url')}.s`;
  }
  async signFinal(input: Parameters<ResultTokens['signFinal']>[0]): Promise<string> {
    const claims = { ...input, iss: 'oam', aud: 'nms', jti: `final-${this.signed.length}` } as EarClaims;
    this.signed.push(claims);
    return fakeToken(claims);
  }
}

// --- PVE

export type PveBehaviour = 'affirming' | 'contraindicated' | 'warning' | 'down' | 'hang' | 'wrong-nonce' | 'bad-issuer' | 'replay' | 'henb-unreachable';

export class FakePve implements PveClient {
  behaviour = new Map<string, PveBehaviour>();
  calls: PveIntegrityRequest[] = [];
  /** post-update appraisals (phase post-update), with their verdict */
  appraisals: Array<{ henbId: string; jobId: string; status: EarStatus; reason?: string }> = [];
  /** the PVE itself is unreachable for post-update appraisals */
  appraisalDown = false;
  private last?: string;
  /** the reference values provided (the JWS as the OAM sent it) */
  provided: string[] = [];
  /** provide-reference-values fails with this code */
  provideFails: string | undefined;
  /**
   * when set, the pre-update verdict attests the TIM of this log (the device's current one) and is contraindicated
   * when the log's rootfs is not `acceptRootfs` (unset: any rootfs)
   */
  logOf: ((henbId: string) => MeasurementLogEntry[]) | undefined;
  acceptRootfs: Set<string> | undefined;
  constructor(private readonly defaultBehaviour: PveBehaviour = 'affirming') {}
  async provideReferenceValues(jws: string): Promise<void> {
    if (this.provideFails !== undefined) {
      throw Object.assign(new HsvError('ERR_PVE_REJECTED', `the PVE refused provide-reference-values (${this.provideFails})`), { appTag: this.provideFails });
    }
    this.provided.push(jws);
  }
  async integrityRequest(req: PveIntegrityRequest, signal: AbortSignal): Promise<{ token: string }> {
    this.calls.push(req);
    if (req.completion !== undefined) return this.appraise(req, req.completion);
    const b = this.behaviour.get(req.henbId) ?? this.defaultBehaviour;
    if (b === 'down') throw new HsvError('ERR_PVE_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:4443');
    if (b === 'henb-unreachable') {
      throw Object.assign(new HsvError('ERR_PVE_REJECTED', `cannot collect evidence from ${req.henbId} (ERR_DEVICE_UNREACHABLE)`), { appTag: 'henb-unreachable' });
    }
    if (b === 'hang') {
      return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    }
    if (b === 'replay' && this.last !== undefined) return { token: this.last };
    const log = this.logOf?.(req.henbId);
    const rootfsOk = log === undefined || this.acceptRootfs === undefined || log.filter((e) => e.component === 'rootfs').every((e) => this.acceptRootfs!.has(e.digest));
    const status: EarStatus = b === 'contraindicated' || b === 'warning' ? b : rootfsOk ? 'affirming' : 'contraindicated';
    const token = fakeToken({
      iss: b === 'bad-issuer' ? 'mallory' : 'pve', sub: req.henbId, jti: `pve-${this.calls.length}`,
      eat_nonce: b === 'wrong-nonce' ? 'x'.repeat(64) : req.nonce, ear_status: status,
      submods: { platform: {
        ear_status: status, 'job-id': req.jobId, phase: 'pre-update',
        ...(log !== undefined ? { 'reported-tim': replayLog(log), 'measurement-log': log } : {}),
        ...(rootfsOk ? {} : { reason: 'component rootfs is not a reference value' }),
      } },
    });
    this.last = token;
    return { token };
  }

  /** phase post-update, as the reference PVE does it: the real appraisal with the device's enrolled key */
  private appraise(req: PveIntegrityRequest, c: NonNullable<PveIntegrityRequest['completion']>): { token: string } {
    if (this.appraisalDown) throw new HsvError('ERR_PVE_UNREACHABLE', 'connect ECONNREFUSED 127.0.0.1:4443');
    const a = appraiseCompletion({
      status: c.status, tim: c.tim, log: c.measurementLog, evidence: c.evidence,
      ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
      ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
    }, { henbId: req.henbId, jobId: req.jobId, nonce: Buffer.from(req.nonce, 'base64') }, deviceKey(req.henbId));
    this.appraisals.push({ henbId: req.henbId, jobId: req.jobId, status: a.status, ...(a.reason !== undefined ? { reason: a.reason } : {}) });
    return {
      token: fakeToken({
        iss: 'pve', sub: req.henbId, jti: `pve-${this.calls.length}`, eat_nonce: req.nonce, ear_status: a.status,
        submods: { completion: {
          ear_status: a.status, 'job-id': req.jobId, phase: 'post-update', 'evidence-format': c.evidence.format,
          ...(a.signatureValid ? { 'reported-tim': c.tim } : {}), ...(a.reason !== undefined ? { reason: a.reason } : {}),
        } },
      }),
    };
  }
}

// --- devices

export type DeviceProfile = 'healthy' | 'healthy-reboot' | 'bad-install' | 'self-check-fail' | 'unreachable' | 'slow' | 'no-ack' | 'install-fails' | 'no-log' | 'unsigned';

export class FakeDevices implements DeviceDriver {
  profiles = new Map<string, DeviceProfile>();
  /** the log each device runs now */
  logs = new Map<string, MeasurementLogEntry[]>();
  updates: Array<{ henbId: string; cmd: SoftwareUpdateCommand }> = [];
  rollbacks: Array<{ henbId: string; jobId: string }> = [];
  installMs = 500;
  /** the log before the last install that changed it (what a rollback goes back to) */
  private previous = new Map<string, MeasurementLogEntry[]>();
  /** the device accepts a rollback but keeps running what it runs */
  rollbackIneffective = false;
  private listeners = new Set<(c: DeviceCompletion) => void>();

  constructor(private readonly defaultProfile: DeviceProfile = 'healthy') {}

  logOf(henbId: string): MeasurementLogEntry[] {
    return this.logs.get(henbId) ?? BASE_LOG;
  }

  async softwareUpdate(henbId: string, cmd: SoftwareUpdateCommand, signal: AbortSignal): Promise<void> {
    this.updates.push({ henbId, cmd });
    const p = this.profiles.get(henbId) ?? this.defaultProfile;
    if (p === 'unreachable') throw new HsvError('ERR_DEVICE_UNREACHABLE', `H(e)NB ${henbId} unreachable`);
    if (p === 'no-ack') {
      return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    }
    if (p === 'slow') return; // accepts, never completes
    setTimeout(() => this.finishInstall(henbId, cmd, p), this.installMs);
  }

  private finishInstall(henbId: string, cmd: SoftwareUpdateCommand, p: DeviceProfile): void {
    const before = this.logOf(henbId);
    const measured = p === 'bad-install' || p === 'self-check-fail' ? h('corrupted-image') : cmd.softwareRim;
    const log = p === 'healthy-reboot'
      ? rebootLogAfterUpdate(before, 'rootfs', measured)
      : [...before, { component: 'rootfs', digest: measured }];
    const tim = replayLog(log);
    const c: DeviceCompletion = { henbId, jobId: cmd.jobId, status: 'completed', tim };
    if (p !== 'no-log') c.measurementLog = log;
    if (cmd.selfCheck && p !== 'bad-install') {
      const want = p === 'healthy-reboot' ? replayLog(rebootLogAfterUpdate(before, 'rootfs', cmd.softwareRim)) : extendDigest(replayLog(before), cmd.softwareRim);
      c.selfCheck = tim === want ? 'passed' : 'failed';
      if (c.selfCheck === 'failed') c.reason = 'self-check: TIM differs from the expected one';
    } else c.selfCheck = 'not-performed';
    if (p === 'install-fails') { c.status = 'failed'; c.reason = 'APPLICATION_ERROR: no space left'; delete c.tim; delete c.measurementLog; }
    if (c.status === 'completed' && c.selfCheck !== 'failed') {
      this.previous.set(henbId, before);
      this.logs.set(henbId, log);
    }
    this.emit(p === 'unsigned' ? c : this.sign(c, cmd.nonce, before));
  }

  /** the device's evidence over the job's nonce (a failed install reports its unchanged TIM and log) */
  private sign(c: DeviceCompletion, nonce: string, before: MeasurementLogEntry[]): DeviceCompletion {
    const withState = c.tim === undefined ? { ...c, tim: replayLog(before), measurementLog: before } : c;
    const signed = signedCompletion(withState.measurementLog === undefined ? { ...withState, measurementLog: [] } : withState, nonce);
    // no-log: the device signs an empty log and sends none; the PVE then cannot replay it (a TIM alone is not evidence)
    if (c.measurementLog === undefined && c.tim !== undefined) delete signed.measurementLog;
    return signed;
  }

  emit(c: DeviceCompletion): void {
    for (const l of this.listeners) l(c);
  }

  /** rollback calls never answer (until aborted) */
  rollbackHangs = false;
  async rollback(henbId: string, jobId: string, signal: AbortSignal): Promise<void> {
    this.rollbacks.push({ henbId, jobId });
    if (this.rollbackHangs) {
      return new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    }
    const prev = this.previous.get(henbId);
    if (prev !== undefined && !this.rollbackIneffective) {
      this.logs.set(henbId, prev);
      this.previous.delete(henbId);
    }
  }

  resumed: Array<{ henbId: string; jobId: string; since: number }> = [];
  async resume(henbId: string, jobId: string, since: number): Promise<void> {
    this.resumed.push({ henbId, jobId, since });
  }

  onCompletion(listener: (c: DeviceCompletion) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number { return this.listeners.size; }
}

export class FakeFetcher implements SoftwareFetcher {
  calls: string[] = [];
  fail = false;
  async fetchAndDigest(uri: string): Promise<{ sha256: string; size: number }> {
    this.calls.push(uri);
    if (this.fail) throw new HsvError('ERR_SOFTWARE_NOT_FOUND', `no software at ${uri}`);
    return { sha256: SW_RIM, size: 1234 };
  }
}

/**
 * Phase post-update as the reference PVE answers it, for tests with a hand-written PveClient: the real appraisal of
 * the completion's evidence with the device's enrolled key (deviceKey), as EAR claims to sign.
 */
export function postUpdateClaims(req: PveIntegrityRequest): { status: EarStatus; submods: Record<string, EarClaims['submods'][string]> } {
  const c = req.completion!;
  const a = appraiseCompletion({
    status: c.status, tim: c.tim, log: c.measurementLog, evidence: c.evidence,
    ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}),
    ...(c.softwareVersion !== undefined ? { softwareVersion: c.softwareVersion } : {}),
  }, { henbId: req.henbId, jobId: req.jobId, nonce: Buffer.from(req.nonce, 'base64') }, deviceKey(req.henbId));
  return {
    status: a.status,
    submods: { completion: {
      ear_status: a.status, 'job-id': req.jobId, phase: 'post-update', 'evidence-format': c.evidence.format,
      ...(a.signatureValid ? { 'reported-tim': c.tim } : {}), ...(a.reason !== undefined ? { reason: a.reason } : {}),
    } },
  };
}

/**
 * An H(e)NB trusted at OLD_RIM (software 1.0.0) in `f.store`, and what the fake PVE and the fake device do for it
 * (the runner tests' set-up of one H(e)NB).
 */
export async function seedHenb(
  f: { store: { putHenb(h: { henbId: string; rim: string; softwareVersion: string; state: 'trusted'; lastResultToken: null }): Promise<unknown> }; pve: FakePve; devices: FakeDevices },
  henbId: string, pveB?: PveBehaviour, dev?: DeviceProfile,
): Promise<void> {
  await f.store.putHenb({ henbId, rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  if (pveB) f.pve.behaviour.set(henbId, pveB);
  if (dev) f.devices.profiles.set(henbId, dev);
}
