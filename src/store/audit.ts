/**
 * The tamper-evident audit log (issue 11): an append-only hash chain in the store (tables audit_log and audit_heads, migration 7 in
 * both drivers) whose head is signed now and then with the OAM key (table audit_heads; the signing is the
 * plugin's, ../tokens/audit-head.ts; the store only keeps the signed heads).
 *
 * One record: seq (1, 2, 3, ... without gaps), at (epoch ms), actor (`netconf:<user>@<session-id>`, `ssh:<address>`,
 * `cli:<command>` or `system`), action, object, details (JSON text, hashed exactly as stored), prev_hash (the
 * previous record's hash; 64 zeros before the first) and hash:
 *     hash = SHA-256( JSON.stringify(['hsv-audit-v1', seq, at, actor, action, object, details, prev_hash]) )  (hex)
 * so a change of any field of any record, a deleted or reordered record, changes a hash that the next record or a
 * signed head holds. Appends are serialised: SQLite's write lock (BEGIN IMMEDIATE); on PostgreSQL every append
 * runs in a transaction that holds the store's transaction advisory lock (./postgres.ts), so several OAM
 * instances on one database extend one chain.
 *
 * The store records what it changes itself (auditEntryFor): job creations and transitions, RIM, state and
 * software-version changes of an H(e)NB (quarantine included), deleted H(e)NBs and changed reference logs, each in
 * the same transaction as the change (a change that rolls back leaves no record, a record never lacks its change).
 * Everything else (NACM denials, config edits, failed logins, key rotations) is appended by its owner through
 * Store.appendAudit.
 *
 * verifyAuditChain is the check `henb-sw-verify audit verify` runs: pure, over the records and heads as read.
 */
import * as crypto from 'node:crypto';
import { StoreError } from './errors.js';
import { henbRecord, referenceLogInput } from './records.js';
import type { AuditHeadInput, AuditHeadRecord, AuditInput, AuditRecord, HenbRecord, JobRecord, NewJob, JobTransitionOptions, HenbInput } from './types.js';

export type { AuditHeadInput, AuditHeadRecord, AuditInput, AuditRecord };

export const AUDIT_GENESIS = '0'.repeat(64);
const HASH_DOMAIN = 'hsv-audit-v1';

export interface AuditRow { seq: number; at: number; actor: string; action: string; object: string; details: string; prev_hash: string; hash: string }
export interface AuditHeadRow { id: number; seq: number; hash: string; kid: string; jws: string; signed_at: number }

export function auditFromRow(r: AuditRow): AuditRecord {
  return { seq: r.seq, at: r.at, actor: r.actor, action: r.action, object: r.object, details: r.details, prevHash: r.prev_hash, hash: r.hash };
}
export function auditHeadFromRow(r: AuditHeadRow): AuditHeadRecord {
  return { id: r.id, seq: r.seq, hash: r.hash, kid: r.kid, jws: r.jws, signedAt: r.signed_at };
}

/** The hash of one record (hex SHA-256 of its canonical form, see the top of this file). */
export function auditHash(r: Omit<AuditRecord, 'hash'>): string {
  return sha256Hex(JSON.stringify([HASH_DOMAIN, r.seq, r.at, r.actor, r.action, r.object, r.details, r.prevHash]));
}

/**
 * crypto.hash (Node 20.12 and later; engines allow 20.11): one call, no Hash object, about half the CPU of
 * createHash().update().digest() for a record's few hundred bytes (13 records per verified update)
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

function sha256Hex(text: string): string {
  return oneShotHash !== undefined ? oneShotHash('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}

const MAX_TEXT = 1024;
const MAX_DETAILS = 64 * 1024;

/** Validates an input and builds the record that follows `head` (undefined: the chain is empty). */
export function nextAuditRecord(input: AuditInput, head: { seq: number; hash: string } | undefined, now: number = Date.now()): AuditRecord {
  const { at, details } = checkedAuditInput(input, now);
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? AUDIT_GENESIS;
  const { actor, action, object } = input;
  // the record's fields in auditHash's order, hashed from the values themselves (no object copied for it)
  const hash = sha256Hex(JSON.stringify([HASH_DOMAIN, seq, at, actor, action, object, details, prevHash]));
  return { seq, at, actor, action, object, details, prevHash, hash };
}

/** an input's checks (ERR_STORE_INVALID), and its time and details as a record holds them */
function checkedAuditInput(input: AuditInput, now: number): { at: number; details: string } {
  if (typeof input !== 'object' || input === null) badAuditInput('expected an object');
  checkAuditText(input.actor, 'actor');
  checkAuditText(input.action, 'action');
  checkAuditText(input.object, 'object');
  const at = input.at ?? now;
  if (!Number.isSafeInteger(at) || at < 0) badAuditInput('at must be epoch milliseconds');
  let details: string;
  try {
    details = JSON.stringify(input.details ?? {});
  } catch (cause) {
    throw new StoreError('ERR_STORE_INVALID', 'audit record: details must be JSON-serialisable', { cause });
  }
  if (details === undefined) badAuditInput('details must be JSON-serialisable');
  if (details.length > MAX_DETAILS) badAuditInput(`details must be at most ${MAX_DETAILS} characters of JSON`);
  return { at, details };
}

// module functions, not closures made per call (under tsx each closure made is named by a call of its own)
function checkAuditText(v: unknown, f: string): void {
  if (typeof v !== 'string' || v === '' || v.length > MAX_TEXT || v.includes('\u0000')) badAuditInput(`${f} must be a non-empty string of at most ${MAX_TEXT} characters`);
}

function badAuditInput(m: string): never {
  throw new StoreError('ERR_STORE_INVALID', `audit record: ${m}`);
}

export function auditHeadInput(h: AuditHeadInput): AuditHeadInput {
  const bad = (m: string): never => { throw new StoreError('ERR_STORE_INVALID', `audit head: ${m}`); };
  if (!Number.isSafeInteger(h?.seq) || h.seq < 1) bad('seq must be a positive integer');
  if (typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) bad('hash must be 64 lowercase hex characters');
  if (typeof h.kid !== 'string' || h.kid === '') bad('kid must be a non-empty string');
  if (typeof h.jws !== 'string' || h.jws.split('.').length !== 3) bad('jws must be a compact JWS');
  if (!Number.isSafeInteger(h.signedAt) || h.signedAt < 0) bad('signedAt must be epoch milliseconds');
  return { seq: h.seq, hash: h.hash, kid: h.kid, jws: h.jws, signedAt: h.signedAt };
}

export function auditLimit(limit: number | undefined): number {
  if (limit === undefined) return 1000;
  if (!(Number.isSafeInteger(limit) && limit > 0 && limit <= 100_000)) throw new StoreError('ERR_STORE_INVALID', 'limit must be an integer from 1 to 100000');
  return limit;
}

// ---------------------------------------------------------------------------------------------------------------
// What the store records of its own changes.

/** Store operations that append an audit record of their own (in the same transaction). */
export const AUDITED_OPS = new Set(['createJob', 'saveJobTransition', 'putHenb', 'deleteHenb', 'putReferenceLog']);

/** The actor of the store's own records: the flow acting on its own (the job's owner, when known, is in details). */
export const SYSTEM_ACTOR = 'system';

/**
 * What a job's move replaced, for its record: the job's state and update-sent flag before it. Each driver's move
 * returns them itself (SQLite: its checks read them; PostgreSQL: its one statement returns them).
 */
export interface JobBefore { state: string; updateSent: boolean }

/** What to read before an audited operation, so that its record can say what changed: the H(e)NB record (putHenb). */
export function auditBefore(name: string, args: unknown[]): { op: 'getHenb'; id: string } | undefined {
  if (name === 'putHenb') {
    const id = (args[0] as HenbInput | undefined)?.henbId;
    return typeof id === 'string' ? { op: 'getHenb', id } : undefined;
  }
  return undefined;
}

/** The record an audited operation appends (undefined: nothing audit-worthy changed). */
export function auditEntryFor(name: string, args: unknown[], result: unknown, before: unknown): AuditInput | undefined {
  switch (name) {
    case 'createJob':
      return jobCreated(args[0] as NewJob, result as JobRecord);
    case 'saveJobTransition':
      return jobTransition(args[2] as JobTransitionOptions, result as JobRecord, before as JobBefore | undefined);
    case 'putHenb':
      return henbChanged(result as HenbRecord, before as HenbRecord | undefined);
    case 'deleteHenb':
      return result === true ? { actor: SYSTEM_ACTOR, action: 'henb-deleted', object: `henb/${String(args[0])}` } : undefined;
    case 'putReferenceLog':
      return referenceLogChanged(args[0], args[1]);
    default:
      return undefined;
  }
}

/** An audited operation's record, made and checked before its write (auditCheckedBefore); undefined: none is due. */
export interface CheckedAudit {
  entry: AuditInput | undefined;
}

/**
 * For the audited operations whose record follows from their arguments and what was read before them (putHenb,
 * putReferenceLog): checks their input and makes and checks that record before their write (ERR_STORE_INVALID, as
 * the operation or its append would), so that after the write nothing but the database can refuse the record; the
 * write's record is then this one (checkedAuditEntry), not made again. Returns undefined for the others (createJob
 * and saveJobTransition record what their write returns; deleteHenb records only a deletion).
 */
export function auditCheckedBefore(name: string, args: unknown[], before: unknown, now: number = Date.now()): CheckedAudit | undefined {
  let entry: AuditInput | undefined;
  if (name === 'putHenb') entry = henbChanged(henbRecord(args[0] as HenbInput, now), before as HenbRecord | undefined);
  else if (name === 'putReferenceLog') {
    referenceLogInput(args[0] as string, args[1]);
    entry = referenceLogChanged(args[0], args[1]);
  } else return undefined;
  if (entry !== undefined) checkedAuditInput(entry, now);
  return { entry };
}

/**
 * The record of an operation checked before its write (auditCheckedBefore), once written: what auditEntryFor would
 * make of its result. An H(e)NB's record takes the time its write gave the H(e)NB (the check's was the check's own).
 */
export function checkedAuditEntry(name: string, checked: CheckedAudit, result: unknown): AuditInput | undefined {
  const { entry } = checked;
  if (entry !== undefined && name === 'putHenb') entry.at = (result as HenbRecord).updatedAt;
  return entry;
}

function jobCreated(job: NewJob, rec: JobRecord): AuditInput {
  return {
    actor: SYSTEM_ACTOR, action: 'job-created', object: `job/${rec.jobId}`, at: rec.createdAt,
    details: { henbId: rec.henbId, kind: rec.kind, state: rec.state, ...(job.reason !== undefined ? { reason: job.reason } : {}), ...(rec.owner !== null ? { owner: rec.owner } : {}) },
  };
}

function jobTransition(o: JobTransitionOptions, rec: JobRecord, prev: JobBefore | undefined): AuditInput {
  return {
    actor: SYSTEM_ACTOR, action: 'job-transition', object: `job/${rec.jobId}`, at: rec.updatedAt,
    details: {
      henbId: rec.henbId, kind: rec.kind, from: prev?.state ?? null, to: rec.state, version: rec.version,
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
      ...(rec.terminal ? { terminal: true } : {}),
      ...(rec.updateSent && prev?.updateSent !== true ? { updateSent: true } : {}),
      ...(rec.owner !== null ? { owner: rec.owner } : {}),
    },
  };
}

/** an H(e)NB added, or its RIM, state (quarantine) or software version changed; undefined when none of them changed */
function henbChanged(rec: HenbRecord, prev: HenbRecord | undefined): AuditInput | undefined {
  const changes: Record<string, [unknown, unknown]> = {};
  if (prev?.rim !== rec.rim) changes.rim = [prev?.rim ?? null, rec.rim];
  if (prev?.state !== rec.state) changes.state = [prev?.state ?? null, rec.state];
  if (prev?.softwareVersion !== rec.softwareVersion) changes.softwareVersion = [prev?.softwareVersion ?? null, rec.softwareVersion];
  if (Object.keys(changes).length === 0) return undefined;
  const action = prev === undefined ? 'henb-added'
    : changes.rim ? 'rim-changed'
      : changes.state && rec.state === 'quarantined' ? 'henb-quarantined'
        : changes.state ? 'henb-state-changed' : 'henb-software-version';
  return { actor: SYSTEM_ACTOR, action, object: `henb/${rec.henbId}`, at: rec.updatedAt, details: changes };
}

/**
 * a reference log changed: its number of entries and the SHA-256 of its JSON (`json`: the text the store writes,
 * JSON.stringify(log), when the caller has it already)
 */
export function referenceLogChanged(henbId: unknown, log: unknown, json: string = JSON.stringify(log)): AuditInput {
  return {
    actor: SYSTEM_ACTOR, action: 'reference-log-changed', object: `henb/${String(henbId)}`,
    details: { entries: Array.isArray(log) ? log.length : null, sha256: sha256Hex(json) },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Verification.

export type AuditProblemKind = 'modified' | 'deleted' | 'reordered' | 'truncated' | 'head-signature' | 'unsigned';

export interface AuditProblem {
  kind: AuditProblemKind;
  /** the first seq that is wrong (for 'truncated': the first missing one; for 'unsigned': 1) */
  seq: number;
  message: string;
}

export interface AuditVerdict {
  ok: boolean;
  /** how many records were read */
  records: number;
  /** the last seq of the chain (0 when empty) */
  lastSeq: number;
  /** the seq the newest valid signed head covers (0 when none) */
  signedSeq: number;
  /** kid of that head */
  signedKid: string | null;
  /** records after the newest signed head (intact, not yet covered by a signature) */
  unsignedTail: number;
  heads: number;
  problem: AuditProblem | null;
}

/** Checks one head's JWS: returns its payload {seq, hash} when the signature verifies with a known key, else a reason. */
export type HeadChecker = (jws: string) => Promise<{ ok: true; seq: number; hash: string; kid: string } | { ok: false; reason: string }>;

/**
 * Recomputes the chain over `records` (in seq order as read) and checks every signed head against it.
 * The first problem found (in chain order) is reported:
 *  - modified: a record's hash is not the hash of its fields, or (its fields hashing right) is not the hash the next
 *    record or a signed head holds for it;
 *  - deleted: seq numbers skip (the record(s) in the gap are missing), or the first seq is not 1;
 *  - reordered: a record chains to a record other than the one before it, or its fields hash right only under
 *    another seq;
 *  - truncated: a signed head covers seq numbers beyond the last record;
 *  - head-signature: a head's JWS does not verify with the keys given (or disagrees with its columns);
 *  - unsigned: records exist but no head was ever signed (nothing proves the chain was not rewritten wholesale).
 */
export async function verifyAuditChain(records: readonly AuditRecord[], heads: readonly AuditHeadRecord[], checkHead: HeadChecker): Promise<AuditVerdict> {
  const verdict: AuditVerdict = {
    ok: false, records: records.length, lastSeq: records.at(-1)?.seq ?? 0, signedSeq: 0, signedKid: null, unsignedTail: 0,
    heads: heads.length, problem: null,
  };
  const fail = (p: AuditProblem): AuditVerdict => ({ ...verdict, problem: p });
  const broken = chainProblem(records);
  if (broken !== null) return fail(broken);
  const badHead = await headsProblem(records, heads, checkHead, verdict);
  if (badHead !== null) return fail(badHead);
  if (records.length > 0 && verdict.signedSeq === 0) {
    return fail({ kind: 'unsigned', seq: 1, message: `${records.length} record(s) and no signed head: nothing proves the chain was not rewritten` });
  }
  verdict.unsignedTail = verdict.lastSeq - verdict.signedSeq;
  return { ...verdict, ok: true };
}

/** the first record (in chain order) that does not hash right or does not follow the one before it; null when none */
function chainProblem(records: readonly AuditRecord[]): AuditProblem | null {
  const byHash = new Map<string, number>();
  for (const r of records) byHash.set(r.hash, r.seq);
  let prev: AuditRecord | undefined;
  for (const r of records) {
    const problem = recordProblem(r, prev, byHash);
    if (problem !== null) return problem;
    prev = r;
  }
  return null;
}

/** one record after `prev`: its own hash, its seq, then the hash it chains to */
function recordProblem(r: AuditRecord, prev: AuditRecord | undefined, byHash: ReadonlyMap<string, number>): AuditProblem | null {
  const expectedSeq = (prev?.seq ?? 0) + 1;
  const own = auditHash(r);
  if (own !== r.hash) return movedOrModified(r, expectedSeq, byHash);
  if (r.seq !== expectedSeq) {
    if (r.seq > expectedSeq) {
      const gap = r.seq - expectedSeq === 1 ? `record ${expectedSeq} is missing` : `records ${expectedSeq}..${r.seq - 1} are missing`;
      return { kind: 'deleted', seq: expectedSeq, message: `${gap} (the chain jumps from ${prev?.seq ?? 0} to ${r.seq})` };
    }
    return { kind: 'reordered', seq: r.seq, message: `record ${r.seq} follows record ${prev?.seq ?? 0}` };
  }
  const want = prev?.hash ?? AUDIT_GENESIS;
  if (r.prevHash !== want) {
    const other = byHash.get(r.prevHash);
    if (other !== undefined) return { kind: 'reordered', seq: r.seq, message: `record ${r.seq} chains to record ${other}, not to record ${r.seq - 1}` };
    if (prev === undefined) return { kind: 'modified', seq: r.seq, message: `record ${r.seq} does not start the chain (its previous hash is not the genesis value)` };
    return { kind: 'modified', seq: prev.seq, message: `record ${prev.seq} is not the record that record ${r.seq} chains to (it was rewritten with a new hash)` };
  }
  return null;
}

/** a record whose fields do not hash to its hash: moved when they hash right under another seq nearby, else modified */
function movedOrModified(r: AuditRecord, expectedSeq: number, byHash: ReadonlyMap<string, number>): AuditProblem {
  // the fields hash right under another position: the row was moved (seq rewritten)
  const near = Array.from({ length: 64 }, (_, i) => r.seq + (i % 2 === 0 ? i / 2 + 1 : -(i + 1) / 2));
  for (const s of [expectedSeq, (byHash.get(r.prevHash) ?? -1) + 1, ...near]) {
    if (s > 0 && s !== r.seq && auditHash({ ...r, seq: s }) === r.hash) {
      return { kind: 'reordered', seq: r.seq, message: `record ${r.seq} was written as record ${s} (moved)` };
    }
  }
  return { kind: 'modified', seq: r.seq, message: `record ${r.seq} does not hash to its stored hash (a field was changed)` };
}

/**
 * The signed heads, newest last: each must verify and name a record of this chain by its hash. The newest one
 * that does is the verdict's signedSeq and signedKid (set as the heads are read); the first problem, or null.
 */
async function headsProblem(records: readonly AuditRecord[], heads: readonly AuditHeadRecord[], checkHead: HeadChecker, verdict: AuditVerdict): Promise<AuditProblem | null> {
  const bySeq = new Map(records.map((r) => [r.seq, r]));
  for (const h of heads) {
    const c = await checkHead(h.jws);
    if (!c.ok) return { kind: 'head-signature', seq: h.seq, message: `the signed head of record ${h.seq} (head ${h.id}) does not verify: ${c.reason}` };
    if (c.seq !== h.seq || c.hash !== h.hash || c.kid !== h.kid) {
      return { kind: 'head-signature', seq: h.seq, message: `head ${h.id}: its columns (record ${h.seq}) disagree with what its signature covers (record ${c.seq})` };
    }
    const r = bySeq.get(c.seq);
    if (r === undefined) {
      if (c.seq > verdict.lastSeq) {
        return { kind: 'truncated', seq: verdict.lastSeq + 1, message: `a signed head covers record ${c.seq}, but the chain ends at record ${verdict.lastSeq} (records ${verdict.lastSeq + 1}..${c.seq} were removed)` };
      }
      return { kind: 'deleted', seq: c.seq, message: `a signed head covers record ${c.seq}, which is missing` };
    }
    if (r.hash !== c.hash) return { kind: 'modified', seq: c.seq, message: `record ${c.seq} is not the record its signed head covers (the chain was rewritten up to it)` };
    if (c.seq >= verdict.signedSeq) {
      verdict.signedSeq = c.seq;
      verdict.signedKid = c.kid;
    }
  }
  return null;
}
