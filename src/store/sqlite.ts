/**
 * The default Store: SQLite through better-sqlite3, WAL journal, synchronous=NORMAL with a sync barrier (fdatasync of
 * the WAL, off the main thread, shared by the commits made while one runs) after every commit that an outside effect
 * follows (so a committed `updateSent` survives power loss, so a restart never sends a software-update twice), in
 * `<dataDir>/henb-sw-verify.sqlite`. WAL checkpoints run in a worker thread with a connection of its own, never in a
 * COMMIT on the main thread (the store's connection checkpoints itself only at a far bound, or when that thread is
 * gone): ./sqlite-checkpointer.ts, which also says why the sync barrier still holds while a checkpoint runs.
 *
 * better-sqlite3 is synchronous; the Store contract is async (so PostgreSQL can implement it). Every statement runs
 * to completion synchronously; `transaction(fn)` holds the connection across fn's awaits, and plain calls wait for
 * it (see Store.transaction in ./types.ts).
 */
import { closeSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GroupedRun } from '../grouped-run.js';
import { StoreError } from './errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { openDatabase } from './sqlite-driver.js';
import { WalCheckpointer, sqliteHasNoopCheckpoint } from './sqlite-checkpointer.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';
import { StoreBase, WRITE_OPS } from './base.js';
import type { OpName, StoreBaseOptions, TxContext } from './base.js';
import {
  JOB_COLUMNS_BUT_DATA, eventFromRow, henbFromRow, henbRecord, jobFromRow, jobWritten, excludingKinds, jobRefused, jtiExpiry, leaseInput, limitOf, newJobInput, nonceFromRow,
  ownerInput,
  nonceRecord, resultFromRow, resultRecord, referenceLogFromRow, referenceLogInput, takeInput, transitionInput,
  notificationFromRow, notificationInput, notificationsInput, notificationQuery, pruneInput,
} from './records.js';
import type { EventRow, HenbRow, JobRow, NonceRow, NotificationRow, ResultRow, ReferenceLogRow } from './records.js';
import { SQLITE_FILE_NAME } from './types.js';
import { AUDITED_OPS, auditBefore, auditEntryFor, auditFromRow, auditHeadFromRow, auditHeadInput, auditLimit, nextAuditRecord, referenceLogChanged } from './audit.js';
import type { AuditHeadInput, AuditHeadRecord, AuditHeadRow, AuditInput, AuditRecord, AuditRow, JobBefore } from './audit.js';
import type {
  ConsumeNonceResult, HenbInput, HenbRecord, HenbState, JobEvent, JobRecord, JobTransitionOptions, NewJob,
  NewNotification, NonceInput, NonceRecord, NotificationLogTimes, NotificationQuery, NotificationRecord, ResultInput, ResultRecord,
  ReferenceLogRecord, SqliteStoreOptions, StoreTx,
} from './types.js';

/** Opens (creating and migrating as needed) the SQLite store. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  let file: string;
  if (options.path !== undefined) file = options.path;
  else if (options.dataDir !== undefined) file = join(options.dataDir, SQLITE_FILE_NAME);
  else throw new StoreError('ERR_STORE_OPEN', 'openSqliteStore needs dataDir or path');
  let db: SqliteDatabase | undefined;
  let checkpointer: WalCheckpointer | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    db = openDatabase(file, { timeout: options.busyTimeoutMs ?? 5000 });
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    // Durability: NORMAL (a WAL commit survives a process crash, not a power loss) for most commits, and
    // a sync barrier (fdatasync of the WAL, see commitDurably) for the commits that precede an outside effect (see
    // SqliteOps.durable): the WAL is written in order, so one synced commit makes every earlier one durable too. FULL on every commit cost 36-42% of
    // the OAM's main thread in bench/fleet.ts (190 us against 35 us per commit here).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (file !== ':memory:') quickCheck(db, file);
    migrate(db);
    checkpointer = checkpointerFor(db, options);
  } catch (cause) {
    db?.close();
    if (cause instanceof StoreError) throw cause;
    const why = (cause as { code?: unknown }).code === 'SQLITE_CORRUPT' || (cause as { code?: unknown }).code === 'SQLITE_NOTADB'
      ? ' (corrupted or not a database; restore it from a backup)' : '';
    throw new StoreError('ERR_STORE_OPEN', `cannot open the store database ${file}${why}`, { cause });
  }
  return new SqliteStore(db, { groupCommit: options.groupCommit === true }, checkpointer);
}

/** the WAL checkpointer thread (./sqlite-checkpointer.ts) of a database file, unless turned off or unsupported */
function checkpointerFor(db: SqliteDatabase, options: SqliteStoreOptions): WalCheckpointer | undefined {
  if (db.memory || options.checkpointer === false || !sqliteHasNoopCheckpoint(db)) return undefined;
  const o = typeof options.checkpointer === 'object' ? options.checkpointer : {};
  return new WalCheckpointer(db, {
    ...o, busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    ...(options.onCheckpointError !== undefined ? { onError: options.onCheckpointError } : {}),
  });
}

/**
 * PRAGMA quick_check at open (issue 11, item 8): a corrupted database is refused before anything is served,
 * not noticed when the first job fails with SQLITE_CORRUPT. quick_check verifies the b-tree structure of every
 * page (not index contents, which integrity_check also compares): linear in the file size.
 */
function quickCheck(db: SqliteDatabase, file: string): void {
  const rows = db.pragma('quick_check') as Array<Record<string, unknown>>;
  const problems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== 'ok');
  if (problems.length > 0) {
    throw new StoreError('ERR_STORE_OPEN', `the store database ${file} is corrupted (PRAGMA quick_check: ${problems[0]}${problems.length > 1 ? `, and ${problems.length - 1} more` : ''}); restore it from a backup`);
  }
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

/**
 * The operations one statement of which may change rows without bound: a start's claim and a stop's release of every
 * job an instance holds, the lease takeover, the retention's prunes. They run on their own, never in a group (outside
 * a group's savepoint their statements journal nothing, or only what one statement needs), with temp_store FILE
 * (subJournalInMemory).
 */
const BULK_OPS: ReadonlySet<OpName> = new Set<OpName>(['claimJobs', 'claimExpiredJobs', 'releaseJobs', 'pruneJobs', 'pruneNotifications', 'purgeExpired']);

export class SqliteStore extends StoreBase<TxContext> {
  readonly kind = 'sqlite' as const;
  private readonly ops: SqliteOps;
  /** the connection's temp_store as this store last set it (undefined: as opened, FILE) */
  private subJournalMemory: boolean | undefined;

  constructor(private readonly db: SqliteDatabase, options: StoreBaseOptions = {}, checkpointer?: WalCheckpointer) {
    super(options);
    this.ops = new SqliteOps(db, checkpointer);
  }

  /** the WAL checkpointer thread's handle (undefined: in memory, turned off, or an SQLite without NOOP checkpoints) */
  get checkpointer(): WalCheckpointer | undefined {
    return this.ops.checkpointer;
  }

  /**
   * The underlying better-sqlite3 handle (for diagnostics; do not write to the store's tables directly). TEMP tables
   * and triggers made on it last until the store next moves its savepoint journal (subJournalInMemory: around a bulk
   * operation), which drops SQLite's temporary database.
   */
  get database(): SqliteDatabase {
    return this.db;
  }

  /**
   * One connection: inside a transaction or not, every operation runs on it, synchronously. An operation outside a
   * transaction whose commit needs the sync barrier resolves once the barrier is done.
   */
  protected call(ctx: TxContext | undefined, name: OpName, args: unknown[]): unknown {
    if (ctx === undefined) this.subJournalInMemory(!BULK_OPS.has(name));
    const result = AUDITED_OPS.has(name) ? this.ops.audited(name, args) : (this.ops[name] as (...a: unknown[]) => unknown).apply(this.ops, args);
    const barrier = this.ops.takeBarrier();
    return barrier === undefined ? result : barrier.then(() => result);
  }

  /** sync barriers started so far (each one fdatasync of the WAL; tests) */
  get barriers(): number {
    return this.ops.walSync.count;
  }

  /** whether a sync barrier runs or waits now (tests) */
  get syncing(): boolean {
    return this.ops.walSync.busy;
  }

  protected async runTransaction<T>(enter: (ctx: TxContext) => Promise<T>): Promise<T> {
    const ctx: TxContext = { active: true, depth: 0 };
    this.ops.forgetTxState();
    this.subJournalInMemory(true);
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await enter(ctx);
      const barrier = commitDurably(this.db, this.ops);
      if (barrier !== undefined) ctx.durable = barrier;
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      ctx.active = false;
      this.ops.durable = false;
      this.ops.forgetTxState();
    }
  }

  protected async nested<T>(ctx: TxContext, fn: (tx: StoreTx) => Promise<T> | T): Promise<T> {
    const sp = `sp_${++ctx.depth}`;
    // prepared once per name and kept, as the operations' savepoints (exec parsed the text at every call: 10 pairs
    // per verified update, one per transaction of a group)
    this.ops.runSql(`SAVEPOINT ${sp}`);
    try {
      const result = await fn(this.facade(ctx));
      this.ops.runSql(`RELEASE ${sp}`);
      return result;
    } catch (err) {
      this.ops.forgetTxState();
      // unless SQLite ended the whole transaction itself (e.g. SQLITE_FULL): then there is no savepoint left
      if (this.db.inTransaction) {
        this.ops.runSql(`ROLLBACK TO ${sp}`);
        this.ops.runSql(`RELEASE ${sp}`);
      }
      throw err;
    } finally {
      ctx.depth--;
    }
  }

  /**
   * every write but the bulk ones: on its own it would be a COMMIT (and maybe a sync barrier) of its own; a bulk one
   * in a group would hold its savepoint journal in memory
   */
  protected override plainWriteJoinsGroup(name: OpName): boolean {
    return WRITE_OPS.has(name) && !BULK_OPS.has(name);
  }

  /**
   * Where SQLite keeps the savepoint journal of the transactions begun from now on (PRAGMA temp_store, read at BEGIN;
   * set only between transactions). A savepoint (each transaction of a group, each audited operation) copies there
   * every page it changes that existed before it, and the journal is emptied when no savepoint is open. Past 64 KiB
   * (SQLITE_STMTJRNL_SPILL) SQLite moves it into a temporary file, written with two pwrite64 per page and kept for
   * the rest of the transaction: at 10,000 devices ~68 pages (136 system calls) per verified update. In memory it is
   * bounded by what one savepoint changes: a transaction's own rows, except for the bulk operations, which change
   * rows without bound and keep the file (measured in docs/performance.md, "SQLite temporary files").
   */
  private subJournalInMemory(memory: boolean): void {
    if (this.subJournalMemory === memory || this.db.inTransaction) return;
    this.db.pragma(`temp_store = ${memory ? 'MEMORY' : 'FILE'}`);
    this.subJournalMemory = memory;
  }

  protected override transactionLost(): boolean {
    return !this.db.inTransaction;
  }

  protected async closeDatabase(): Promise<void> {
    // the checkpoint under way finishes and the thread's connection closes before ours: ours, the last, then
    // checkpoints what is left and deletes the WAL
    await Promise.all([this.ops.walSync.idle(), this.ops.checkpointer?.close()]);
    this.db.close();
    this.ops.walSync.close();
  }
}

/**
 * COMMIT (synchronous = NORMAL); when an outside effect follows, then a sync barrier: one fdatasync of the WAL file,
 * which makes this commit and every earlier one durable (the WAL is written in order; what synchronous = FULL
 * would do for this commit). The barrier runs on libuv's thread pool, not on the main thread, and is shared: every
 * durable commit made while one runs waits for the next, which covers them all (group commit). Returns the barrier
 * to await before the outside effect, or undefined when none is needed (or the database is in memory).
 */
function commitDurably(db: SqliteDatabase, ops: SqliteOps): Promise<void> | undefined {
  db.exec('COMMIT');
  ops.checkpointer?.afterCommit();
  if (!ops.durable) return undefined;
  ops.durable = false;
  return ops.walSync.sync();
}

/** fdatasync of `<db>-wal` off the main thread, grouped: see commitDurably. */
class WalSync {
  /** barriers run (tests count them) */
  count = 0;
  private fd: number | undefined;
  /** a barrier that started before a commit was written does not cover it: the next one does */
  private readonly barriers = new GroupedRun(() => this.once());

  constructor(private readonly walFile: string | undefined) {}

  sync(): Promise<void> {
    if (this.walFile === undefined) return Promise.resolve();
    return this.barriers.run();
  }

  get busy(): boolean {
    return this.barriers.busy;
  }

  /** resolves when no barrier runs or waits */
  idle(): Promise<void> {
    return this.barriers.idle();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private async once(): Promise<void> {
    this.count++;
    // opened once and kept: the WAL file lives as long as the connection (SQLite resets it in place after a
    // checkpoint; fdatasync on any descriptor of the file flushes its data)
    this.fd ??= openSync(this.walFile as string, 'r');
    const fd = this.fd;
    // a failure (EIO) rejects like the commit's own error would: the outside effect must not follow
    await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The synchronous implementation of every operation.

type SyncOps = { [K in OpName]: (...args: never[]) => unknown };

class SqliteOps implements SyncOps {
  /**
   * Set by the writes that an outside effect follows (an update marked sent, an H(e)NB's RIM or state changed):
   * the transaction that holds them is followed by a sync barrier (commitDurably). The terminal mark of a job
   * whose outbox was delivered needs none (see saveJobTransition).
   */
  durable = false;
  readonly walSync: WalSync;
  /** the barrier of the last autocommitted operation, for SqliteStore.call to await */
  private barrier: Promise<void> | undefined;
  private readonly stmts = new Map<string, SqliteStatement>();
  private jtiCalls = 0;
  private savepoints = 0;
  /** operations under way (atomic), one inside another */
  private opDepth = 0;
  /**
   * The audit chain's head as the last append of the open write transaction left it (none: read it). Only valid
   * while that transaction holds the write lock: forgotten when one begins or ends, and at every rollback to a
   * savepoint (SqliteStore's too: forgetAuditHead), so an append by another connection is always read.
   */
  auditHead: { seq: number; hash: string } | undefined;
  /**
   * The H(e)NB records as the open write transaction last read or wrote them (null: none stored), under the same
   * rule as auditHead (forgetTxState): while it holds the write lock nobody else writes them, so putHenb's read of
   * the record it replaces (for its audit record), after the caller's getHenb or an earlier putHenb of the
   * transaction, is no statement (persist.ts: 3 reads per verified update).
   */
  private readonly henbsSeen = new Map<string, HenbRecord | null>();
  constructor(private readonly db: SqliteDatabase, readonly checkpointer?: WalCheckpointer) {
    this.walSync = new WalSync(db.memory ? undefined : `${db.name}-wal`);
  }

  /** forgets what the open transaction's writes left (the audit chain's head, the H(e)NBs seen): at BEGIN, at its end, at a rollback to a savepoint */
  forgetTxState(): void {
    this.auditHead = undefined;
    this.henbsSeen.clear();
  }

  /** the barrier the last operation's own commit needs (once) */
  takeBarrier(): Promise<void> | undefined {
    const b = this.barrier;
    this.barrier = undefined;
    return b;
  }

  /** one statement without parameters (a savepoint's), prepared once and kept */
  runSql(sql: string): void {
    this.st(sql).run();
  }

  private st(sql: string): SqliteStatement {
    let s = this.stmts.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** An operation that records itself in the audit log: the change and its record commit together. */
  audited(name: OpName, args: unknown[]): unknown {
    return this.atomic(() => {
      if (name === 'saveJobTransition') {
        // the move reads the job's state and flag before it (its checks) and hands them over: no second read
        const [jobId, newState, o] = args as [string, string, JobTransitionOptions];
        const { rec, before } = this.moveJob(jobId, newState, o);
        this.appendAuditNow(auditEntryFor(name, args, rec, before) as AuditInput);
        return rec;
      }
      if (name === 'putReferenceLog') {
        // the log's JSON made once: the row's text, and what its record hashes
        const [henbId, log] = args as [string, unknown];
        const json = referenceLogInput(henbId, log);
        const rec = this.writeReferenceLog(henbId, json);
        this.appendAuditNow(referenceLogChanged(henbId, log, json));
        return rec;
      }
      const b = auditBefore(name, args);
      const before = b === undefined ? undefined : this.getHenb(b.id);
      const result = (this[name] as (...a: unknown[]) => unknown).apply(this, args);
      const entry = auditEntryFor(name, args, result, before);
      if (entry !== undefined) this.appendAuditNow(entry);
      return result;
    });
  }

  private atomic<T>(fn: () => T): T {
    // an operation inside another (an audited one's own, appendAudit's append): the outer one's savepoint or
    // transaction rolls back for both, and nothing between them catches (a savepoint of its own was two statements
    // more, 12 pairs per verified update)
    if (this.opDepth > 0) return fn();
    this.opDepth++;
    try {
      return this.atomicOnce(fn);
    } finally {
      this.opDepth--;
    }
  }

  private atomicOnce<T>(fn: () => T): T {
    if (this.db.inTransaction) {
      // a savepoint in the caller's transaction (by hand: db.transaction(fn) prepares its six statements anew on
      // every call, which cost more than the operation itself in bench/audit.ts)
      const sp = `op_${++this.savepoints}`;
      this.st(`SAVEPOINT ${sp}`).run();
      try {
        const result = fn();
        this.st(`RELEASE ${sp}`).run();
        return result;
      } catch (err) {
        this.forgetTxState();
        if (this.db.inTransaction) {
          this.st(`ROLLBACK TO ${sp}`).run();
          this.st(`RELEASE ${sp}`).run();
        }
        throw err;
      } finally {
        this.savepoints--;
      }
    }
    this.forgetTxState();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.barrier = commitDurably(this.db, this);
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.durable = false;
      this.forgetTxState();
    }
  }

  // --- H(e)NBs
  getHenb(henbId: string): HenbRecord | undefined {
    if (!this.db.inTransaction) return this.readHenb(henbId);
    let rec = this.henbsSeen.get(henbId);
    if (rec === undefined) {
      rec = this.readHenb(henbId) ?? null;
      this.henbsSeen.set(henbId, rec);
    }
    // a copy: the caller may change what it gets
    return rec === null ? undefined : { ...rec };
  }

  private readHenb(henbId: string): HenbRecord | undefined {
    const row = this.st('SELECT * FROM henbs WHERE henb_id = ?').get(henbId) as HenbRow | undefined;
    return row && henbFromRow(row);
  }

  putHenb(rec: HenbInput): HenbRecord {
    const out = henbRecord(rec, Date.now());
    return this.atomic(() => {
      this.durable = true;
      this.st(`INSERT INTO henbs (henb_id, rim, software_version, state, last_result_token, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (henb_id) DO UPDATE SET rim = excluded.rim, software_version = excluded.software_version,
               state = excluded.state, last_result_token = excluded.last_result_token, updated_at = excluded.updated_at`)
        .run(out.henbId, out.rim, out.softwareVersion, out.state, out.lastResultToken, out.updatedAt);
      this.henbsSeen.set(out.henbId, { ...out });
      return out;
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
      const deleted = this.st('DELETE FROM henbs WHERE henb_id = ?').run(henbId).changes === 1;
      this.henbsSeen.set(henbId, null);
      return deleted;
    });
  }

  // --- jobs
  createJob<T>(job: NewJob<T>): JobRecord<T> {
    const { data, deadline, owner, leaseUntil } = newJobInput(job);
    const now = Date.now();
    return this.atomic(() => {
      let row: Omit<JobRow, 'data'>;
      try {
        // RETURNING: the record as stored, without reading the row back (the data is what was written: jobWritten)
        row = this.st(`INSERT INTO jobs (job_id, henb_id, kind, state, data, version, deadline, attempts, update_sent, terminal,
                   owner, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, 0, 0, 0, ?, ?, ?, ?) RETURNING ${JOB_COLUMNS_BUT_DATA}`)
          .get(job.jobId, job.henbId, job.kind, job.state, data, deadline, owner, leaseUntil, now, now) as Omit<JobRow, 'data'>;
      } catch (cause) {
        const err = refused(cause, `job ${job.jobId} already exists`);
        if (!(err instanceof StoreError) || err.code !== 'ERR_STORE_DUPLICATE') throw err;
        // which key: the job id, or the one active job of this H(e)NB and kind (migration 2) or flow (migration 4)
        const idTaken = this.st('SELECT 1 FROM jobs WHERE job_id = ?').get(job.jobId) !== undefined;
        const active = this.st('SELECT job_id FROM jobs WHERE henb_id = ? AND terminal = 0 AND kind IN (SELECT value FROM json_each(?))')
          .get(job.henbId, JSON.stringify(excludingKinds(job.kind))) as { job_id: string } | undefined;
        throw jobRefused(job, idTaken, active?.job_id, cause);
      }
      this.st('INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason, detail) VALUES (?, 1, NULL, ?, ?, ?, NULL)')
        .run(job.jobId, job.state, now, job.reason ?? null);
      return jobWritten<T>(row, data);
    });
  }

  getJob<T>(jobId: string): JobRecord<T> | undefined {
    const row = this.st('SELECT * FROM jobs WHERE job_id = ?').get(jobId) as JobRow | undefined;
    return row && jobFromRow<T>(row);
  }

  saveJobTransition<T>(jobId: string, newState: string, o: JobTransitionOptions<T>): JobRecord<T> {
    return this.moveJob(jobId, newState, o).rec;
  }

  /**
   * saveJobTransition, and the job's state and update-sent flag before the move (for its audit record). Three
   * statements: the checks read the row's small columns (not its data), the UPDATE returns the row as stored
   * (RETURNING: no read back; not the data when the move gives it: jobWritten), the event takes the next seq in its
   * INSERT.
   */
  private moveJob<T>(jobId: string, newState: string, o: JobTransitionOptions<T>): { rec: JobRecord<T>; before: JobBefore } {
    const { data, deadline, detail, at } = transitionInput(newState, o);
    return this.atomic(() => {
      const row = this.st('SELECT state, version, terminal, update_sent FROM jobs WHERE job_id = ?').get(jobId) as
        Pick<JobRow, 'state' | 'version' | 'terminal' | 'update_sent'> | undefined;
      if (row === undefined) throw new StoreError('ERR_STORE_NOT_FOUND', `job ${jobId} does not exist`);
      if (row.version !== o.expectPrevVersion) {
        throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} is at version ${row.version}, not ${o.expectPrevVersion}`);
      }
      if (row.terminal === 1) throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} is already final`);
      // terminal alone needs no barrier: it marks a final job's outbox delivered (what follows is only freeing the
      // H(e)NB, and a later job's commits follow it in the WAL); a lost mark re-delivers the outbox after a restart
      if (o.updateSent === true && row.update_sent === 0) this.durable = true;
      // terminal is set only by the move that ends the job (it is 0 until then): a column named in SET makes SQLite
      // rewrite the entries of every index on it or filtered by it (jobs_active and the three partial indexes WHERE
      // terminal = 0), changed or not: 8 index writes per transition
      const updated = this.st(`UPDATE jobs SET state = ?, data = COALESCE(?, data), version = version + 1,
                           deadline = CASE WHEN ? THEN ? ELSE deadline END, attempts = COALESCE(?, attempts),
                           update_sent = MAX(update_sent, ?), updated_at = ?${o.terminal === true ? ', terminal = 1' : ''}
                         WHERE job_id = ? AND version = ? RETURNING ${data === undefined ? '*' : JOB_COLUMNS_BUT_DATA}`)
        .get(newState, data ?? null, deadline === undefined ? 0 : 1, deadline ?? null, o.attempts ?? null,
          o.updateSent === true ? 1 : 0, at, jobId, row.version) as JobRow | undefined;
      if (updated === undefined) throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} changed concurrently`);
      this.st(`INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason, detail)
               SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM job_events WHERE job_id = ?`)
        .run(jobId, row.state, newState, at, o.reason ?? null, detail, jobId);
      return { rec: data === undefined ? jobFromRow<T>(updated) : jobWritten<T>(updated, data), before: { state: row.state, updateSent: row.update_sent === 1 } };
    });
  }

  listActiveJobs<T>(): JobRecord<T>[] {
    return (this.st('SELECT * FROM jobs WHERE terminal = 0 ORDER BY created_at, job_id').all() as JobRow[]).map((r) => jobFromRow<T>(r));
  }

  // --- job leases
  // A job's lease holds while its lease_until (set when it is created, claimed or taken) is in the future, or while
  // its owner's heartbeat (instances.alive_until, renewLeases) is: renewing writes one row, not every active job of
  // the instance. Expired: lease_until passed (or null) and the owner has no live heartbeat (none, or passed).
  claimJobs<T>(owner: string, leaseMs: number, now: number = Date.now()): JobRecord<T>[] {
    const lease = leaseInput(owner, leaseMs, now);
    return this.atomic(() => {
      this.heartbeat(owner, lease.until);
      this.takeExpired(owner, lease);
      // its own jobs too: their lease_until from now (once, at a start; the heartbeat keeps them afterwards)
      this.st('UPDATE jobs SET lease_until = ? WHERE terminal = 0 AND owner = ?').run(lease.until, owner);
      return (this.st('SELECT * FROM jobs WHERE terminal = 0 AND owner = ? ORDER BY created_at, job_id').all(owner) as JobRow[])
        .map((r) => jobFromRow<T>(r));
    });
  }

  claimExpiredJobs<T>(owner: string, leaseMs: number, now: number = Date.now()): JobRecord<T>[] {
    const lease = leaseInput(owner, leaseMs, now);
    return this.atomic(() => this.takeExpired(owner, lease).map((id) => this.getJob<T>(id) as JobRecord<T>));
  }

  /**
   * Takes the active jobs `owner` does not hold that are unowned or whose lease expired; returns their ids, oldest
   * first. By index (jobs_owner_lease): the distinct owners of active jobs (one index seek each), then per other
   * owner only its jobs without a lease, or, when its heartbeat is not live, those whose lease_until passed; so an
   * instance's own jobs, however many, and a live instance's are not read.
   */
  private takeExpired(owner: string, lease: { until: number; now: number }): string[] {
    // INDEXED BY: without statistics the planner prefers jobs_active (terminal, created_at), a scan of every active job
    const owners = (this.st(`WITH RECURSIVE o(owner) AS (
                               SELECT (SELECT owner FROM jobs INDEXED BY jobs_owner_lease WHERE terminal = 0 AND owner IS NOT NULL ORDER BY owner LIMIT 1)
                               UNION ALL
                               SELECT (SELECT j.owner FROM jobs j INDEXED BY jobs_owner_lease WHERE j.terminal = 0 AND j.owner > o.owner ORDER BY j.owner LIMIT 1)
                               FROM o WHERE o.owner IS NOT NULL
                             ) SELECT owner FROM o WHERE owner IS NOT NULL`).all() as Array<{ owner: string }>).map((r) => r.owner);
    const alive = this.st('SELECT 1 FROM instances WHERE instance_id = ? AND alive_until > ?');
    type Row = { job_id: string; created_at: number };
    // concat, not push(...rows): a dead instance may leave more jobs than a call's arguments can hold
    let rows = this.st('SELECT job_id, created_at FROM jobs INDEXED BY jobs_owner_lease WHERE terminal = 0 AND owner IS NULL').all() as Row[];
    for (const o of owners) {
      if (o === owner) continue;
      rows = rows.concat(this.st('SELECT job_id, created_at FROM jobs INDEXED BY jobs_owner_lease WHERE terminal = 0 AND owner = ? AND lease_until IS NULL').all(o) as Row[]);
      if (alive.get(o, lease.now) === undefined) {
        rows = rows.concat(this.st('SELECT job_id, created_at FROM jobs INDEXED BY jobs_owner_lease WHERE terminal = 0 AND owner = ? AND lease_until <= ?').all(o, lease.now) as Row[]);
      }
    }
    rows.sort((a, b) => a.created_at - b.created_at || (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0));
    const take = this.st(`UPDATE jobs SET version = version + (CASE WHEN owner IS NOT NULL THEN 1 ELSE 0 END), owner = ?, lease_until = ?
                          WHERE job_id = ?`);
    for (const r of rows) take.run(owner, lease.until, r.job_id);
    // heartbeats that passed hold nothing (a dead instance's row is as good as none): not kept (an instance with a
    // random id per start, PostgreSQL, leaves one behind at each crash)
    this.st('DELETE FROM instances WHERE alive_until <= ? AND instance_id <> ?').run(lease.now, owner);
    return rows.map((r) => r.job_id);
  }

  /** the instance's heartbeat: its jobs' leases hold until `until` */
  private heartbeat(owner: string, until: number): void {
    this.st('INSERT INTO instances (instance_id, alive_until) VALUES (?, ?) ON CONFLICT (instance_id) DO UPDATE SET alive_until = excluded.alive_until')
      .run(owner, until);
  }

  takeJob<T>(jobId: string, owner: string, leaseMs: number, now: number = Date.now(), expectVersion?: number): JobRecord<T> | undefined {
    const take = takeInput(jobId, owner, leaseMs, now, expectVersion);
    return this.atomic(() => {
      // SET reads the row as it was, the version moves only when the job is taken from another owner
      const r = this.st(`UPDATE jobs SET version = version + (CASE WHEN owner IS NOT NULL AND owner <> ? THEN 1 ELSE 0 END), owner = ?,
                           lease_until = ?
                         WHERE job_id = ? AND terminal = 0 AND (? IS NULL OR version = ?)`)
        .run(owner, owner, take.until, jobId, take.expectVersion, take.expectVersion);
      return r.changes === 1 ? this.getJob<T>(jobId) : undefined;
    });
  }

  renewLeases(owner: string, leaseMs: number, now: number = Date.now()): number {
    const lease = leaseInput(owner, leaseMs, now);
    this.heartbeat(owner, lease.until);
    return 1;
  }

  releaseJobs(owner: string): number {
    return this.atomic(() => {
      this.st('DELETE FROM instances WHERE instance_id = ?').run(ownerInput(owner));
      return this.st('UPDATE jobs SET owner = NULL, lease_until = NULL WHERE terminal = 0 AND owner = ?').run(owner).changes;
    });
  }

  listJobs<T>(filter: { henbId?: string; limit?: number } = {}): JobRecord<T>[] {
    const limit = limitOf(filter.limit);
    const rows = filter.henbId === undefined
      ? this.st('SELECT * FROM jobs ORDER BY created_at DESC, job_id DESC LIMIT ?').all(limit)
      : this.st('SELECT * FROM jobs WHERE henb_id = ? ORDER BY created_at DESC, job_id DESC LIMIT ?').all(filter.henbId, limit);
    return (rows as JobRow[]).map((r) => jobFromRow<T>(r));
  }

  listJobEvents(jobId: string): JobEvent[] {
    return (this.st('SELECT * FROM job_events WHERE job_id = ? ORDER BY seq').all(jobId) as EventRow[]).map(eventFromRow);
  }

  // --- results
  putResult(rec: ResultInput): ResultRecord {
    const out = resultRecord(rec);
    try {
      this.st('INSERT INTO results (job_id, kind, henb_id, ear_status, token, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(out.jobId, out.kind, out.henbId, out.earStatus, out.token, out.createdAt);
    } catch (cause) {
      throw refused(cause, `job ${out.jobId} already has a ${out.kind} result`);
    }
    return out;
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
    const out = nonceRecord(rec);
    try {
      this.st('INSERT INTO nonces (nonce, purpose, job_id, henb_id, created_at, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, NULL)')
        .run(out.nonce, out.purpose, out.jobId, out.henbId, out.createdAt, out.expiresAt);
    } catch (cause) {
      throw refused(cause, 'nonce already exists');
    }
    return out;
  }

  consumeNonce(nonce: string, now: number = Date.now()): ConsumeNonceResult {
    // one statement uses a nonce up (RETURNING: the record as stored); one that was not is read to tell why
    const row = this.st('UPDATE nonces SET consumed_at = ? WHERE nonce = ? AND consumed_at IS NULL AND expires_at > ? RETURNING *')
      .get(now, nonce, now) as NonceRow | undefined;
    if (row !== undefined) return { ok: true, record: nonceFromRow(row) } as const;
    const left = this.st('SELECT consumed_at FROM nonces WHERE nonce = ?').get(nonce) as { consumed_at: number | null } | undefined;
    if (left === undefined) return { ok: false, reason: 'unknown' } as const;
    return { ok: false, reason: left.consumed_at !== null ? 'consumed' : 'expired' } as const;
  }

  // --- jti replay cache
  rememberJti(jti: string, expiresAt: number, now: number = Date.now()): boolean {
    const expiry = jtiExpiry(jti, expiresAt);
    // one statement: a jti not seen, or seen with its expiry passed, is written; a live one is left alone (no change)
    const remember = (): boolean => this.st(`INSERT INTO jtis (jti, expires_at) VALUES (?, ?)
                                              ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE jtis.expires_at <= ?`)
      .run(jti, expiry, now).changes === 1;
    if (++this.jtiCalls % 256 !== 0) return remember();
    return this.atomic(() => {
      this.st('DELETE FROM jtis WHERE expires_at <= ?').run(now);
      return remember();
    });
  }

  // --- reference logs
  putReferenceLog<T>(henbId: string, log: T): ReferenceLogRecord<T> {
    return this.writeReferenceLog<T>(henbId, referenceLogInput(henbId, log));
  }

  /** putReferenceLog's write of the log's JSON text `json` */
  private writeReferenceLog<T>(henbId: string, json: string): ReferenceLogRecord<T> {
    const now = Date.now();
    // RETURNING: the record's times as stored (created_at kept from an earlier log), without reading it back; its
    // log is the text written, parsed (a copy of its own, as a read gives)
    const row = this.st(`INSERT INTO reference_logs (henb_id, log, created_at, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (henb_id) DO UPDATE SET log = excluded.log, updated_at = excluded.updated_at RETURNING created_at, updated_at`)
      .get(henbId, json, now, now) as Pick<ReferenceLogRow, 'created_at' | 'updated_at'>;
    return referenceLogFromRow<T>({ henb_id: henbId, log: json, created_at: row.created_at, updated_at: row.updated_at });
  }

  getReferenceLog<T>(henbId: string): ReferenceLogRecord<T> | undefined {
    const row = this.st('SELECT * FROM reference_logs WHERE henb_id = ?').get(henbId) as ReferenceLogRow | undefined;
    return row && referenceLogFromRow<T>(row);
  }

  listReferenceLogs<T>(): ReferenceLogRecord<T>[] {
    return (this.st('SELECT * FROM reference_logs ORDER BY created_at, henb_id').all() as ReferenceLogRow[]).map((r) => referenceLogFromRow<T>(r));
  }

  // --- audit log (./audit.ts); BEGIN IMMEDIATE holds the write lock from the read of the head to the insert
  appendAudit(entry: AuditInput): AuditRecord {
    return this.atomic(() => this.appendAuditNow(entry));
  }

  /** the append itself, inside a transaction the caller holds */
  private appendAuditNow(entry: AuditInput): AuditRecord {
    const head = this.auditHead ?? this.st('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    const rec = nextAuditRecord(entry, head);
    this.st('INSERT INTO audit_log (seq, at, actor, action, object, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(rec.seq, rec.at, rec.actor, rec.action, rec.object, rec.details, rec.prevHash, rec.hash);
    this.auditHead = { seq: rec.seq, hash: rec.hash };
    return rec;
  }

  listAudit(filter: { afterSeq?: number; limit?: number } = {}): AuditRecord[] {
    return (this.st('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').all(filter.afterSeq ?? 0, auditLimit(filter.limit)) as AuditRow[]).map(auditFromRow);
  }

  lastAudit(): AuditRecord | undefined {
    const row = this.st('SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1').get() as AuditRow | undefined;
    return row && auditFromRow(row);
  }

  putAuditHead(head: AuditHeadInput): AuditHeadRecord {
    const h = auditHeadInput(head);
    const r = this.st('INSERT INTO audit_heads (seq, hash, kid, jws, signed_at) VALUES (?, ?, ?, ?, ?)').run(h.seq, h.hash, h.kid, h.jws, h.signedAt);
    return { ...h, id: Number(r.lastInsertRowid) };
  }

  listAuditHeads(filter: { afterId?: number; limit?: number } = {}): AuditHeadRecord[] {
    return (this.st('SELECT * FROM audit_heads WHERE id > ? ORDER BY id LIMIT ?').all(filter.afterId ?? 0, auditLimit(filter.limit)) as AuditHeadRow[]).map(auditHeadFromRow);
  }

  purgeExpired(now: number = Date.now()): number {
    return this.atomic(() =>
      this.st('DELETE FROM jtis WHERE expires_at <= ?').run(now).changes +
      this.st('DELETE FROM nonces WHERE expires_at <= ?').run(now).changes);
  }

  // --- the notification log (RFC 5277 replay)
  appendNotification(stream: string, eventTime: number, xml: string): number {
    const n = notificationInput(stream, eventTime, xml);
    return Number(this.st('INSERT INTO notifications (stream, event_time, xml) VALUES (?, ?, ?)').run(n.stream, n.eventTime, n.xml).lastInsertRowid);
  }

  /** one transaction (BEGIN IMMEDIATE ... COMMIT, or a savepoint in the caller's): every row or none */
  appendNotifications(events: readonly NewNotification[]): number[] {
    const rows = notificationsInput(events);
    if (rows.length === 0) return [];
    return this.atomic(() => {
      const insert = this.st('INSERT INTO notifications (stream, event_time, xml) VALUES (?, ?, ?)');
      return rows.map((n) => Number(insert.run(n.stream, n.eventTime, n.xml).lastInsertRowid));
    });
  }

  lastNotificationId(): number {
    return (this.st('SELECT COALESCE(MAX(id), 0) AS id FROM notifications').get() as { id: number }).id;
  }

  listNotifications(query: NotificationQuery): NotificationRecord[] {
    const q = notificationQuery(query);
    return (this.st(`SELECT * FROM notifications WHERE id > ? AND id <= ? AND event_time >= ? AND event_time <= ? AND (? IS NULL OR stream = ?)
                     ORDER BY id LIMIT ?`).all(q.afterId, q.upToId, q.since, q.until, q.stream, q.stream, q.limit) as NotificationRow[])
      .map(notificationFromRow);
  }

  pruneNotifications(keep: number, olderThan: number): number {
    const p = pruneInput(keep, olderThan);
    return this.atomic(() => {
      const bound = this.lastNotificationId() - p.keep;
      const gone = this.st('SELECT MAX(event_time) AS t, COUNT(*) AS n FROM notifications WHERE id <= ? OR event_time < ?')
        .get(bound, p.olderThan) as { t: number | null; n: number };
      if (gone.n === 0) return 0;
      this.st('DELETE FROM notifications WHERE id <= ? OR event_time < ?').run(bound, p.olderThan);
      this.st('UPDATE notification_log SET aged_at = MAX(COALESCE(aged_at, ?), ?)').run(gone.t, gone.t);
      return gone.n;
    });
  }

  notificationLogTimes(): NotificationLogTimes {
    const row = this.st('SELECT created_at, aged_at FROM notification_log').get() as { created_at: number; aged_at: number | null };
    return { createdAt: row.created_at, agedAt: row.aged_at };
  }

  pruneJobs(before: number): number {
    return this.atomic(() => {
      this.st('DELETE FROM results WHERE job_id IN (SELECT job_id FROM jobs WHERE terminal = 1 AND updated_at < ?)').run(before);
      // job_events go with their job (ON DELETE CASCADE)
      return this.st('DELETE FROM jobs WHERE terminal = 1 AND updated_at < ?').run(before).changes;
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * The error to throw for a failed INSERT: a key that exists already is ERR_STORE_DUPLICATE (`duplicate` says which);
 * any other constraint (e.g. SQLITE_CONSTRAINT_DATATYPE, a STRICT table refusing 1e20 for an INTEGER column) is
 * ERR_STORE_INVALID, as PostgreSQL's are (PG_CODES in ./postgres.ts); anything else passes through.
 */
function refused(cause: unknown, duplicate: string): unknown {
  const code = (cause as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return cause;
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new StoreError('ERR_STORE_DUPLICATE', duplicate, { cause });
  }
  return new StoreError('ERR_STORE_INVALID', cause instanceof Error ? cause.message : code, { cause });
}
