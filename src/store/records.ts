/**
 * What the two Store drivers share, so that they keep the same records under the same rules (./types.ts is the
 * contract; no RFC defines this persistence layer): the validation of every input (done here, before any SQL,
 * so both drivers refuse the same inputs with ERR_STORE_INVALID and write nothing) and the shaping of rows into
 * records. The SQL stays in each driver (./sqlite.ts, ./postgres.ts); what a store does besides, in ./base.ts.
 */
import { StoreError } from './errors.js';
import { EXCLUSIVE_JOB_KINDS, HENB_STATES } from './types.js';
import type {
  HenbInput, HenbRecord, HenbState, JobEvent, JobRecord, JobTransitionOptions, NewJob, NonceInput, NonceRecord,
  NewNotification, NotificationQuery, NotificationRecord, ResultInput, ResultRecord, ReferenceLogRecord,
} from './types.js';

/** A SHA-256 digest as hex (either case on input; stored lowercase). */
export const HEX64 = /^[0-9a-fA-F]{64}$/;

/** list* methods without a limit return at most this many rows. */
export const DEFAULT_LIST_LIMIT = 1000;

// ---------------------------------------------------------------------------------------------------------------
// Rows as both drivers read them back (times already numbers); flags are 0/1 in SQLite and booleans in PostgreSQL.

type Flag = 0 | 1 | boolean;
export interface HenbRow { henb_id: string; rim: string | null; software_version: string | null; state: string; last_result_token: string | null; updated_at: number }
export interface JobRow { job_id: string; henb_id: string; kind: string; state: string; data: string; version: number; deadline: number | null; attempts: number; update_sent: Flag; terminal: Flag; owner: string | null; lease_until: number | null; created_at: number; updated_at: number }
export interface EventRow { job_id: string; seq: number; from_state: string | null; to_state: string; at: number; reason: string | null; detail: string | null }
export interface ResultRow { job_id: string; kind: string; henb_id: string; ear_status: string; token: string; created_at: number }
export interface NonceRow { nonce: string; purpose: string; job_id: string | null; henb_id: string | null; created_at: number; expires_at: number; consumed_at: number | null }
export interface ReferenceLogRow { henb_id: string; log: string; created_at: number; updated_at: number }
export interface NotificationRow { id: number; stream: string; event_time: number; xml: string }

const flag = (v: Flag): boolean => v === true || v === 1;

export function henbFromRow(r: HenbRow): HenbRecord {
  return {
    henbId: r.henb_id, rim: r.rim, softwareVersion: r.software_version, state: r.state as HenbState,
    lastResultToken: r.last_result_token, updatedAt: r.updated_at,
  };
}

export function jobFromRow<T>(r: JobRow): JobRecord<T> {
  return {
    jobId: r.job_id, henbId: r.henb_id, kind: r.kind, state: r.state, data: JSON.parse(r.data) as T, version: r.version,
    deadline: r.deadline, attempts: r.attempts, updateSent: flag(r.update_sent), terminal: flag(r.terminal),
    owner: r.owner, leaseUntil: r.lease_until, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

/** a job's columns but its data, for a write's RETURNING (both drivers): the data is what the write gave */
export const JOB_COLUMNS_BUT_DATA = 'job_id, henb_id, kind, state, version, deadline, attempts, update_sent, terminal, owner, lease_until, created_at, updated_at';

/**
 * A job's record after a write that gave its data (createJob, saveJobTransition with data): the row's other columns
 * as stored (RETURNING JOB_COLUMNS_BUT_DATA), and the data from the JSON text written, parsed when the record's data
 * is first read (a copy of its own, as jobFromRow's, then kept; assignable). The OAM's runner keeps the job it wrote
 * and never reads it: the database returned 2.5-5 KB of data per transition and it was parsed again (issue 15:
 * 1.2 s of jobFromRow at 10,000 devices).
 */
export function jobWritten<T>(r: Omit<JobRow, 'data'>, data: string): JobRecord<T> {
  let parsed: { value: T } | undefined;
  return {
    jobId: r.job_id, henbId: r.henb_id, kind: r.kind, state: r.state,
    get data(): T {
      parsed ??= { value: JSON.parse(data) as T };
      return parsed.value;
    },
    set data(value: T) {
      parsed = { value };
    },
    version: r.version, deadline: r.deadline, attempts: r.attempts, updateSent: flag(r.update_sent), terminal: flag(r.terminal),
    owner: r.owner, leaseUntil: r.lease_until, createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export function eventFromRow(r: EventRow): JobEvent {
  return {
    jobId: r.job_id, seq: r.seq, fromState: r.from_state, toState: r.to_state, at: r.at, reason: r.reason,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
  };
}

export function resultFromRow(r: ResultRow): ResultRecord {
  return { jobId: r.job_id, kind: r.kind, henbId: r.henb_id, earStatus: r.ear_status, token: r.token, createdAt: r.created_at };
}

export function nonceFromRow(r: NonceRow): NonceRecord {
  return {
    nonce: r.nonce, purpose: r.purpose, jobId: r.job_id, henbId: r.henb_id, createdAt: r.created_at,
    expiresAt: r.expires_at, consumedAt: r.consumed_at,
  };
}

export function referenceLogFromRow<T>(r: ReferenceLogRow): ReferenceLogRecord<T> {
  return { henbId: r.henb_id, log: JSON.parse(r.log) as T, createdAt: r.created_at, updatedAt: r.updated_at };
}

export function notificationFromRow(r: NotificationRow): NotificationRecord {
  return { id: r.id, stream: r.stream, eventTime: r.event_time, xml: r.xml };
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs: each checks everything before the driver runs any SQL and returns the values to write.

/** putHenb: the record as it will be stored (RIM lowercased, updatedAt = now). */
export function henbRecord(rec: HenbInput, now: number): HenbRecord {
  requireId(rec?.henbId, 'henbId');
  const rim = rec.rim === null || rec.rim === undefined ? null : requireDigest(rec.rim, 'rim');
  if (!HENB_STATES.includes(rec.state)) invalid(`state must be one of ${HENB_STATES.join(', ')}`);
  const softwareVersion = optString(rec.softwareVersion, 'softwareVersion');
  const lastResultToken = optString(rec.lastResultToken, 'lastResultToken');
  return { henbId: rec.henbId, rim, softwareVersion, state: rec.state, lastResultToken, updatedAt: now };
}

/** createJob: the blob as JSON text, the deadline and lease as whole ms or null, the owner or null. */
export function newJobInput<T>(job: NewJob<T>): { data: string; deadline: number | null; owner: string | null; leaseUntil: number | null } {
  requireId(job?.jobId, 'jobId');
  requireId(job.henbId, 'henbId');
  requireId(job.kind, 'kind');
  requireId(job.state, 'state');
  if (job.owner !== undefined && job.owner !== null) requireId(job.owner, 'owner');
  const owner = job.owner ?? null;
  const leaseUntil = optTime(job.leaseUntil, 'leaseUntil');
  if (owner === null && leaseUntil !== null) invalid('leaseUntil needs an owner');
  return { data: toJson(job.data, 'data'), deadline: optTime(job.deadline, 'deadline'), owner, leaseUntil };
}

/** claimJobs / renewLeases: the new lease end and the time that decides which leases expired, whole ms. */
export function leaseInput(owner: string, leaseMs: number, now: number): { until: number; now: number } {
  requireId(owner, 'owner');
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) invalid('leaseMs must be a positive number of milliseconds');
  if (typeof now !== 'number' || !Number.isFinite(now)) invalid('now must be epoch milliseconds');
  return { until: Math.round(now + leaseMs), now: Math.round(now) };
}

/** takeJob: the job id, the new lease end, and the version the job must be at (null: any). */
export function takeInput(jobId: string, owner: string, leaseMs: number, now: number, expectVersion: number | undefined): {
  until: number; expectVersion: number | null;
} {
  requireId(jobId, 'jobId');
  const { until } = leaseInput(owner, leaseMs, now);
  if (expectVersion !== undefined && !(Number.isSafeInteger(expectVersion) && expectVersion >= 1)) invalid('expectVersion must be a positive integer');
  return { until, expectVersion: expectVersion ?? null };
}

/** releaseJobs: the owner. */
export function ownerInput(owner: string): string {
  requireId(owner, 'owner');
  return owner;
}

/**
 * createJob refused by a unique key: ERR_STORE_DUPLICATE when the job id is taken, else ERR_STORE_HENB_BUSY
 * (the index jobs_one_active of migration 2: the H(e)NB has an active job of this kind; jobs_one_active_flow of
 * migration 4: of one of EXCLUSIVE_JOB_KINDS; `activeJobId` if found).
 */
export function jobRefused(job: NewJob<unknown>, idTaken: boolean, activeJobId: string | undefined, cause?: unknown): StoreError {
  if (idTaken) return new StoreError('ERR_STORE_DUPLICATE', `job ${job.jobId} already exists`, { cause });
  const which = activeJobId === undefined ? '' : ` (${activeJobId})`;
  return new StoreError('ERR_STORE_HENB_BUSY', `H(e)NB ${job.henbId} already has an active ${excludingKinds(job.kind).join(' or ')} job${which}`, { cause });
}

/** the kinds whose active job keeps a new job of `kind` from starting: its own, and for the flow's kinds both (EXCLUSIVE_JOB_KINDS) */
export function excludingKinds(kind: string): string[] {
  return (EXCLUSIVE_JOB_KINDS as readonly string[]).includes(kind) ? [...EXCLUSIVE_JOB_KINDS] : [kind];
}

/** saveJobTransition: undefined where the option was not given (the job keeps its value). */
export function transitionInput<T>(newState: string, o: JobTransitionOptions<T>): {
  data: string | undefined; deadline: number | null | undefined; detail: string | null; at: number;
} {
  requireId(newState, 'newState');
  if (!Number.isSafeInteger(o?.expectPrevVersion)) invalid('expectPrevVersion must be an integer');
  const data = o.data === undefined ? undefined : toJson(o.data, 'data');
  const deadline = o.deadline === undefined ? undefined : optTime(o.deadline, 'deadline');
  if (o.attempts !== undefined && !(Number.isSafeInteger(o.attempts) && o.attempts >= 0)) invalid('attempts must be a non-negative integer');
  const detail = o.detail === undefined ? null : toJson(o.detail, 'detail');
  return { data, deadline, detail, at: o.at ?? Date.now() };
}

/** putResult: the record as it will be stored. */
export function resultRecord(rec: ResultInput): ResultRecord {
  requireId(rec?.jobId, 'jobId');
  requireId(rec.kind, 'kind');
  requireId(rec.henbId, 'henbId');
  requireId(rec.earStatus, 'earStatus');
  requireId(rec.token, 'token');
  const createdAt = createdAtOf(rec.createdAt);
  return { jobId: rec.jobId, kind: rec.kind, henbId: rec.henbId, earStatus: rec.earStatus, token: rec.token, createdAt };
}

/** putNonce: the record as it will be stored (not consumed). */
export function nonceRecord(rec: NonceInput): NonceRecord {
  requireId(rec?.nonce, 'nonce');
  requireId(rec.purpose, 'purpose');
  const expiresAt = optTime(rec.expiresAt, 'expiresAt');
  if (expiresAt === null) invalid('expiresAt is required');
  const createdAt = createdAtOf(rec.createdAt);
  return {
    nonce: rec.nonce, purpose: rec.purpose, jobId: rec.jobId ?? null, henbId: rec.henbId ?? null, createdAt,
    expiresAt, consumedAt: null,
  };
}

/** rememberJti: the expiry to store, in whole ms rounded up. */
export function jtiExpiry(jti: string, expiresAt: number): number {
  requireId(jti, 'jti');
  if (!Number.isFinite(expiresAt)) invalid('expiresAt must be a number');
  return Math.ceil(expiresAt);
}

/** putReferenceLog: the log as JSON text. */
export function referenceLogInput(henbId: string, log: unknown): string {
  requireId(henbId, 'henbId');
  return toJson(log, 'log');
}

/** appendNotification: the values to write. */
export function notificationInput(stream: string, eventTime: number, xml: string): { stream: string; eventTime: number; xml: string } {
  requireId(stream, 'stream');
  if (typeof eventTime !== 'number' || !Number.isSafeInteger(eventTime)) invalid('eventTime must be whole epoch milliseconds');
  if (typeof xml !== 'string') invalid('xml must be a string');
  return { stream, eventTime, xml };
}

/** appendNotifications: every event checked (before anything is written), in order. */
export function notificationsInput(events: readonly NewNotification[]): Array<{ stream: string; eventTime: number; xml: string }> {
  if (!Array.isArray(events)) invalid('events must be an array');
  return events.map((e, i) => {
    if (typeof e !== 'object' || e === null) invalid(`events[${i}] must be an object`);
    try {
      return notificationInput(e.stream, e.eventTime, e.xml);
    } catch (err) {
      invalid(`events[${i}]: ${(err as Error).message}`);
    }
  });
}

/** listNotifications: the query with every bound a number (no bound: one that matches everything). */
export function notificationQuery(q: NotificationQuery): { stream: string | null; since: number; until: number; afterId: number; upToId: number; limit: number } {
  const num = (v: unknown, what: string, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) invalid(`${what} must be a number`);
    return v;
  };
  if (q?.stream !== undefined) requireId(q.stream, 'stream');
  return {
    stream: q.stream ?? null,
    since: num(q.since, 'since', -Number.MAX_SAFE_INTEGER),
    until: num(q.until, 'until', Number.MAX_SAFE_INTEGER),
    afterId: num(q.afterId, 'afterId', 0),
    upToId: num(q.upToId, 'upToId', Number.MAX_SAFE_INTEGER),
    limit: limitOf(q.limit),
  };
}

/** pruneNotifications: both bounds as numbers. */
export function pruneInput(keep: number, olderThan: number): { keep: number; olderThan: number } {
  if (!(Number.isSafeInteger(keep) && keep >= 0)) invalid('keep must be a whole number >= 0');
  if (typeof olderThan !== 'number' || !Number.isFinite(olderThan)) invalid('olderThan must be epoch milliseconds');
  return { keep, olderThan };
}

/** list*: the row limit (DEFAULT_LIST_LIMIT when not given). */
export function limitOf(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIST_LIMIT;
  if (!(Number.isSafeInteger(limit) && limit > 0)) invalid('limit must be a positive integer');
  return limit;
}

function invalid(message: string): never {
  throw new StoreError('ERR_STORE_INVALID', message);
}

function requireId(v: unknown, what: string): asserts v is string {
  if (typeof v !== 'string' || v === '') invalid(`${what} must be a non-empty string`);
}

function requireDigest(v: unknown, what: string): string {
  if (typeof v !== 'string' || !HEX64.test(v)) invalid(`${what} must be a SHA-256 digest as 64 hex characters`);
  return v.toLowerCase();
}

function optString(v: unknown, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') invalid(`${what} must be a string or null`);
  return v;
}

function optTime(v: unknown, what: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid(`${what} must be epoch milliseconds`);
  return Math.round(v);
}

/**
 * A record's createdAt: now when not given, else whole epoch milliseconds as given. Checked here because the
 * columns are integers: SQLite's STRICT tables refuse 1.5 with SQLITE_CONSTRAINT_DATATYPE (which its driver
 * would take for a duplicate key), PostgreSQL's BIGINT with 22P02.
 */
function createdAtOf(v: unknown): number {
  if (v === null || v === undefined) return Date.now();
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) invalid('createdAt must be whole epoch milliseconds');
  return v;
}

function toJson(v: unknown, what: string): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch (cause) {
    throw new StoreError('ERR_STORE_INVALID', `${what} is not JSON-serialisable`, { cause });
  }
  if (s === undefined) invalid(`${what} is not JSON-serialisable`);
  return s;
}
