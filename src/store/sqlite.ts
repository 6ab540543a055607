/**
 * The default Store: SQLite through better-sqlite3, WAL journal, synchronous=NORMAL with a FULL sync barrier after
 * every commit that an outside effect follows (so a committed `updateSent` survives
 * power loss, so a restart never sends a software-update twice), in `<dataDir>/henb-sw-verify.sqlite`.
 *
 * better-sqlite3 is synchronous; the Store contract is async (so PostgreSQL can implement it). Every statement runs
 * to completion synchronously; `transaction(fn)` holds the connection across fn's awaits, and plain calls wait for
 * it (see Store.transaction in ./types.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StoreError } from './errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { openDatabase } from './sqlite-driver.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';
import { HENB_STATES, SQLITE_FILE_NAME } from './types.js';
import type {
  ConsumeNonceResult, HenbInput, HenbRecord, HenbState, JobEvent, JobRecord, JobTransitionOptions, NewJob,
  NonceInput, NonceRecord, ResultInput, ResultRecord, RolloutRecord, SqliteStoreOptions, Store, StoreOps, StoreTx,
} from './types.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** Opens (creating and migrating as needed) the SQLite store. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  let file: string;
  if (options.path !== undefined) file = options.path;
  else if (options.dataDir !== undefined) file = join(options.dataDir, SQLITE_FILE_NAME);
  else throw new StoreError('ERR_STORE_OPEN', 'openSqliteStore needs dataDir or path');
  let db: SqliteDatabase | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    db = openDatabase(file, { timeout: options.busyTimeoutMs ?? 5000 });
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    // Durability: NORMAL (a WAL commit survives a process crash, not a power loss) for most commits, and
    // FULL for the commits that precede an outside effect (see SqliteOps.durable): the WAL is written in
    // order, so one synced commit makes every earlier one durable too. FULL on every commit cost 36-42% of
    // the OAM's main thread in bench/fleet.ts (190 us against 35 us per commit here).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (cause) {
    db?.close();
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('ERR_STORE_OPEN', `cannot open the store database ${file}`, { cause });
  }
  return new SqliteStore(db);
}

/** Applies the pending migrations; refuses a database written by a newer version. */
export function migrate(db: SqliteDatabase): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StoreError('ERR_STORE_OPEN', `database schema version ${current} is newer than this software (${SCHEMA_VERSION})`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return SCHEMA_VERSION;
}

const OP_NAMES = [
  'getHenb', 'putHenb', 'listHenbs', 'deleteHenb',
  'createJob', 'getJob', 'saveJobTransition', 'listActiveJobs', 'listJobs', 'listJobEvents',
  'putResult', 'getResults', 'listResults',
  'putNonce', 'consumeNonce', 'rememberJti',
  'putRollout', 'getRollout', 'listRollouts', 'purgeExpired',
] as const satisfies readonly (keyof StoreOps)[];
type OpName = (typeof OP_NAMES)[number];
// compile-time check that OP_NAMES lists every operation
type MissingOps = Exclude<keyof StoreOps, OpName>;
const _allOpsListed: MissingOps extends never ? true : never = true;
void _allOpsListed;

interface TxContext {
  active: boolean;
  depth: number;
  store: SqliteStore;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  // the operations, installed by the constructor (each waits for an open transaction, then runs)
  declare readonly getHenb: StoreOps['getHenb'];
  declare readonly putHenb: StoreOps['putHenb'];
  declare readonly listHenbs: StoreOps['listHenbs'];
  declare readonly deleteHenb: StoreOps['deleteHenb'];
  declare readonly createJob: StoreOps['createJob'];
  declare readonly getJob: StoreOps['getJob'];
  declare readonly saveJobTransition: StoreOps['saveJobTransition'];
  declare readonly listActiveJobs: StoreOps['listActiveJobs'];
  declare readonly listJobs: StoreOps['listJobs'];
  declare readonly listJobEvents: StoreOps['listJobEvents'];
  declare readonly putResult: StoreOps['putResult'];
  declare readonly getResults: StoreOps['getResults'];
  declare readonly listResults: StoreOps['listResults'];
  declare readonly putNonce: StoreOps['putNonce'];
  declare readonly consumeNonce: StoreOps['consumeNonce'];
  declare readonly rememberJti: StoreOps['rememberJti'];
  declare readonly putRollout: StoreOps['putRollout'];
  declare readonly getRollout: StoreOps['getRollout'];
  declare readonly listRollouts: StoreOps['listRollouts'];
  declare readonly purgeExpired: StoreOps['purgeExpired'];
  private readonly ops: SqliteOps;
  private readonly als = new AsyncLocalStorage<TxContext>();
  private txChain: Promise<void> = Promise.resolve();
  private txOpen = false;
  private txDone: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly db: SqliteDatabase) {
    this.ops = new SqliteOps(db);
    for (const name of OP_NAMES) {
      const impl = (this.ops[name] as (...a: unknown[]) => unknown).bind(this.ops);
      (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => this.run(() => impl(...args));
    }
  }

  /** The underlying better-sqlite3 handle (for diagnostics; do not write to the store's tables directly). */
  get database(): SqliteDatabase {
    return this.db;
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T> | T): Promise<T> {
    this.checkOpen();
    const outer = this.als.getStore();
    if (outer?.active && outer.store === this) return this.nested(outer, fn);
    const prev = this.txChain;
    let release!: () => void;
    this.txChain = new Promise<void>((r) => (release = r));
    await prev;
    let doneResolve!: () => void;
    try {
      this.checkOpen();
      this.txOpen = true;
      this.txDone = new Promise<void>((r) => (doneResolve = r));
      const ctx: TxContext = { active: true, depth: 0, store: this };
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.als.run(ctx, () => fn(this.txFacade(ctx)));
        commitDurably(this.db, this.ops);
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        ctx.active = false;
        this.ops.durable = false;
      }
    } finally {
      this.txOpen = false;
      doneResolve?.();
      release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.txChain;
    this.closed = true;
    this.db.close();
  }

  private async nested<T>(ctx: TxContext, fn: (tx: StoreTx) => Promise<T> | T): Promise<T> {
    const sp = `sp_${++ctx.depth}`;
    this.db.exec(`SAVEPOINT ${sp}`);
    try {
      const result = await fn(this.txFacade(ctx));
      this.db.exec(`RELEASE ${sp}`);
      return result;
    } catch (err) {
      this.db.exec(`ROLLBACK TO ${sp}`);
      this.db.exec(`RELEASE ${sp}`);
      throw err;
    } finally {
      ctx.depth--;
    }
  }

  /** Plain call: runs now when no transaction is open (or when called from inside the open one), else waits. */
  private async run<T>(op: () => T): Promise<T> {
    this.checkOpen();
    const ctx = this.als.getStore();
    if (!(ctx?.active && ctx.store === this)) {
      while (this.txOpen) await this.txDone;
      this.checkOpen();
    }
    return op();
  }

  private txFacade(ctx: TxContext): StoreTx {
    const tx: Record<string, unknown> = {};
    for (const name of OP_NAMES) {
      const impl = (this.ops[name] as (...a: unknown[]) => unknown).bind(this.ops);
      tx[name] = (...args: unknown[]) => {
        if (!ctx.active) return Promise.reject(new StoreError('ERR_STORE_CLOSED', 'the transaction has finished'));
        try {
          return Promise.resolve(impl(...args));
        } catch (err) {
          return Promise.reject(err);
        }
      };
    }
    tx.transaction = <T>(fn: (t: StoreTx) => Promise<T> | T): Promise<T> => {
      if (!ctx.active) return Promise.reject(new StoreError('ERR_STORE_CLOSED', 'the transaction has finished'));
      return this.nested(ctx, fn);
    };
    return tx as unknown as StoreTx;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('ERR_STORE_CLOSED', 'the store is closed');
  }
}

/**
 * COMMIT (synchronous = NORMAL); when an outside effect follows, then a sync barrier: SQLite will not change
 * the safety level inside a transaction, so a one-frame write (user_version, rewritten unchanged) commits
 * with synchronous = FULL, and its fsync of the WAL makes this commit and every earlier one durable
 * (strace: one fsync per barrier; FULL on every commit gave one per commit).
 */
function commitDurably(db: SqliteDatabase, ops: { durable: boolean }): void {
  db.exec('COMMIT');
  if (!ops.durable) return;
  ops.durable = false;
  const version = db.pragma('user_version', { simple: true }) as number;
  db.pragma('synchronous = FULL');
  try {
    db.exec('BEGIN IMMEDIATE');
    db.pragma(`user_version = ${version}`);
    db.exec('COMMIT');
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.pragma('synchronous = NORMAL');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The synchronous implementation of every operation.

interface HenbRow { henb_id: string; rim: string | null; software_version: string | null; state: string; last_result_token: string | null; updated_at: number }
interface JobRow { job_id: string; henb_id: string; kind: string; state: string; data: string; version: number; deadline: number | null; attempts: number; update_sent: number; terminal: number; created_at: number; updated_at: number }
interface EventRow { job_id: string; seq: number; from_state: string | null; to_state: string; at: number; reason: string | null; detail: string | null }
interface ResultRow { job_id: string; kind: string; henb_id: string; ear_status: string; token: string; created_at: number }
interface NonceRow { nonce: string; purpose: string; job_id: string | null; henb_id: string | null; created_at: number; expires_at: number; consumed_at: number | null }
interface RolloutRow { rollout_id: string; data: string; created_at: number; updated_at: number }

type SyncOps = { [K in OpName]: (...args: never[]) => unknown };

class SqliteOps implements SyncOps {
  /**
   * Set by the writes that an outside effect follows (an update marked sent, a job made final, an H(e)NB's
   * RIM or state changed): the transaction that holds them commits with synchronous = FULL.
   */
  durable = false;
  private readonly stmts = new Map<string, SqliteStatement>();
  private jtiCalls = 0;
  constructor(private readonly db: SqliteDatabase) {}

  private st(sql: string): SqliteStatement {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private atomic<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(fn)(); // a savepoint in the caller's transaction
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      commitDurably(this.db, this);
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.durable = false;
    }
  }

  // --- H(e)NBs
  getHenb(henbId: string): HenbRecord | undefined {
    const row = this.st('SELECT * FROM henbs WHERE henb_id = ?').get(henbId) as HenbRow | undefined;
    return row && henbFromRow(row);
  }

  putHenb(rec: HenbInput): HenbRecord {
    requireId(rec?.henbId, 'henbId');
    const rim = rec.rim === null || rec.rim === undefined ? null : requireDigest(rec.rim, 'rim');
    if (!HENB_STATES.includes(rec.state)) invalid(`state must be one of ${HENB_STATES.join(', ')}`);
    const sv = optString(rec.softwareVersion, 'softwareVersion');
    const tok = optString(rec.lastResultToken, 'lastResultToken');
    const now = Date.now();
    return this.atomic(() => {
      this.durable = true;
      this.st(`INSERT INTO henbs (henb_id, rim, software_version, state, last_result_token, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (henb_id) DO UPDATE SET rim = excluded.rim, software_version = excluded.software_version,
               state = excluded.state, last_result_token = excluded.last_result_token, updated_at = excluded.updated_at`)
        .run(rec.henbId, rim, sv, rec.state, tok, now);
      return { henbId: rec.henbId, rim, softwareVersion: sv, state: rec.state, lastResultToken: tok, updatedAt: now };
    });
  }

  listHenbs(filter: { state?: HenbState } = {}): HenbRecord[] {
    const rows = filter.state === undefined
      ? this.st('SELECT * FROM henbs ORDER BY henb_id').all()
      : this.st('SELECT * FROM henbs WHERE state = ? ORDER BY henb_id').all(filter.state);
    return (rows as HenbRow[]).map(henbFromRow);
  }

  deleteHenb(henbId: string): boolean {
    return this.atomic(() => {
      this.durable = true;
      return this.st('DELETE FROM henbs WHERE henb_id = ?').run(henbId).changes === 1;
    });
  }

  // --- jobs
  createJob<T>(job: NewJob<T>): JobRecord<T> {
    requireId(job?.jobId, 'jobId');
    requireId(job.henbId, 'henbId');
    requireId(job.kind, 'kind');
    requireId(job.state, 'state');
    const data = toJson(job.data, 'data');
    const deadline = optTime(job.deadline, 'deadline');
    const now = Date.now();
    return this.atomic(() => {
      try {
        this.st(`INSERT INTO jobs (job_id, henb_id, kind, state, data, version, deadline, attempts, update_sent, terminal,
                   created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, 0, 0, 0, ?, ?)`)
          .run(job.jobId, job.henbId, job.kind, job.state, data, deadline, now, now);
      } catch (cause) {
        if (isConstraint(cause)) throw new StoreError('ERR_STORE_DUPLICATE', `job ${job.jobId} already exists`, { cause });
        throw cause;
      }
      this.st('INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason, detail) VALUES (?, 1, NULL, ?, ?, ?, NULL)')
        .run(job.jobId, job.state, now, job.reason ?? null);
      return this.getJob<T>(job.jobId) as JobRecord<T>;
    });
  }

  getJob<T>(jobId: string): JobRecord<T> | undefined {
    const row = this.st('SELECT * FROM jobs WHERE job_id = ?').get(jobId) as JobRow | undefined;
    return row && jobFromRow<T>(row);
  }

  saveJobTransition<T>(jobId: string, newState: string, o: JobTransitionOptions<T>): JobRecord<T> {
    requireId(newState, 'newState');
    if (!Number.isSafeInteger(o?.expectPrevVersion)) invalid('expectPrevVersion must be an integer');
    const data = o.data === undefined ? undefined : toJson(o.data, 'data');
    const deadline = o.deadline === undefined ? undefined : optTime(o.deadline, 'deadline');
    if (o.attempts !== undefined && !(Number.isSafeInteger(o.attempts) && o.attempts >= 0)) invalid('attempts must be a non-negative integer');
    const detail = o.detail === undefined ? null : toJson(o.detail, 'detail');
    const at = o.at ?? Date.now();
    return this.atomic(() => {
      const row = this.st('SELECT * FROM jobs WHERE job_id = ?').get(jobId) as JobRow | undefined;
      if (row === undefined) throw new StoreError('ERR_STORE_NOT_FOUND', `job ${jobId} does not exist`);
      if (row.version !== o.expectPrevVersion) {
        throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} is at version ${row.version}, not ${o.expectPrevVersion}`);
      }
      if (row.terminal === 1) throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} is already final`);
      if ((o.updateSent === true && row.update_sent === 0) || o.terminal === true) this.durable = true;
      const r = this.st(`UPDATE jobs SET state = ?, data = ?, version = version + 1, deadline = ?, attempts = ?,
                           update_sent = ?, terminal = ?, updated_at = ? WHERE job_id = ? AND version = ?`)
        .run(newState, data ?? row.data, deadline === undefined ? row.deadline : deadline, o.attempts ?? row.attempts,
          o.updateSent === true || row.update_sent === 1 ? 1 : 0, o.terminal === true ? 1 : 0, at, jobId, row.version);
      if (r.changes !== 1) throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} changed concurrently`);
      const seq = (this.st('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM job_events WHERE job_id = ?').get(jobId) as { n: number }).n;
      this.st('INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(jobId, seq, row.state, newState, at, o.reason ?? null, detail);
      return this.getJob<T>(jobId) as JobRecord<T>;
    });
  }

  listActiveJobs<T>(): JobRecord<T>[] {
    return (this.st('SELECT * FROM jobs WHERE terminal = 0 ORDER BY created_at, job_id').all() as JobRow[]).map((r) => jobFromRow<T>(r));
  }

  listJobs<T>(filter: { henbId?: string; limit?: number } = {}): JobRecord<T>[] {
    const limit = limitOf(filter.limit);
    const rows = filter.henbId === undefined
      ? this.st('SELECT * FROM jobs ORDER BY created_at DESC, job_id DESC LIMIT ?').all(limit)
      : this.st('SELECT * FROM jobs WHERE henb_id = ? ORDER BY created_at DESC, job_id DESC LIMIT ?').all(filter.henbId, limit);
    return (rows as JobRow[]).map((r) => jobFromRow<T>(r));
  }

  listJobEvents(jobId: string): JobEvent[] {
    return (this.st('SELECT * FROM job_events WHERE job_id = ? ORDER BY seq').all(jobId) as EventRow[]).map((r) => ({
      jobId: r.job_id, seq: r.seq, fromState: r.from_state, toState: r.to_state, at: r.at, reason: r.reason,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
    }));
  }

  // --- results
  putResult(rec: ResultInput): ResultRecord {
    requireId(rec?.jobId, 'jobId');
    requireId(rec.kind, 'kind');
    requireId(rec.henbId, 'henbId');
    requireId(rec.earStatus, 'earStatus');
    requireId(rec.token, 'token');
    const createdAt = rec.createdAt ?? Date.now();
    try {
      this.st('INSERT INTO results (job_id, kind, henb_id, ear_status, token, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(rec.jobId, rec.kind, rec.henbId, rec.earStatus, rec.token, createdAt);
    } catch (cause) {
      if (isConstraint(cause)) throw new StoreError('ERR_STORE_DUPLICATE', `job ${rec.jobId} already has a ${rec.kind} result`, { cause });
      throw cause;
    }
    return { jobId: rec.jobId, kind: rec.kind, henbId: rec.henbId, earStatus: rec.earStatus, token: rec.token, createdAt };
  }

  getResults(jobId: string): ResultRecord[] {
    return (this.st('SELECT * FROM results WHERE job_id = ? ORDER BY created_at, kind').all(jobId) as ResultRow[]).map(resultFromRow);
  }

  listResults(filter: { henbId?: string; limit?: number } = {}): ResultRecord[] {
    const limit = limitOf(filter.limit);
    const rows = filter.henbId === undefined
      ? this.st('SELECT * FROM results ORDER BY created_at DESC, job_id DESC LIMIT ?').all(limit)
      : this.st('SELECT * FROM results WHERE henb_id = ? ORDER BY created_at DESC, job_id DESC LIMIT ?').all(filter.henbId, limit);
    return (rows as ResultRow[]).map(resultFromRow);
  }

  // --- nonces
  putNonce(rec: NonceInput): NonceRecord {
    requireId(rec?.nonce, 'nonce');
    requireId(rec.purpose, 'purpose');
    const expiresAt = optTime(rec.expiresAt, 'expiresAt');
    if (expiresAt === null) invalid('expiresAt is required');
    const createdAt = rec.createdAt ?? Date.now();
    const out: NonceRecord = {
      nonce: rec.nonce, purpose: rec.purpose, jobId: rec.jobId ?? null, henbId: rec.henbId ?? null, createdAt,
      expiresAt: expiresAt as number, consumedAt: null,
    };
    try {
      this.st('INSERT INTO nonces (nonce, purpose, job_id, henb_id, created_at, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, NULL)')
        .run(out.nonce, out.purpose, out.jobId, out.henbId, out.createdAt, out.expiresAt);
    } catch (cause) {
      if (isConstraint(cause)) throw new StoreError('ERR_STORE_DUPLICATE', 'nonce already exists', { cause });
      throw cause;
    }
    return out;
  }

  consumeNonce(nonce: string, now: number = Date.now()): ConsumeNonceResult {
    return this.atomic(() => {
      const row = this.st('SELECT * FROM nonces WHERE nonce = ?').get(nonce) as NonceRow | undefined;
      if (row === undefined) return { ok: false, reason: 'unknown' } as const;
      if (row.consumed_at !== null) return { ok: false, reason: 'consumed' } as const;
      if (row.expires_at <= now) return { ok: false, reason: 'expired' } as const;
      const r = this.st('UPDATE nonces SET consumed_at = ? WHERE nonce = ? AND consumed_at IS NULL').run(now, nonce);
      if (r.changes !== 1) return { ok: false, reason: 'consumed' } as const;
      return {
        ok: true,
        record: {
          nonce: row.nonce, purpose: row.purpose, jobId: row.job_id, henbId: row.henb_id, createdAt: row.created_at,
          expiresAt: row.expires_at, consumedAt: now,
        },
      } as const;
    });
  }

  // --- jti replay cache
  rememberJti(jti: string, expiresAt: number, now: number = Date.now()): boolean {
    requireId(jti, 'jti');
    if (!Number.isFinite(expiresAt)) invalid('expiresAt must be a number');
    return this.atomic(() => {
      if (++this.jtiCalls % 256 === 0) this.st('DELETE FROM jtis WHERE expires_at <= ?').run(now);
      const prev = this.st('SELECT expires_at FROM jtis WHERE jti = ?').get(jti) as { expires_at: number } | undefined;
      if (prev !== undefined && prev.expires_at > now) return false;
      this.st('INSERT INTO jtis (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at')
        .run(jti, Math.ceil(expiresAt));
      return true;
    });
  }

  // --- rollouts
  putRollout<T>(rolloutId: string, data: T): RolloutRecord<T> {
    requireId(rolloutId, 'rolloutId');
    const json = toJson(data, 'data');
    const now = Date.now();
    this.st(`INSERT INTO rollouts (rollout_id, data, created_at, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (rollout_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`)
      .run(rolloutId, json, now, now);
    return this.getRollout<T>(rolloutId) as RolloutRecord<T>;
  }

  getRollout<T>(rolloutId: string): RolloutRecord<T> | undefined {
    const row = this.st('SELECT * FROM rollouts WHERE rollout_id = ?').get(rolloutId) as RolloutRow | undefined;
    return row && rolloutFromRow<T>(row);
  }

  listRollouts<T>(): RolloutRecord<T>[] {
    return (this.st('SELECT * FROM rollouts ORDER BY created_at, rollout_id').all() as RolloutRow[]).map((r) => rolloutFromRow<T>(r));
  }

  purgeExpired(now: number = Date.now()): number {
    return this.atomic(() =>
      this.st('DELETE FROM jtis WHERE expires_at <= ?').run(now).changes +
      this.st('DELETE FROM nonces WHERE expires_at <= ?').run(now).changes);
  }
}

// ---------------------------------------------------------------------------------------------------------------

function henbFromRow(r: HenbRow): HenbRecord {
  return {
    henbId: r.henb_id, rim: r.rim, softwareVersion: r.software_version, state: r.state as HenbState,
    lastResultToken: r.last_result_token, updatedAt: r.updated_at,
  };
}

function jobFromRow<T>(r: JobRow): JobRecord<T> {
  return {
    jobId: r.job_id, henbId: r.henb_id, kind: r.kind, state: r.state, data: JSON.parse(r.data) as T, version: r.version,
    deadline: r.deadline, attempts: r.attempts, updateSent: r.update_sent === 1, terminal: r.terminal === 1,
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

function resultFromRow(r: ResultRow): ResultRecord {
  return { jobId: r.job_id, kind: r.kind, henbId: r.henb_id, earStatus: r.ear_status, token: r.token, createdAt: r.created_at };
}

function rolloutFromRow<T>(r: RolloutRow): RolloutRecord<T> {
  return { rolloutId: r.rollout_id, data: JSON.parse(r.data) as T, createdAt: r.created_at, updatedAt: r.updated_at };
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

function limitOf(limit: number | undefined): number {
  if (limit === undefined) return 1000;
  if (!(Number.isSafeInteger(limit) && limit > 0)) invalid('limit must be a positive integer');
  return limit;
}

function isConstraint(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT');
}
