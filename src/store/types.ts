/**
 * Persistence contract (interface only). The default implementation is SQLite (better-sqlite3, WAL) in the data
 * directory: `openSqliteStore` in ./sqlite.ts. The PostgreSQL implementation (./postgres.ts, for several OAM
 * instances sharing one database) is behind the same `Store` interface, which is why every method returns a
 * Promise even though SQLite answers synchronously.
 *
 * Times are epoch milliseconds (numbers). Digests (RIM/TIM) are lowercase hex SHA-256 (64 chars).
 * Wire names stay kebab-case in YANG; these records use camelCase and the OAM layer maps them.
 * The store does not know the flow: job states are opaque strings and the job state blob is opaque JSON.
 *
 * Use one Store per database per process: SQLite locks are taken synchronously, so a second connection in the same
 * process writing while the first holds a transaction would stall the event loop until the busy timeout.
 * (PostgreSQL: one Store per OAM instance; several instances may share the database.)
 * list* methods without a limit return at most 1000 rows.
 *
 * Errors are `StoreError` (./errors.ts) with codes:
 *   ERR_STORE_CONFLICT   saveJobTransition: the job's version is not `expectPrevVersion` (someone else moved it)
 *   ERR_STORE_NOT_FOUND  the job / H(e)NB named does not exist
 *   ERR_STORE_DUPLICATE  createJob / putNonce / putResult with an id that already exists
 *   ERR_STORE_HENB_BUSY  createJob: the H(e)NB already has an active (terminal === false) job of the same kind,
 *                        or of the other of EXCLUSIVE_JOB_KINDS;
 *                        the database enforces it (a partial unique index), so it holds across OAM instances
 *   ERR_STORE_INVALID    a record failed validation (bad digest, bad state name, non-JSON blob, ...); nothing written
 *   ERR_STORE_CLOSED     the store was closed
 *   ERR_STORE_OPEN       the database could not be opened or migrated (cause attached)
 *   ERR_STORE_CHECKPOINT SQLite: a WAL checkpoint in the checkpointer thread failed, or the thread ended; never
 *                        thrown to a caller, only reported (SqliteStoreOptions.onCheckpointError)
 */

/**
 * Job kinds of which an H(e)NB has at most one active job altogether (a software update and an integrity check
 * exclude each other); any other kind: at most one active job of that kind. Enforced by unique indexes.
 */
export const EXCLUSIVE_JOB_KINDS = ['software-update', 'integrity-check'] as const;

export type HenbState = 'trusted' | 'updating' | 'quarantined' | 'unknown';
export const HENB_STATES: readonly HenbState[] = ['trusted', 'updating', 'quarantined', 'unknown'];

export interface HenbRecord {
  henbId: string;
  /** the stored RIM (lowercase hex SHA-256), null when never measured */
  rim: string | null;
  softwareVersion: string | null;
  state: HenbState;
  /** the last final result token (compact JWS) for this H(e)NB, if any */
  lastResultToken: string | null;
  /** epoch ms; set by the store on every write */
  updatedAt: number;
}

/** What putHenb accepts: updatedAt is set by the store. */
export type HenbInput = Omit<HenbRecord, 'updatedAt'>;

export interface JobRecord<T = unknown> {
  jobId: string;
  henbId: string;
  /** e.g. 'software-update' or 'integrity-request'; opaque to the store */
  kind: string;
  /** the flow's state name (opaque to the store) */
  state: string;
  /** the flow's JSON state blob (must be JSON-serialisable) */
  data: T;
  /**
   * optimistic-concurrency version: 1 after createJob, +1 on every saveJobTransition and on every claimJobs or
   * takeJob that takes the job from another owner (so the instance that lost it fails its next transition with ERR_STORE_CONFLICT)
   */
  version: number;
  /** epoch ms when the current step times out, or null */
  deadline: number | null;
  /** attempt counter of the current step (the flow decides when to reset it) */
  attempts: number;
  /**
   * true once the software-update was sent to the device. Monotonic: once true it stays true, so a restart can
   * tell that the update must never be sent again.
   */
  updateSent: boolean;
  /** true when the job reached a final state; listActiveJobs returns only jobs with terminal === false */
  terminal: boolean;
  /** the OAM instance that drives the job (its lease), or null when none does (see claimJobs) */
  owner: string | null;
  /** epoch ms until which `owner` holds the job (set when it is created, claimed or taken; afterwards the owner's heartbeat, renewLeases, holds it), or null */
  leaseUntil: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewJob<T = unknown> {
  jobId: string;
  henbId: string;
  kind: string;
  state: string;
  data: T;
  deadline?: number | null;
  /** optional reason recorded in the first job event */
  reason?: string;
  /** the OAM instance that creates (and drives) the job; with leaseUntil, its lease */
  owner?: string | null;
  leaseUntil?: number | null;
}

export interface JobTransitionOptions<T = unknown> {
  /** required: the version the caller read; a mismatch throws ERR_STORE_CONFLICT and writes nothing */
  expectPrevVersion: number;
  /** replaces the state blob when given (otherwise kept) */
  data?: T;
  /** replaces the deadline when given (null clears it) */
  deadline?: number | null;
  /** sets the attempt counter when given */
  attempts?: number;
  /** true sets the flag; false/undefined leaves it as it is (the flag never goes back to false) */
  updateSent?: boolean;
  /** marks the job final (it leaves listActiveJobs) */
  terminal?: boolean;
  /** recorded in the job event */
  reason?: string;
  detail?: unknown;
  /** epoch ms of the transition; default Date.now() */
  at?: number;
}

/** One entry of a job's transition history. fromState is null for the creation event. */
export interface JobEvent {
  jobId: string;
  seq: number;
  fromState: string | null;
  toState: string;
  at: number;
  reason: string | null;
  detail: unknown;
}

/** A signed result token kept for a job. `kind` distinguishes e.g. 'pve' (pre-update) and 'final'. */
export interface ResultRecord {
  jobId: string;
  kind: string;
  henbId: string;
  earStatus: string;
  token: string;
  createdAt: number;
}
export type ResultInput = Omit<ResultRecord, 'createdAt'> & { createdAt?: number };

export interface NonceRecord {
  nonce: string;
  purpose: string;
  jobId: string | null;
  henbId: string | null;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
}
export interface NonceInput {
  nonce: string;
  purpose: string;
  jobId?: string | null;
  henbId?: string | null;
  expiresAt: number;
  createdAt?: number;
}
export type ConsumeNonceResult =
  | { ok: true; record: NonceRecord }
  | { ok: false; reason: 'unknown' | 'consumed' | 'expired' };

/** An H(e)NB's reference measurement log (the log its stored RIM replays to), as an opaque JSON value. */
export interface ReferenceLogRecord<T = unknown> {
  henbId: string;
  log: T;
  createdAt: number;
  updatedAt: number;
}

/**
 * One notification kept for RFC 5277 replay (migration 6): the event element serialised, the stream it was emitted
 * on. Ids increase in the order notifications were appended and are never reused (with several OAM instances on
 * one database: across instances), so a replay reads `id > afterId` pages in order.
 */
export interface NotificationRecord {
  id: number;
  stream: string;
  /** epoch ms */
  eventTime: number;
  xml: string;
}

/** One notification to append (appendNotifications). */
export type NewNotification = Omit<NotificationRecord, 'id'>;

/** listNotifications: eventTime in [since, until], id in (afterId, upToId], oldest (by id) first. */
export interface NotificationQuery {
  /** only notifications of this stream (undefined: every stream) */
  stream?: string;
  /** epoch ms, inclusive */
  since: number;
  /** epoch ms, inclusive */
  until?: number;
  afterId?: number;
  upToId?: number;
  /** at most this many (default 1000) */
  limit?: number;
}

/** replayLogCreationTime and replayLogAgedTime (RFC 5277 section 3.2.1) of the notification log, epoch ms. */
export interface NotificationLogTimes {
  /** when the log was created (the migration that added it) */
  createdAt: number;
  /** the eventTime of the newest notification that retention removed, or null when none was */
  agedAt: number | null;
}

// --- the audit log (./audit.ts has the chain's rules)

/** What a caller appends; the store adds seq, prev_hash and hash. */
export interface AuditInput {
  /** who: `netconf:<user>@<session-id>`, `ssh:<address>:<port>`, `cli:<command>`, `system` */
  actor: string;
  /** what kind of decision, e.g. job-transition, nacm-denial, config-edit (docs/security.md lists them) */
  action: string;
  /** what it concerns, e.g. job/<id>, henb/<id>, /nacm, the operation's name */
  object: string;
  /** any JSON value (default {}) */
  details?: unknown;
  /** epoch ms (default now) */
  at?: number;
}

export interface AuditRecord {
  seq: number;
  at: number;
  actor: string;
  action: string;
  object: string;
  /** the details as the JSON text that is hashed */
  details: string;
  prevHash: string;
  hash: string;
}

/** A signed chain head: a JWS (compact) over {seq, hash, iat} signed with the OAM key `kid`. */
export interface AuditHeadInput {
  seq: number;
  hash: string;
  kid: string;
  jws: string;
  signedAt: number;
}
export interface AuditHeadRecord extends AuditHeadInput {
  /** position in the heads table (increasing) */
  id: number;
}

/** Everything you can do with the store, inside or outside a transaction. */
export interface StoreOps {
  // --- H(e)NBs
  getHenb(henbId: string): Promise<HenbRecord | undefined>;
  /** insert or replace (upsert) the whole record */
  putHenb(rec: HenbInput): Promise<HenbRecord>;
  listHenbs(filter?: { state?: HenbState }): Promise<HenbRecord[]>;
  deleteHenb(henbId: string): Promise<boolean>;

  // --- jobs
  /**
   * ERR_STORE_DUPLICATE when the jobId exists; ERR_STORE_HENB_BUSY when the H(e)NB has an active job of the same
   * kind (at most one per H(e)NB and kind, whichever instance creates it). Either way nothing is written and an
   * enclosing transaction stays usable.
   */
  createJob<T = unknown>(job: NewJob<T>): Promise<JobRecord<T>>;
  getJob<T = unknown>(jobId: string): Promise<JobRecord<T> | undefined>;
  /** atomically: check version, write new state (+ options), append a job event. Returns the new record. */
  saveJobTransition<T = unknown>(
    jobId: string,
    newState: string,
    options: JobTransitionOptions<T>,
  ): Promise<JobRecord<T>>;
  /** jobs with terminal === false, oldest first (for resume after restart) */
  listActiveJobs<T = unknown>(): Promise<JobRecord<T>[]>;
  listJobs<T = unknown>(filter?: { henbId?: string; limit?: number }): Promise<JobRecord<T>[]>;
  /** transition history, oldest first */
  listJobEvents(jobId: string): Promise<JobEvent[]>;

  // --- job leases (several OAM instances on one database divide the active jobs)
  /**
   * Atomically takes the active jobs that have no owner, are `owner`'s already, or whose lease expired
   * (leaseUntil <= now, or an owner without a lease): each gets owner = `owner` and leaseUntil = now + leaseMs; a
   * job taken from another owner gets version + 1 (an unowned or released one keeps its version). Returns every active job `owner` holds afterwards, oldest first. Of instances claiming at once,
   * each job goes to exactly one. `now` defaults to Date.now().
   */
  claimJobs<T = unknown>(owner: string, leaseMs: number, now?: number): Promise<JobRecord<T>[]>;
  /**
   * As claimJobs for the jobs `owner` does not hold yet (unowned, or another owner's whose lease expired), and
   * returns only those, oldest first: `owner`'s own jobs are neither renewed nor read (renewLeases does that), so an
   * instance with many jobs waiting for a slot does not read them all back at every renewal.
   */
  claimExpiredJobs<T = unknown>(owner: string, leaseMs: number, now?: number): Promise<JobRecord<T>[]>;
  /**
   * Atomically takes one specific active job for `owner`, whatever its current lease (e.g. an instance that gets
   * a request for a job another instance drives): owner = `owner`, leaseUntil = now + leaseMs; a job taken from
   * another owner gets version + 1 (so that owner fails its next transition with ERR_STORE_CONFLICT), an unowned
   * job or `owner`'s own keeps its version. With `expectVersion`, only while the job is at that version (so the
   * caller takes the job it checked, not one that moved since). Returns the record afterwards, or undefined when
   * the job does not exist, is final, or is not at `expectVersion` (nothing written). Of instances taking one job
   * at once, the takes apply one after the other: without `expectVersion` the job ends with the last one and every
   * other's version is stale; with the version they read, only the first takes it. `now` defaults to Date.now().
   */
  takeJob<T = unknown>(jobId: string, owner: string, leaseMs: number, now?: number, expectVersion?: number): Promise<JobRecord<T> | undefined>;
  /**
   * Renews the leases of all the active jobs `owner` holds until now + leaseMs by writing one heartbeat row of
   * `owner` (the jobs' rows, their leaseUntil and versions, are not written: O(1), not O(jobs)); returns 1. A job's
   * lease holds while its own leaseUntil (set by createJob, the claims, takeJob) or its owner's heartbeat is in the
   * future; it expired when both passed (or the job has an owner but no leaseUntil).
   */
  renewLeases(owner: string, leaseMs: number, now?: number): Promise<number>;
  /** gives up `owner`'s active jobs (owner and leaseUntil null) and its heartbeat, e.g. at an orderly shutdown; returns how many jobs */
  releaseJobs(owner: string): Promise<number>;

  // --- result tokens
  putResult(rec: ResultInput): Promise<ResultRecord>;
  getResults(jobId: string): Promise<ResultRecord[]>;
  listResults(filter?: { henbId?: string; limit?: number }): Promise<ResultRecord[]>;

  // --- single-use nonces
  putNonce(rec: NonceInput): Promise<NonceRecord>;
  /** single use: succeeds once for a known, unexpired nonce, and marks it consumed */
  consumeNonce(nonce: string, now?: number): Promise<ConsumeNonceResult>;

  // --- jti replay cache (TTL-bounded)
  /**
   * Remembers `jti` until `expiresAt` (epoch ms). Returns true when it was new (or its earlier entry had expired),
   * false when it was already remembered (a replay). Expired entries are purged as a side effect.
   */
  rememberJti(jti: string, expiresAt: number, now?: number): Promise<boolean>;

  // --- reference measurement logs, one per H(e)NB (migration 5; the table was `rollouts` before)
  putReferenceLog<T = unknown>(henbId: string, log: T): Promise<ReferenceLogRecord<T>>;
  getReferenceLog<T = unknown>(henbId: string): Promise<ReferenceLogRecord<T> | undefined>;
  listReferenceLogs<T = unknown>(): Promise<ReferenceLogRecord<T>[]>;

  /** deletes expired nonces and jtis; returns how many rows went */
  purgeExpired(now?: number): Promise<number>;

  // --- the notification log behind RFC 5277 replay (migration 6), shared by the instances on one database
  /** appends one notification; returns its id */
  appendNotification(stream: string, eventTime: number, xml: string): Promise<number>;
  /**
   * Appends several notifications in one transaction, in the given order; returns their ids in that order
   * (increasing). All or nothing: when it rejects, none of them was stored; when it resolves, all are committed.
   * ERR_STORE_INVALID for a bad input anywhere in the list (checked before anything is written); [] for [].
   */
  appendNotifications(events: readonly NewNotification[]): Promise<number[]>;
  /** the newest notification's id, 0 when the log is empty */
  lastNotificationId(): Promise<number>;
  listNotifications(query: NotificationQuery): Promise<NotificationRecord[]>;
  /**
   * Retention: deletes the notifications that have `keep` or more newer ones (by id) and those with eventTime
   * before `olderThan` (epoch ms); the newest eventTime deleted becomes agedAt when it is later. Returns how many went.
   */
  pruneNotifications(keep: number, olderThan: number): Promise<number>;
  notificationLogTimes(): Promise<NotificationLogTimes>;

  // --- the audit log (migration 7; ./audit.ts): a hash chain and its signed heads
  /**
   * Appends one record after the current last one (seq + 1, chained to its hash), serialised across connections
   * and OAM instances. createJob, saveJobTransition, putHenb, deleteHenb and putReferenceLog append their own
   * record in the same transaction (actor `system`). ERR_STORE_INVALID for a bad input (nothing written).
   */
  appendAudit(entry: AuditInput): Promise<AuditRecord>;
  /** records in seq order, after `afterSeq` (default 0), at most `limit` (default 1000, at most 100000) */
  listAudit(filter?: { afterSeq?: number; limit?: number }): Promise<AuditRecord[]>;
  /** the last record of the chain, if any */
  lastAudit(): Promise<AuditRecord | undefined>;
  /** keeps a signed head (the caller signed it; the store does not check the signature) */
  putAuditHead(head: AuditHeadInput): Promise<AuditHeadRecord>;
  /** signed heads in the order they were kept, after `afterId`, at most `limit` (default 1000, at most 100000) */
  listAuditHeads(filter?: { afterId?: number; limit?: number }): Promise<AuditHeadRecord[]>;

  /**
   * Job retention: deletes the final jobs (terminal === true) last updated before `before` (epoch ms), with their
   * events and their result tokens; active jobs stay whatever their age, and so does each H(e)NB's record (its
   * RIM, state and last result token). Returns how many jobs went.
   */
  pruneJobs(before: number): Promise<number>;
}

export interface Store extends StoreOps {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Runs fn atomically: all writes made through `tx` commit together, or (if fn throws / rejects) none do.
   * Transactions are serialised; plain calls on the store made while one is open wait for it, except calls made
   * from inside fn's own async context, which join the transaction (so calling `store.x()` instead of `tx.x()`
   * inside fn does not deadlock). Nested tx.transaction() uses a savepoint. Do not await network I/O inside fn:
   * it holds the database.
   * With the `groupCommit` option, transactions called while the store is busy with one (or in the same turn of
   * the event loop) share one database transaction and one COMMIT, each in a savepoint of its own, in call order
   * (each sees what the earlier ones wrote): one that fails is rolled back alone and rejects; the others resolve
   * only once the shared COMMIT is done (durable as without grouping); a failed COMMIT rejects them all and stores
   * none of them.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T> | T): Promise<T>;
  close(): Promise<void>;
}

export interface StoreTx extends StoreOps {
  transaction<T>(fn: (tx: StoreTx) => Promise<T> | T): Promise<T>;
}

export interface SqliteStoreOptions {
  /** directory that holds the database file `henb-sw-verify.sqlite` (created, mode 0700, if missing) */
  dataDir?: string;
  /** explicit database file path (overrides dataDir), or ':memory:' for tests */
  path?: string;
  /** busy timeout in ms (default 5000) */
  busyTimeoutMs?: number;
  /** group commit of concurrent transactions (Store.transaction); default false */
  groupCommit?: boolean;
  /**
   * WAL checkpoints in a worker thread with a connection of its own (./sqlite-checkpointer.ts), so that no COMMIT
   * on the main thread runs one: default on for a database file (off in memory). `false`: SQLite's own automatic
   * checkpoint on the store's connection (1,000 pages). `pages`: ask the thread at this many WAL frames (default
   * 1,000); `walMaxPages`: the store's connection checkpoints itself at this many (a bound; default 10x pages);
   * `gate`: tests only (see CheckpointerOptions).
   */
  checkpointer?: boolean | { pages?: number; walMaxPages?: number; gate?: Int32Array; closeTimeoutMs?: number };
  /** told of a failed WAL checkpoint, or of the checkpointer thread ending (ERR_STORE_CHECKPOINT); default: a process warning */
  onCheckpointError?: (err: Error) => void;
}

/** The file name used inside dataDir. */
export const SQLITE_FILE_NAME = 'henb-sw-verify.sqlite';

export interface PostgresStoreOptions {
  /**
   * postgres://user:password@host:port/database (or postgresql://), as node-postgres reads it (query parameters
   * such as sslmode=require are passed on). Error messages name user@host:port/database, never the password.
   */
  url: string;
  /** the password, when it is kept out of the URL (wins over a password in the URL) */
  password?: string;
  /** most connections the store opens (default 10) */
  poolSize?: number;
  /** ms to wait for a connection, at open and later (default 10000) */
  connectTimeoutMs?: number;
  /** application_name shown in pg_stat_activity (default 'henb-sw-verify') */
  applicationName?: string;
  /** called when an idle pooled connection fails (e.g. the server restarted); the pool replaces it */
  onPoolError?: (err: Error) => void;
  /** group commit of concurrent transactions (Store.transaction); default false */
  groupCommit?: boolean;
  /**
   * WAL checkpoints in a worker thread with a connection of its own (./sqlite-checkpointer.ts), so that no COMMIT
   * on the main thread runs one: default on for a database file (off in memory). `false`: SQLite's own automatic
   * checkpoint on the store's connection (1,000 pages). `pages`: ask the thread at this many WAL frames (default
   * 1,000); `walMaxPages`: the store's connection checkpoints itself at this many (a bound; default 10x pages);
   * `gate`: tests only (see CheckpointerOptions).
   */
  checkpointer?: boolean | { pages?: number; walMaxPages?: number; gate?: Int32Array; closeTimeoutMs?: number };
  /** told of a failed WAL checkpoint, or of the checkpointer thread ending (ERR_STORE_CHECKPOINT); default: a process warning */
  onCheckpointError?: (err: Error) => void;
}

/**
 * The functions exported by src/store/index.ts:
 *   openSqliteStore(options: SqliteStoreOptions): Promise<Store>
 *   openStore(options: { driver?: 'sqlite' } & SqliteStoreOptions): Promise<Store>
 *   openStore(options: { driver: 'postgres' } & PostgresStoreOptions): Promise<Store>
 *   openPostgresStore(options: PostgresStoreOptions): Promise<Store>   (loads `pg` only when called)
 *   StoreError (class, extends HsvError) with the codes listed at the top of this file
 */
