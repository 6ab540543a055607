/**
 * The PostgreSQL Store (node-postgres `pg`), for several OAM instances sharing the work: the same contract and
 * the same records, validation and StoreError codes as the SQLite store (./sqlite.ts): both validate and shape
 * records with ./records.ts; ./types.ts is the contract.
 *
 * How each guarantee of the contract is kept with a server and a connection pool:
 * - single-statement atomicity instead of SQLite's one connection: createJob (job row + creation event),
 *   saveJobTransition (`UPDATE jobs ... WHERE job_id = $1 AND version = $2 AND NOT terminal RETURNING *` plus the
 *   event, and the state and flag the move replaced, for its audit record), consumeNonce (`UPDATE ... WHERE
 *   consumed_at IS NULL AND expires_at > now RETURNING *`), rememberJti
 *   (`INSERT ... ON CONFLICT DO UPDATE ... WHERE expired RETURNING`) and purgeExpired are each one statement, so
 *   of two instances racing for the same row exactly one wins (the loser's UPDATE re-checks the row after the
 *   winner commits and matches nothing). When such a statement matches nothing, a read tells why (same codes).
 * - duplicates are INSERT ... ON CONFLICT DO NOTHING (no error raised, so a transaction stays usable); for
 *   createJob without a conflict target, so that it covers both the job id and the one active job per H(e)NB
 *   and kind (jobs_one_active, migration 2): of two instances creating a job for one H(e)NB at once, the second
 *   INSERT waits for the first to commit, then inserts nothing (ERR_STORE_HENB_BUSY).
 * - transaction(fn): one pooled client per transaction (BEGIN ... COMMIT / ROLLBACK); nested transactions are
 *   SAVEPOINTs; plain calls made from fn's async context join it (AsyncLocalStorage, ./base.ts).
 *   Transactions are serialised as the contract says: in this process by a queue (plain calls wait for an open
 *   transaction, as with SQLite; with group commit, the transactions queued behind one run together on one
 *   client, each in a savepoint, with one COMMIT: ./base.ts), and across instances by a transaction-scoped advisory lock taken right after
 *   BEGIN, the counterpart of SQLite's BEGIN IMMEDIATE; without it a read-modify-write such as the OAM's H(e)NB
 *   update would lose writes between instances under READ COMMITTED. The lease writes (claims, renewals,
 *   release, takeJob) take it too (LEASE_OPS): every write of job rows holds it, so none deadlocks with another.
 * - an audited operation (./audit.ts) and its record commit together or not at all, also when fn catches its
 *   failure and goes on (e.g. a record refused after the write: details over 64 KiB): it runs in a transaction of
 *   its own, or in a caller's from a savepoint, which a failure rolls back to (PostgresStore.auditedIn), as SQLite
 *   keeps one around it (./sqlite.ts, atomic).
 * - epoch-ms BIGINT columns are read back as numbers (a per-pool type parser), never as strings.
 * - migrations (./pg-migrations.ts) run once under an advisory lock; a newer schema is refused (ERR_STORE_OPEN).
 * - open failures (bad URL, server down, authentication) are ERR_STORE_OPEN naming user, host and database,
 *   never the password.
 * Durability is the server's (synchronous_commit); there is no SQLite-style sync barrier to manage.
 */
import pg from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { StoreError } from './errors.js';
import type { StoreErrorCode } from './errors.js';
import { PG_MIGRATIONS, PG_MIGRATION_LOCK, PG_SCHEMA_VERSION, PG_SCHEMA_VERSION_TABLE } from './pg-migrations.js';
import { StoreBase } from './base.js';
import type { OpName, StoreBaseOptions, TxContext } from './base.js';
import {
  JOB_COLUMNS_BUT_DATA, eventFromRow, henbFromRow, henbRecord, jobFromRow, jobWritten, excludingKinds, jobRefused, jtiExpiry, leaseInput, limitOf, newJobInput, nonceFromRow,
  ownerInput,
  nonceRecord, resultFromRow, resultRecord, referenceLogFromRow, referenceLogInput, takeInput, transitionInput,
  notificationFromRow, notificationInput, notificationsInput, notificationQuery, pruneInput,
} from './records.js';
import type { EventRow, HenbRow, JobRow, NonceRow, NotificationRow, ResultRow, ReferenceLogRow } from './records.js';
import { AUDITED_OPS, auditBefore, auditCheckedBefore, auditEntryFor, auditFromRow, checkedAuditEntry, auditHeadFromRow, auditHeadInput, auditLimit, nextAuditRecord } from './audit.js';
import type { AuditHeadInput, AuditHeadRecord, AuditHeadRow, AuditInput, AuditRecord, AuditRow, CheckedAudit, JobBefore } from './audit.js';
import type {
  ConsumeNonceResult, HenbInput, HenbRecord, HenbState, JobEvent, JobRecord, JobTransitionOptions, NewJob,
  NewNotification, NonceInput, NonceRecord, NotificationLogTimes, NotificationQuery, NotificationRecord, PostgresStoreOptions, ResultInput,
  ResultRecord, ReferenceLogRecord, StoreTx,
} from './types.js';
/**
 * The lease writes: statements over several job rows (releaseJobs: every active job of an instance; the claims:
 * every job they match; renewLeases writes only the instance's heartbeat row in `instances`), so they run under TX_LOCK too, as transactions of their own (or in
 * the next group). Without the lock, a renewal locking an instance's job rows one after the other beside a
 * transaction updating two of them in the other order was a deadlock: PostgreSQL ended one of the two (40P01,
 * ERR_STORE_CONFLICT), and a transition failed that way looked to the runner like a lost lease (bench/fleet.ts with
 * two instances, 5 December 2026). Every write of job rows now holds TX_LOCK, so they never wait for each other's
 * rows in a cycle.
 */
const LEASE_OPS: ReadonlySet<OpName> = new Set<OpName>(['claimJobs', 'claimExpiredJobs', 'takeJob', 'renewLeases', 'releaseJobs']);

/** Key of the advisory lock every transaction holds (serialises transactions across OAM instances). */
const TX_LOCK = 0x6873_7602; // 'hsv' 02
const INT8_OID = 20;

/** Opens (creating the schema and migrating as needed) the PostgreSQL store. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const target = describeTarget(options);
  const types = new pg.TypeOverrides();
  // epoch ms (BIGINT) and COUNT(*) as numbers: every value the store writes is below 2^53
  types.setTypeParser(INT8_OID, (v: string) => Number(v));
  const poolSize = options.poolSize ?? 10;
  if (!(Number.isSafeInteger(poolSize) && poolSize >= 1)) throw new StoreError('ERR_STORE_OPEN', 'poolSize must be a positive integer');
  const pool = new pg.Pool({
    connectionString: target.url,
    max: poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'henb-sw-verify',
    types,
  });
  // an idle client whose server went away emits 'error' on the pool; unhandled it would end the process
  pool.on('error', (err) => options.onPoolError?.(err));
  try {
    await migratePostgres(pool);
  } catch (cause) {
    await pool.end().catch(() => undefined);
    if (cause instanceof StoreError) throw cause;
    const why = redact(cause instanceof Error ? cause.message : String(cause), target.password);
    throw new StoreError('ERR_STORE_OPEN', `cannot open the PostgreSQL store ${target.name}: ${why}`, { cause: redactError(cause, target.password) });
  }
  return new PostgresStore(pool, target.name, { groupCommit: options.groupCommit === true });
}

/**
 * Applies the pending migrations in one transaction under an advisory lock (a second instance waits, then finds
 * nothing to do); refuses a database whose schema is newer than this software. Returns the schema version.
 */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  const lost = keepConnectionErrors(client);
  let ok = false;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [PG_MIGRATION_LOCK]);
    await client.query(PG_SCHEMA_VERSION_TABLE);
    const cur = (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')).rows[0]?.v ?? 0;
    if (cur > PG_SCHEMA_VERSION) {
      throw new StoreError('ERR_STORE_OPEN', `database schema version ${cur} is newer than this software (${PG_SCHEMA_VERSION})`);
    }
    for (const m of PG_MIGRATIONS) {
      if (m.version <= cur) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)',
        [m.version, m.description, Date.now()]);
    }
    await client.query('COMMIT');
    ok = true;
    return PG_SCHEMA_VERSION;
  } finally {
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    lost.done();
    client.release(!ok);
  }
}

/**
 * pg-pool listens for errors only on idle clients: a checked-out client whose connection fails between two
 * queries (server restart, DROP DATABASE ... WITH (FORCE)) would emit an unhandled 'error' and end the process.
 * This keeps the error; the next query on the client fails, and the caller releases it as broken.
 */
function keepConnectionErrors(client: PoolClient): { error: () => Error | undefined; done: () => void } {
  let error: Error | undefined;
  const onError = (err: Error): void => { error ??= err; };
  client.on('error', onError);
  return { error: () => error, done: () => client.removeListener('error', onError) };
}

interface Target { url: string; name: string; password: string | undefined }

/** Checks the URL and names the target (user@host:port/database) without its password. */
function describeTarget(options: PostgresStoreOptions): Target {
  if (typeof options?.url !== 'string' || options.url === '') {
    throw new StoreError('ERR_STORE_OPEN', 'the PostgreSQL store needs a url (postgres://user@host:port/database)');
  }
  let u: URL;
  try {
    u = new URL(options.url);
  } catch {
    throw new StoreError('ERR_STORE_OPEN', 'the PostgreSQL store url is not a valid URL (postgres://user@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new StoreError('ERR_STORE_OPEN', `the PostgreSQL store url must start with postgres:// or postgresql://, not ${u.protocol}//`);
  }
  if (options.password !== undefined) u.password = encodeURIComponent(options.password);
  const password = u.password === '' ? undefined : safeDecode(u.password);
  const user = safeDecode(u.username);
  const host = u.hostname || u.searchParams.get('host') || 'localhost';
  const database = safeDecode(u.pathname.replace(/^\//, '')) || user || '(default)';
  const name = `${user ? `${user}@` : ''}${host}:${u.port || '5432'}/${database}`;
  return { url: u.href, name, password };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function redact(text: string, password: string | undefined): string {
  if (!password) return text;
  return text.split(password).join('***').split(encodeURIComponent(password)).join('***');
}

/** The cause to attach: kept as it is unless it mentions the password somewhere, then a redacted copy. */
function redactError(err: unknown, password: string | undefined): unknown {
  if (!password || !(err instanceof Error)) return err;
  let dump: string;
  try {
    dump = JSON.stringify({ ...err, message: err.message, stack: err.stack });
  } catch {
    return new Error(redact(err.message, password));
  }
  if (!dump.includes(password) && !dump.includes(encodeURIComponent(password))) return err;
  const copy = new Error(redact(err.message, password));
  (copy as { code?: unknown }).code = (err as { code?: unknown }).code;
  return copy;
}

interface PgTx extends TxContext {
  client: PoolClient;
  ops: PgOps;
  /** the first database error inside the transaction: PostgreSQL then refuses everything up to ROLLBACK */
  failed: unknown;
  /** a savepoint could not be rolled back to (the connection failed) */
  lost?: boolean;
  /**
   * no statement has run at the innermost level (the transaction since BEGIN, or the savepoint nested() opened)
   * since it began: an audited operation then needs no savepoint of its own (auditedIn)
   */
  atStart: boolean;
  /** an audited operation's savepoint (OP_SAVEPOINT) is left to release with the next savepoint (auditedIn) */
  unreleased: boolean;
}

/** the savepoint an audited operation takes in a caller's transaction (auditedIn) */
const OP_SAVEPOINT = 'hsv_op';

export class PostgresStore extends StoreBase<PgTx> {
  readonly kind = 'postgres' as const;
  private readonly shared = { jtiCalls: 0 };
  private readonly ops: PgOps;

  constructor(private readonly pool: pg.Pool, readonly target: string, options: StoreBaseOptions = {}) {
    super(options);
    this.ops = new PgOps((sql, params) => this.pool.query(sql, params), this.shared);
  }

  /**
   * Inside a transaction on its client, else on the pool. An operation that appends to the audit log (appendAudit,
   * and the ones that record themselves, ./audit.ts) always runs in a transaction: its own when called outside one.
   * Every transaction holds the advisory lock TX_LOCK, so of all connections and instances one appends at a time,
   * and it reads the head and inserts the next record before anyone else can.
   */
  protected call(ctx: PgTx | undefined, name: OpName, args: unknown[]): Promise<unknown> {
    if (name === 'appendAudit' || AUDITED_OPS.has(name)) {
      if (ctx === undefined) return this.runTransaction((c) => auditedOp(c.ops, name, args));
      return this.auditedIn(ctx, name, args);
    }
    if (ctx === undefined && LEASE_OPS.has(name)) return this.runTransaction((c) => callOp(c.ops, name, args));
    return callOp(ctx?.ops ?? this.ops, name, args);
  }

  protected async runTransaction<T>(enter: (ctx: PgTx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const lost = keepConnectionErrors(client);
    let broken = false;
    const ctx: PgTx = { active: true, depth: 0, client, ops: undefined as unknown as PgOps, failed: undefined, atStart: true, unreleased: false };
    ctx.ops = new PgOps(async (sql, params) => {
      ctx.atStart = false;
      try {
        return await client.query(sql, params);
      } catch (err) {
        ctx.failed ??= err;
        throw err;
      }
    }, this.shared, true);
    try {
      // one round trip: BEGIN and the lock that serialises transactions across instances
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${TX_LOCK})`);
      const result = await enter(ctx);
      ctx.active = false;
      if (ctx.failed !== undefined) throw ctx.failed; // COMMIT would only roll back
      ctx.unreleased = false; // COMMIT releases every savepoint
      const r = await client.query('COMMIT');
      if (r.command !== 'COMMIT') throw new StoreError('ERR_STORE_CONFLICT', 'the transaction was rolled back by the server');
      return result;
    } catch (err) {
      ctx.active = false;
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw mapPgError(err);
    } finally {
      lost.done();
      client.release(broken || lost.error() !== undefined);
    }
  }

  protected async nested<T>(ctx: PgTx, fn: (tx: StoreTx) => Promise<T> | T): Promise<T> {
    const sp = `sp_${++ctx.depth}`;
    const failedBefore = ctx.failed;
    await savepoint(ctx, sp);
    ctx.atStart = true;
    try {
      const result = await fn(this.facade(ctx));
      if (ctx.failed !== failedBefore) throw ctx.failed;
      ctx.unreleased = false; // released with sp
      await ctx.client.query(`RELEASE SAVEPOINT ${sp}`);
      return result;
    } catch (err) {
      ctx.ops.auditHead = undefined;
      ctx.unreleased = false; // rolled back to and released with sp
      try {
        await ctx.client.query(`ROLLBACK TO SAVEPOINT ${sp}`);
        await ctx.client.query(`RELEASE SAVEPOINT ${sp}`);
      } catch {
        // the connection failed: nothing more runs in this transaction (its COMMIT cannot succeed either)
        ctx.lost = true;
        throw err;
      }
      ctx.failed = failedBefore; // the savepoint undid the failure: the transaction is usable again
      throw err;
    } finally {
      ctx.depth--;
      ctx.atStart = false;
    }
  }

  /**
   * An audited operation in a caller's transaction: when it fails, after its write or not, the transaction is left
   * as it was before it (its write and its record together or neither) and stays usable, as SQLite's savepoint
   * around it does (./sqlite.ts, atomic). The savepoint costs no round trip where none is needed:
   * - at the start of its level (the first statement since BEGIN, or since nested()'s SAVEPOINT: a plain call
   *   joining a group, a transaction that begins with its move): none; a failure rolls back to the level's savepoint,
   *   or, the first in the transaction, rolls the transaction back and begins it again with the lock, which loses
   *   nothing (nothing ran in it);
   * - when its record follows from its arguments and what it read before the write (putHenb, putReferenceLog), that
   *   record is checked before the write (auditCheckedBefore), so that after it only the database can refuse the
   *   record, and a database error fails the transaction (ctx.failed: no COMMIT) or the savepoint around it: none;
   * - else a SAVEPOINT before its write; on success its RELEASE goes with the next savepoint (nested()'s or the next
   *   audited operation's, in the same round trip) or is left to COMMIT, RELEASE or ROLLBACK TO of a savepoint
   *   outside it, each of which releases it too (a savepoint that is not rolled back to changes nothing before then).
   * appendAudit needs none: its one INSERT comes after its checks.
   */
  private async auditedIn(ctx: PgTx, name: OpName, args: unknown[]): Promise<unknown> {
    if (name === 'appendAudit') return auditedOp(ctx.ops, name, args);
    const failedBefore = ctx.failed;
    const atStart = ctx.atStart;
    let own = false;
    try {
      const result = await auditedOp(ctx.ops, name, args, async (before) => {
        if (atStart) return undefined;
        const checked = auditCheckedBefore(name, args, before);
        if (checked !== undefined) return checked;
        await savepoint(ctx, OP_SAVEPOINT);
        own = true;
        return undefined;
      });
      if (own) ctx.unreleased = true;
      return result;
    } catch (err) {
      ctx.ops.auditHead = undefined;
      // no savepoint of its own and not at the start of its level: it failed before its write (its read, its
      // checks), or its record in the database, which failed the transaction
      if (!own && !atStart) throw err;
      try {
        if (own) await ctx.client.query(`ROLLBACK TO SAVEPOINT ${OP_SAVEPOINT}; RELEASE SAVEPOINT ${OP_SAVEPOINT}`);
        else if (ctx.depth > 0) await ctx.client.query(`ROLLBACK TO SAVEPOINT sp_${ctx.depth}`);
        else await ctx.client.query(`ROLLBACK; BEGIN; SELECT pg_advisory_xact_lock(${TX_LOCK})`);
      } catch {
        ctx.lost = true; // the connection failed: nothing more runs in this transaction
        throw err;
      }
      ctx.failed = failedBefore; // rolled back to before the operation: the transaction is usable again
      ctx.atStart = atStart;
      throw err;
    }
  }

  /**
   * The writes that are transactions of their own anyway (holding TX_LOCK: the audit log's); the others are single
   * statements that take no lock, which a group would make wait for it.
   */
  protected override plainWriteJoinsGroup(name: OpName): boolean {
    return name === 'appendAudit' || AUDITED_OPS.has(name) || LEASE_OPS.has(name);
  }

  protected override transactionLost(ctx: PgTx): boolean {
    return ctx.lost === true;
  }

  protected async closeDatabase(): Promise<void> {
    await this.pool.end();
  }
}

/** SAVEPOINT `name`, in one round trip with the RELEASE of an audited operation's savepoint left open (auditedIn) */
async function savepoint(ctx: PgTx, name: string): Promise<void> {
  const release = ctx.unreleased ? `RELEASE SAVEPOINT ${OP_SAVEPOINT}; ` : '';
  ctx.unreleased = false;
  await ctx.client.query(`${release}SAVEPOINT ${name}`);
}

async function callOp(ops: PgOps, name: OpName, args: unknown[]): Promise<unknown> {
  try {
    return await (ops[name] as (...a: unknown[]) => Promise<unknown>).apply(ops, args);
  } catch (err) {
    throw mapPgError(err);
  }
}

/**
 * An operation and the audit record it appends, on a transaction's client (which holds TX_LOCK); `beforeWrite` runs
 * after what the record needs was read, before the write, and returns the record when it made and checked it
 * already (auditCheckedBefore: then it is not made again). A job's move reads nothing before it: its one statement
 * returns the state it replaced (PgOps.moveJob).
 */
async function auditedOp(ops: PgOps, name: OpName, args: unknown[], beforeWrite?: (before: unknown) => Promise<CheckedAudit | undefined>): Promise<unknown> {
  if (name === 'appendAudit') return callOp(ops, name, args);
  let before: unknown;
  let result: unknown;
  let checked: CheckedAudit | undefined;
  if (name === 'saveJobTransition') {
    await beforeWrite?.(undefined);
    try {
      ({ rec: result, before } = await ops.moveJob(...(args as Parameters<PgOps['moveJob']>)));
    } catch (err) {
      throw mapPgError(err);
    }
  } else {
    const b = auditBefore(name, args);
    before = b === undefined ? undefined : await ops.getHenb(b.id);
    checked = await beforeWrite?.(before);
    result = await callOp(ops, name, args);
  }
  const entry = checked !== undefined ? checkedAuditEntry(name, checked, result) : auditEntryFor(name, args, result, before);
  if (entry !== undefined) await callOp(ops, 'appendAudit', [entry]);
  return result;
}

/** SQLSTATEs that mean the same as a StoreError code; anything else (connection lost, ...) passes through. */
const PG_CODES: Record<string, StoreErrorCode> = {
  '23505': 'ERR_STORE_DUPLICATE', // unique_violation
  '23514': 'ERR_STORE_INVALID', // check_violation
  '23502': 'ERR_STORE_INVALID', // not_null_violation
  '22P02': 'ERR_STORE_INVALID', // invalid_text_representation (e.g. 1.5 for a BIGINT time)
  '22003': 'ERR_STORE_INVALID', // numeric_value_out_of_range
  '22021': 'ERR_STORE_INVALID', // character_not_in_repertoire (a NUL in a string)
  '40001': 'ERR_STORE_CONFLICT', // serialization_failure
  '40P01': 'ERR_STORE_CONFLICT', // deadlock_detected
};

function mapPgError(err: unknown): unknown {
  if (err instanceof StoreError || !(err instanceof pg.DatabaseError)) return err;
  const code = err.code === undefined ? undefined : PG_CODES[err.code];
  return code === undefined ? err : new StoreError(code, err.message, { cause: err });
}

// ---------------------------------------------------------------------------------------------------------------
// The operations, over one query function (the pool for plain calls, the transaction's client inside one).

type Query = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<QueryResult<R>>;

type AsyncOps = { [K in OpName]: (...args: never[]) => Promise<unknown> };

/**
 * saveJobTransition's statement, returning `columns` of the moved row and the row's state and update-sent flag
 * before the move (before_state, before_update_sent: its audit record's, read in the same round trip). The version
 * check and the move in one statement: of two concurrent callers with the same expected version, the second waits
 * for the first's row lock, re-checks `version = $2` on the committed row, and matches nothing.
 * `old` locks the row (FOR NO KEY UPDATE: the UPDATE's own lock, taken first) and the UPDATE waits for it (EXISTS:
 * `old` is evaluated before any row is updated), so the values it returns are those of the row version the UPDATE
 * replaces, as the SELECT before the UPDATE under TX_LOCK read them, even if a writer outside the lock changed the
 * row after the statement's snapshot (a locking read returns the newest committed version; the UPDATE then finds
 * the snapshot's version updated and re-checks its WHERE on that newest one). The lock is held to the end of the
 * transaction also when the move matches nothing (a version conflict, a final job), as the UPDATE's would be.
 * The event's from_state is the last event's to_state, which is the job's state before this move.
 */
function saveJobTransitionSql(columns: string): string {
  return `
    WITH old AS (
      SELECT state AS before_state, update_sent AS before_update_sent FROM jobs WHERE job_id = $1 FOR NO KEY UPDATE
    ), upd AS (
      UPDATE jobs SET state = $3, data = COALESCE($4::text, data), version = version + 1,
        deadline = CASE WHEN $5::boolean THEN $6::bigint ELSE deadline END,
        attempts = COALESCE($7::integer, attempts), update_sent = update_sent OR $8::boolean, terminal = $9::boolean,
        updated_at = $10::bigint
      WHERE job_id = $1 AND version = $2 AND NOT terminal AND EXISTS (SELECT FROM old)
      RETURNING *
    ), prev AS (
      SELECT seq, to_state FROM job_events WHERE job_id = $1 ORDER BY seq DESC LIMIT 1
    ), ev AS (
      INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason, detail)
      SELECT upd.job_id, COALESCE(prev.seq, 0) + 1, prev.to_state, upd.state, $10::bigint, $11::text, $12::text
      FROM upd LEFT JOIN prev ON true
    )
    SELECT ${columns}, before_state, before_update_sent FROM upd CROSS JOIN old`;
}

const SQL = {
  createJob: `
    WITH j AS (
      INSERT INTO jobs (job_id, henb_id, kind, state, data, version, deadline, attempts, update_sent, terminal, owner, lease_until,
        created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, 1, $6, 0, false, false, $9::text, $10::bigint, $7, $7)
      ON CONFLICT DO NOTHING
      RETURNING *
    ), e AS (
      INSERT INTO job_events (job_id, seq, from_state, to_state, at, reason, detail)
      SELECT job_id, 1, NULL, state, created_at, $8::text, NULL FROM j
    )
    SELECT ${JOB_COLUMNS_BUT_DATA} FROM j`,
  saveJobTransition: saveJobTransitionSql('upd.*'),
  // the same when the move gives the data: the row but its data (the record's data is what was written: jobWritten)
  saveJobTransitionWritten: saveJobTransitionSql(JOB_COLUMNS_BUT_DATA),
  // A job's lease expired: lease_until passed (or null) and its owner ($1 is the caller) has no live heartbeat
  // (instances.alive_until, renewLeases). The claims run under the transaction lock (LEASE_OPS); the WHERE of
  // each UPDATE re-checks the row all the same. SET reads the old row: the version moves only when the job is taken
  // from another owner.
  claimJobs: `
    WITH c AS (
      UPDATE jobs SET version = version + (CASE WHEN owner IS NOT NULL AND owner <> $1::text THEN 1 ELSE 0 END),
        owner = $1::text, lease_until = $2::bigint
      WHERE NOT terminal AND (owner IS NULL OR owner = $1::text OR lease_until IS NULL OR (lease_until <= $3::bigint
        AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = jobs.owner AND i.alive_until > $3::bigint)))
      RETURNING *
    )
    SELECT * FROM c ORDER BY created_at, job_id`,
  // the distinct owners of active jobs, one probe of jobs_owner_lease each (not a scan of every active job)
  jobOwners: `
    WITH RECURSIVE o(owner) AS (
      SELECT (SELECT owner FROM jobs WHERE NOT terminal AND owner IS NOT NULL ORDER BY owner LIMIT 1)
      UNION ALL
      SELECT (SELECT j.owner FROM jobs j WHERE NOT j.terminal AND j.owner > o.owner ORDER BY j.owner LIMIT 1) FROM o WHERE o.owner IS NOT NULL
    )
    SELECT owner FROM o WHERE owner IS NOT NULL`,
  // as claimJobs for the jobs not held by $1 yet (every one taken is returned; $1's own are not touched): unowned
  // ones, those of the other owners ($4) without a lease, and those of the owners without a live heartbeat ($5)
  // whose lease_until passed; each arm an index condition on jobs_owner_lease, so neither $1's own jobs, however
  // many, nor a live instance's are read. The WHERE re-checks the expiry against the heartbeats all the same.
  claimExpiredJobs: `
    WITH c AS (
      UPDATE jobs SET version = version + (CASE WHEN owner IS NOT NULL THEN 1 ELSE 0 END),
        owner = $1::text, lease_until = $2::bigint
      WHERE NOT terminal AND (owner IS NULL OR (owner = ANY($4::text[]) AND lease_until IS NULL) OR (owner = ANY($5::text[]) AND lease_until <= $3::bigint))
        AND (owner IS NULL OR (owner <> $1::text AND (lease_until IS NULL
          OR (lease_until <= $3::bigint AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.instance_id = jobs.owner AND i.alive_until > $3::bigint)))))
      RETURNING *
    )
    SELECT * FROM c ORDER BY created_at, job_id`,
  heartbeat: `
    INSERT INTO instances (instance_id, alive_until) VALUES ($1::text, $2::bigint)
    ON CONFLICT (instance_id) DO UPDATE SET alive_until = excluded.alive_until`,
  // One job, whatever its lease, in one statement: of instances taking it at once, the second waits for the first's
  // row lock and re-checks the WHERE on the committed row: it then takes the job from the first (version + 1), or,
  // with an expected version, finds the version moved and matches nothing.
  takeJob: `
    UPDATE jobs SET version = version + (CASE WHEN owner IS NOT NULL AND owner <> $2::text THEN 1 ELSE 0 END),
      owner = $2::text, lease_until = $3::bigint
    WHERE job_id = $1::text AND NOT terminal AND ($4::integer IS NULL OR version = $4::integer)
    RETURNING *`,
  consumeNonce: `
    UPDATE nonces SET consumed_at = $2::bigint
    WHERE nonce = $1 AND consumed_at IS NULL AND expires_at > $2::bigint
    RETURNING *`,
  // new, or the earlier entry has expired (then it is renewed): one row back; remembered and live: none
  rememberJti: `
    INSERT INTO jtis (jti, expires_at) VALUES ($1, $2::bigint)
    ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE jtis.expires_at <= $3::float8
    RETURNING jti`,
  pruneJobs: `
    WITH gone AS (DELETE FROM jobs WHERE terminal AND updated_at < $1::float8 RETURNING job_id),
         r AS (DELETE FROM results WHERE job_id IN (SELECT job_id FROM gone) RETURNING 1)
    SELECT (SELECT count(*) FROM gone)::int AS n`,
  purgeExpired: `
    WITH a AS (DELETE FROM jtis WHERE expires_at <= $1::float8 RETURNING 1),
         b AS (DELETE FROM nonces WHERE expires_at <= $1::float8 RETURNING 1)
    SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) AS n`,
  // one statement: the rows retention removes and the aged time they leave (instances pruning at once delete
  // disjoint rows or wait for each other's row locks; GREATEST keeps the newest aged time)
  pruneNotifications: `
    WITH gone AS (
      DELETE FROM notifications
      WHERE id <= (SELECT COALESCE(max(id), 0) FROM notifications) - $1::bigint OR event_time < $2::float8
      RETURNING event_time
    ), aged AS (
      UPDATE notification_log SET aged_at = GREATEST(COALESCE(aged_at, (SELECT max(event_time) FROM gone)), (SELECT max(event_time) FROM gone))
      WHERE EXISTS (SELECT 1 FROM gone)
    )
    SELECT count(*) AS n FROM gone`,
  listNotifications: `
    SELECT * FROM notifications
    WHERE id > $1::float8 AND id <= $2::float8 AND event_time >= $3::float8 AND event_time <= $4::float8
      AND ($5::text IS NULL OR stream = $5::text)
    ORDER BY id LIMIT $6`,
} as const;

class PgOps implements AsyncOps {
  /**
   * A transaction's ops (inTransaction): the audit chain's head as this transaction's last append left it, so the
   * next append of the transaction (of a group: of its next member) reads no head. Valid while the transaction holds
   * TX_LOCK, which every append takes: forgotten when a savepoint rolls back (PostgresStore.nested). The pool's ops
   * never append (PostgresStore.call) and keep none.
   */
  auditHead: { seq: number; hash: string } | undefined;

  constructor(private readonly q: Query, private readonly shared: { jtiCalls: number }, private readonly inTransaction = false) {}

  // --- H(e)NBs
  async getHenb(henbId: string): Promise<HenbRecord | undefined> {
    const row = (await this.q<HenbRow>('SELECT * FROM henbs WHERE henb_id = $1', [henbId])).rows[0];
    return row && henbFromRow(row);
  }

  async putHenb(rec: HenbInput): Promise<HenbRecord> {
    const out = henbRecord(rec, Date.now());
    await this.q(`INSERT INTO henbs (henb_id, rim, software_version, state, last_result_token, updated_at)
                  VALUES ($1, $2, $3, $4, $5, $6)
                  ON CONFLICT (henb_id) DO UPDATE SET rim = excluded.rim, software_version = excluded.software_version,
                    state = excluded.state, last_result_token = excluded.last_result_token, updated_at = excluded.updated_at`,
    [out.henbId, out.rim, out.softwareVersion, out.state, out.lastResultToken, out.updatedAt]);
    return out;
  }

  async listHenbs(filter: { state?: HenbState } = {}): Promise<HenbRecord[]> {
    const r = filter.state === undefined
      ? await this.q<HenbRow>('SELECT * FROM henbs ORDER BY henb_id')
      : await this.q<HenbRow>('SELECT * FROM henbs WHERE state = $1 ORDER BY henb_id', [filter.state]);
    return r.rows.map(henbFromRow);
  }

  async deleteHenb(henbId: string): Promise<boolean> {
    return (await this.q('DELETE FROM henbs WHERE henb_id = $1', [henbId])).rowCount === 1;
  }

  // --- jobs
  async createJob<T>(job: NewJob<T>): Promise<JobRecord<T>> {
    const { data, deadline, owner, leaseUntil } = newJobInput(job);
    const now = Date.now();
    const row = (await this.q<Omit<JobRow, 'data'>>(SQL.createJob,
      [job.jobId, job.henbId, job.kind, job.state, data, deadline, now, job.reason ?? null, owner, leaseUntil])).rows[0];
    if (row !== undefined) return jobWritten<T>(row, data);
    // a unique key refused it (ON CONFLICT DO NOTHING, no target: the job id or jobs_one_active); say which
    const idTaken = (await this.q('SELECT 1 FROM jobs WHERE job_id = $1', [job.jobId])).rowCount === 1;
    const active = (await this.q<{ job_id: string }>('SELECT job_id FROM jobs WHERE henb_id = $1 AND kind = ANY($2::text[]) AND NOT terminal',
      [job.henbId, excludingKinds(job.kind)])).rows[0];
    throw jobRefused(job, idTaken, active?.job_id);
  }

  async getJob<T>(jobId: string): Promise<JobRecord<T> | undefined> {
    const row = (await this.q<JobRow>('SELECT * FROM jobs WHERE job_id = $1', [jobId])).rows[0];
    return row && jobFromRow<T>(row);
  }

  async saveJobTransition<T>(jobId: string, newState: string, o: JobTransitionOptions<T>): Promise<JobRecord<T>> {
    return (await this.moveJob<T>(jobId, newState, o)).rec;
  }

  /** saveJobTransition, and the job's state and update-sent flag the move replaced (for its audit record), in one statement */
  async moveJob<T>(jobId: string, newState: string, o: JobTransitionOptions<T>): Promise<{ rec: JobRecord<T>; before: JobBefore }> {
    const { data, deadline, detail, at } = transitionInput(newState, o);
    if (typeof jobId !== 'string') throw new StoreError('ERR_STORE_NOT_FOUND', `job ${String(jobId)} does not exist`);
    // a move that gives the data gets the row but its data back (jobWritten)
    const row = (await this.q<JobRow & { before_state: string; before_update_sent: boolean }>(data === undefined ? SQL.saveJobTransition : SQL.saveJobTransitionWritten, [
      jobId, o.expectPrevVersion, newState, data ?? null, deadline !== undefined, deadline ?? null, o.attempts ?? null,
      o.updateSent === true, o.terminal === true, at, o.reason ?? null, detail,
    ])).rows[0];
    if (row !== undefined) {
      const before = { state: row.before_state, updateSent: row.before_update_sent };
      return { rec: data === undefined ? jobFromRow<T>(row) : jobWritten<T>(row, data), before };
    }
    // nothing moved: say why, as the SQLite store does
    const cur = (await this.q<{ version: number; terminal: boolean }>('SELECT version, terminal FROM jobs WHERE job_id = $1', [jobId])).rows[0];
    if (cur === undefined) throw new StoreError('ERR_STORE_NOT_FOUND', `job ${jobId} does not exist`);
    if (cur.version !== o.expectPrevVersion) {
      throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} is at version ${cur.version}, not ${o.expectPrevVersion}`);
    }
    if (cur.terminal) throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} is already final`);
    throw new StoreError('ERR_STORE_CONFLICT', `job ${jobId} changed concurrently`);
  }

  async listActiveJobs<T>(): Promise<JobRecord<T>[]> {
    return (await this.q<JobRow>('SELECT * FROM jobs WHERE NOT terminal ORDER BY created_at, job_id')).rows.map((r) => jobFromRow<T>(r));
  }

  // --- job leases
  async claimJobs<T>(owner: string, leaseMs: number, now: number = Date.now()): Promise<JobRecord<T>[]> {
    const lease = leaseInput(owner, leaseMs, now);
    // the heartbeat first: this instance's jobs are its own in the claim's WHERE anyway (owner = $1)
    await this.q(SQL.heartbeat, [owner, lease.until]);
    return (await this.q<JobRow>(SQL.claimJobs, [owner, lease.until, lease.now])).rows.map((r) => jobFromRow<T>(r));
  }

  async claimExpiredJobs<T>(owner: string, leaseMs: number, now: number = Date.now()): Promise<JobRecord<T>[]> {
    const lease = leaseInput(owner, leaseMs, now);
    const others = (await this.q<{ owner: string }>(SQL.jobOwners)).rows.map((r) => r.owner).filter((o) => o !== owner);
    const alive = new Set((await this.q<{ instance_id: string }>('SELECT instance_id FROM instances WHERE instance_id = ANY($1::text[]) AND alive_until > $2::bigint',
      [others, lease.now])).rows.map((r) => r.instance_id));
    const rows = (await this.q<JobRow>(SQL.claimExpiredJobs, [owner, lease.until, lease.now, others, others.filter((o) => !alive.has(o))])).rows;
    // heartbeats that passed hold nothing: not kept (each start of an instance has a new id, so a crash leaves one)
    await this.q('DELETE FROM instances WHERE alive_until <= $1::bigint AND instance_id <> $2', [lease.now, owner]);
    return rows.map((r) => jobFromRow<T>(r));
  }

  async takeJob<T>(jobId: string, owner: string, leaseMs: number, now: number = Date.now(), expectVersion?: number): Promise<JobRecord<T> | undefined> {
    const take = takeInput(jobId, owner, leaseMs, now, expectVersion);
    const row = (await this.q<JobRow>(SQL.takeJob, [jobId, owner, take.until, take.expectVersion])).rows[0];
    return row && jobFromRow<T>(row);
  }

  async renewLeases(owner: string, leaseMs: number, now: number = Date.now()): Promise<number> {
    const lease = leaseInput(owner, leaseMs, now);
    // one row: the instance's heartbeat holds the leases of all its jobs (not one row version per job)
    await this.q(SQL.heartbeat, [owner, lease.until]);
    return 1;
  }

  async releaseJobs(owner: string): Promise<number> {
    await this.q('DELETE FROM instances WHERE instance_id = $1', [ownerInput(owner)]);
    return (await this.q('UPDATE jobs SET owner = NULL, lease_until = NULL WHERE NOT terminal AND owner = $1', [owner])).rowCount ?? 0;
  }

  async listJobs<T>(filter: { henbId?: string; limit?: number } = {}): Promise<JobRecord<T>[]> {
    const limit = limitOf(filter.limit);
    const r = filter.henbId === undefined
      ? await this.q<JobRow>('SELECT * FROM jobs ORDER BY created_at DESC, job_id DESC LIMIT $1', [limit])
      : await this.q<JobRow>('SELECT * FROM jobs WHERE henb_id = $1 ORDER BY created_at DESC, job_id DESC LIMIT $2', [filter.henbId, limit]);
    return r.rows.map((row) => jobFromRow<T>(row));
  }

  async listJobEvents(jobId: string): Promise<JobEvent[]> {
    return (await this.q<EventRow>('SELECT * FROM job_events WHERE job_id = $1 ORDER BY seq', [jobId])).rows.map(eventFromRow);
  }

  // --- results
  async putResult(rec: ResultInput): Promise<ResultRecord> {
    const out = resultRecord(rec);
    const r = await this.q(`INSERT INTO results (job_id, kind, henb_id, ear_status, token, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                            ON CONFLICT (job_id, kind) DO NOTHING`,
    [out.jobId, out.kind, out.henbId, out.earStatus, out.token, out.createdAt]);
    if (r.rowCount !== 1) throw new StoreError('ERR_STORE_DUPLICATE', `job ${out.jobId} already has a ${out.kind} result`);
    return out;
  }

  async getResults(jobId: string): Promise<ResultRecord[]> {
    return (await this.q<ResultRow>('SELECT * FROM results WHERE job_id = $1 ORDER BY created_at, kind', [jobId])).rows.map(resultFromRow);
  }

  async listResults(filter: { henbId?: string; limit?: number } = {}): Promise<ResultRecord[]> {
    const limit = limitOf(filter.limit);
    const r = filter.henbId === undefined
      ? await this.q<ResultRow>('SELECT * FROM results ORDER BY created_at DESC, job_id DESC LIMIT $1', [limit])
      : await this.q<ResultRow>('SELECT * FROM results WHERE henb_id = $1 ORDER BY created_at DESC, job_id DESC LIMIT $2', [filter.henbId, limit]);
    return r.rows.map(resultFromRow);
  }

  // --- nonces
  async putNonce(rec: NonceInput): Promise<NonceRecord> {
    const out = nonceRecord(rec);
    const r = await this.q(`INSERT INTO nonces (nonce, purpose, job_id, henb_id, created_at, expires_at, consumed_at)
                            VALUES ($1, $2, $3, $4, $5, $6, NULL) ON CONFLICT (nonce) DO NOTHING`,
    [out.nonce, out.purpose, out.jobId, out.henbId, out.createdAt, out.expiresAt]);
    if (r.rowCount !== 1) throw new StoreError('ERR_STORE_DUPLICATE', 'nonce already exists');
    return out;
  }

  async consumeNonce(nonce: string, now: number = Date.now()): Promise<ConsumeNonceResult> {
    const row = (await this.q<NonceRow>(SQL.consumeNonce, [nonce, now])).rows[0];
    if (row !== undefined) return { ok: true, record: nonceFromRow(row) };
    // not consumed now: say why (the same order of reasons as the SQLite store)
    const cur = (await this.q<NonceRow>('SELECT * FROM nonces WHERE nonce = $1', [nonce])).rows[0];
    if (cur === undefined) return { ok: false, reason: 'unknown' };
    if (cur.consumed_at !== null) return { ok: false, reason: 'consumed' };
    if (cur.expires_at <= now) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'consumed' };
  }

  // --- jti replay cache
  async rememberJti(jti: string, expiresAt: number, now: number = Date.now()): Promise<boolean> {
    const expiry = jtiExpiry(jti, expiresAt);
    if (++this.shared.jtiCalls % 256 === 0) await this.q('DELETE FROM jtis WHERE expires_at <= $1::float8', [now]);
    const r = await this.q(SQL.rememberJti, [jti, expiry, now]);
    return r.rowCount === 1;
  }

  // --- reference logs
  async putReferenceLog<T>(henbId: string, log: T): Promise<ReferenceLogRecord<T>> {
    const json = referenceLogInput(henbId, log);
    const now = Date.now();
    const row = (await this.q<ReferenceLogRow>(`INSERT INTO reference_logs (henb_id, log, created_at, updated_at) VALUES ($1, $2, $3, $3)
                                           ON CONFLICT (henb_id) DO UPDATE SET log = excluded.log, updated_at = excluded.updated_at
                                           RETURNING *`, [henbId, json, now])).rows[0] as ReferenceLogRow;
    return referenceLogFromRow<T>(row);
  }

  async getReferenceLog<T>(henbId: string): Promise<ReferenceLogRecord<T> | undefined> {
    const row = (await this.q<ReferenceLogRow>('SELECT * FROM reference_logs WHERE henb_id = $1', [henbId])).rows[0];
    return row && referenceLogFromRow<T>(row);
  }

  async listReferenceLogs<T>(): Promise<ReferenceLogRecord<T>[]> {
    return (await this.q<ReferenceLogRow>('SELECT * FROM reference_logs ORDER BY created_at, henb_id')).rows.map((r) => referenceLogFromRow<T>(r));
  }

  // --- audit log (./audit.ts): called on a transaction's client only (PostgresStore.call), which holds TX_LOCK
  async appendAudit(entry: AuditInput): Promise<AuditRecord> {
    const head = this.auditHead ?? (await this.q<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
    const rec = nextAuditRecord(entry, head);
    await this.q('INSERT INTO audit_log (seq, at, actor, action, object, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [rec.seq, rec.at, rec.actor, rec.action, rec.object, rec.details, rec.prevHash, rec.hash]);
    if (this.inTransaction) this.auditHead = { seq: rec.seq, hash: rec.hash };
    return rec;
  }

  async listAudit(filter: { afterSeq?: number; limit?: number } = {}): Promise<AuditRecord[]> {
    return (await this.q<AuditRow>('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [filter.afterSeq ?? 0, auditLimit(filter.limit)])).rows.map(auditFromRow);
  }

  async lastAudit(): Promise<AuditRecord | undefined> {
    const row = (await this.q<AuditRow>('SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
    return row && auditFromRow(row);
  }

  async putAuditHead(head: AuditHeadInput): Promise<AuditHeadRecord> {
    const h = auditHeadInput(head);
    const row = (await this.q<AuditHeadRow>('INSERT INTO audit_heads (seq, hash, kid, jws, signed_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [h.seq, h.hash, h.kid, h.jws, h.signedAt])).rows[0] as AuditHeadRow;
    return auditHeadFromRow(row);
  }

  async listAuditHeads(filter: { afterId?: number; limit?: number } = {}): Promise<AuditHeadRecord[]> {
    return (await this.q<AuditHeadRow>('SELECT * FROM audit_heads WHERE id > $1 ORDER BY id LIMIT $2', [filter.afterId ?? 0, auditLimit(filter.limit)])).rows.map(auditHeadFromRow);
  }

  async purgeExpired(now: number = Date.now()): Promise<number> {
    return (await this.q<{ n: number }>(SQL.purgeExpired, [now])).rows[0]?.n ?? 0;
  }

  // --- the notification log (RFC 5277 replay), shared by the instances on this database
  async appendNotification(stream: string, eventTime: number, xml: string): Promise<number> {
    const n = notificationInput(stream, eventTime, xml);
    return (await this.q<{ id: number }>('INSERT INTO notifications (stream, event_time, xml) VALUES ($1, $2, $3) RETURNING id',
      [n.stream, n.eventTime, n.xml])).rows[0]!.id;
  }

  /**
   * One statement (atomic on its own: every row or none): the rows in the given order (WITH ORDINALITY ... ORDER BY),
   * so the identity gives them increasing ids in that order; RETURNING's order is not promised, hence the sort.
   */
  async appendNotifications(events: readonly NewNotification[]): Promise<number[]> {
    const rows = notificationsInput(events);
    if (rows.length === 0) return [];
    const r = await this.q<{ id: number }>(`INSERT INTO notifications (stream, event_time, xml)
        SELECT s, t, x FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS e(s, t, x, n) ORDER BY n
        RETURNING id`, [rows.map((n) => n.stream), rows.map((n) => n.eventTime), rows.map((n) => n.xml)]);
    return r.rows.map((x) => x.id).sort((a, b) => a - b);
  }

  async lastNotificationId(): Promise<number> {
    return (await this.q<{ id: number }>('SELECT COALESCE(max(id), 0) AS id FROM notifications')).rows[0]?.id ?? 0;
  }

  async listNotifications(query: NotificationQuery): Promise<NotificationRecord[]> {
    const q = notificationQuery(query);
    return (await this.q<NotificationRow>(SQL.listNotifications, [q.afterId, q.upToId, q.since, q.until, q.stream, q.limit])).rows
      .map(notificationFromRow);
  }

  async pruneNotifications(keep: number, olderThan: number): Promise<number> {
    const p = pruneInput(keep, olderThan);
    return (await this.q<{ n: number }>(SQL.pruneNotifications, [p.keep, p.olderThan])).rows[0]?.n ?? 0;
  }

  async notificationLogTimes(): Promise<NotificationLogTimes> {
    const row = (await this.q<{ created_at: number; aged_at: number | null }>('SELECT created_at, aged_at FROM notification_log')).rows[0]!;
    return { createdAt: row.created_at, agedAt: row.aged_at };
  }

  async pruneJobs(before: number): Promise<number> {
    // job_events go with their job (ON DELETE CASCADE); results by the job ids deleted, in the same statement
    return Number((await this.q<{ n: number }>(SQL.pruneJobs, [before])).rows[0]?.n ?? 0);
  }
}
