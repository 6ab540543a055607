/**
 * Versioned schema of the PostgreSQL store: the tables of ./migrations.ts (the SQLite schema) in PostgreSQL's
 * dialect, so both drivers keep the same records under the same rules:
 * - times are epoch milliseconds in BIGINT (read back as numbers, see ./postgres.ts), flags are BOOLEAN;
 * - the RIM CHECK (64 lowercase hex characters) is a regular-expression CHECK instead of SQLite's GLOB;
 * - identifiers and kinds are TEXT COLLATE "C", so ORDER BY sorts them by code point as SQLite's BINARY
 *   collation does, whatever the database's locale;
 * - JSON blobs stay TEXT (not JSONB), so a blob reads back exactly as it was written.
 *
 * The table `schema_version` has one row per migration applied (PostgreSQL has no PRAGMA user_version); the store
 * applies pending migrations under a transaction-scoped advisory lock, so two OAM instances starting at once
 * migrate once. Never edit a released migration: append a new one.
 */
import type { Migration } from './migrations.js';

/** Key of the advisory lock held while migrating (pg_advisory_xact_lock). */
export const PG_MIGRATION_LOCK = 0x6873_7601; // 'hsv' 01

export const PG_SCHEMA_VERSION_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  BIGINT NOT NULL
  )`;

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'henbs, jobs, job events, results, nonces, jti cache, rollouts',
    sql: `
      CREATE TABLE henbs (
        henb_id           TEXT COLLATE "C" PRIMARY KEY,
        rim               TEXT CHECK (rim IS NULL OR rim ~ '^[0-9a-f]{64}$'),
        software_version  TEXT,
        state             TEXT NOT NULL CHECK (state IN ('trusted', 'updating', 'quarantined', 'unknown')),
        last_result_token TEXT,
        updated_at        BIGINT NOT NULL
      );

      CREATE TABLE jobs (
        job_id      TEXT COLLATE "C" PRIMARY KEY,
        henb_id     TEXT COLLATE "C" NOT NULL,
        kind        TEXT NOT NULL,
        state       TEXT NOT NULL,
        data        TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        deadline    BIGINT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        update_sent BOOLEAN NOT NULL DEFAULT false,
        terminal    BOOLEAN NOT NULL DEFAULT false,
        created_at  BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL
      );
      CREATE INDEX jobs_active ON jobs (terminal, created_at);
      CREATE INDEX jobs_henb ON jobs (henb_id, created_at);

      CREATE TABLE job_events (
        job_id     TEXT COLLATE "C" NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        from_state TEXT,
        to_state   TEXT NOT NULL,
        at         BIGINT NOT NULL,
        reason     TEXT,
        detail     TEXT,
        PRIMARY KEY (job_id, seq)
      );

      CREATE TABLE results (
        job_id     TEXT COLLATE "C" NOT NULL,
        kind       TEXT COLLATE "C" NOT NULL,
        henb_id    TEXT COLLATE "C" NOT NULL,
        ear_status TEXT NOT NULL,
        token      TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (job_id, kind)
      );
      CREATE INDEX results_henb ON results (henb_id, created_at);

      CREATE TABLE nonces (
        nonce       TEXT PRIMARY KEY,
        purpose     TEXT NOT NULL,
        job_id      TEXT,
        henb_id     TEXT,
        created_at  BIGINT NOT NULL,
        expires_at  BIGINT NOT NULL,
        consumed_at BIGINT
      );
      CREATE INDEX nonces_expiry ON nonces (expires_at);

      CREATE TABLE jtis (
        jti        TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX jtis_expiry ON jtis (expires_at);

      CREATE TABLE rollouts (
        rollout_id TEXT COLLATE "C" PRIMARY KEY,
        data       TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'at most one active job per H(e)NB and kind',
    // the database, not each instance's memory, keeps one active job per H(e)NB: of two instances creating a
    // job for the same H(e)NB at once, the second INSERT waits for the first and then conflicts
    sql: `
      CREATE UNIQUE INDEX jobs_one_active ON jobs (henb_id, kind) WHERE NOT terminal;
    `,
  },
  {
    version: 3,
    description: 'job leases: owner and lease_until',
    sql: `
      ALTER TABLE jobs ADD COLUMN owner TEXT COLLATE "C", ADD COLUMN lease_until BIGINT;
      CREATE INDEX jobs_owner ON jobs (owner) WHERE NOT terminal;
    `,
  },
  {
    version: 4,
    description: 'at most one active software-update or integrity-check per H(e)NB',
    // the flow's two kinds exclude each other across instances (EXCLUSIVE_JOB_KINDS in ./types.ts)
    sql: `
      CREATE UNIQUE INDEX jobs_one_active_flow ON jobs (henb_id) WHERE NOT terminal AND kind IN ('software-update', 'integrity-check');
    `,
  },
  {
    version: 5,
    description: 'reference_logs (was rollouts, which held only reference-log/<henb-id> entries)',
    sql: `
      CREATE TABLE reference_logs (
        henb_id    TEXT COLLATE "C" PRIMARY KEY,
        log        TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      INSERT INTO reference_logs (henb_id, log, created_at, updated_at)
        SELECT substr(rollout_id, 15), data, created_at, updated_at FROM rollouts WHERE substr(rollout_id, 1, 14) = 'reference-log/';
      DROP TABLE rollouts;
    `,
  },
  {
    version: 6,
    description: 'notifications: the RFC 5277 replay log (was a file of each OAM instance, event-log.sqlite)',
    // shared by every instance on the database: an NMS replays the notifications of every instance from any of
    // them. Identity ids are never reused (a replay's id bounds hold across instances).
    sql: `
      CREATE TABLE notifications (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        stream     TEXT COLLATE "C" NOT NULL,
        event_time BIGINT NOT NULL,
        xml        TEXT NOT NULL
      );
      CREATE INDEX notifications_time ON notifications (event_time);
      CREATE TABLE notification_log (
        only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
        created_at BIGINT NOT NULL,
        aged_at    BIGINT
      );
      INSERT INTO notification_log (only_row, created_at) VALUES (1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
    `,
  },
  {
    version: 7,
    description: 'audit log: a hash chain (audit_log) and its signed heads (audit_heads)',
    // appends are serialised by the transaction advisory lock (./postgres.ts), so seq has no gaps across instances
    sql: `
      CREATE TABLE audit_log (
        seq       BIGINT PRIMARY KEY CHECK (seq >= 1),
        at        BIGINT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        object    TEXT NOT NULL,
        details   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
      );
      CREATE TABLE audit_heads (
        id        BIGSERIAL PRIMARY KEY,
        seq       BIGINT NOT NULL,
        hash      TEXT NOT NULL,
        kid       TEXT NOT NULL,
        jws       TEXT NOT NULL,
        signed_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 8,
    description: 'job leases: one heartbeat row per OAM instance (instances)',
    // as ./migrations.ts version 8: renewLeases writes one row, not every active job of the instance
    sql: `
      CREATE TABLE instances (
        instance_id TEXT COLLATE "C" PRIMARY KEY,
        alive_until BIGINT NOT NULL
      );
      CREATE INDEX jobs_owner_lease ON jobs (owner, lease_until) WHERE NOT terminal;
      DROP INDEX jobs_owner;
    `,
  },
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]?.version ?? 0;
