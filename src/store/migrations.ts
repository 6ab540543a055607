/**
 * Versioned schema of the SQLite store. PRAGMA user_version holds the number of the last migration applied; each
 * migration runs in its own transaction together with the user_version bump. Never edit a released migration:
 * append a new one.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'henbs, jobs, job events, results, nonces, jti cache, rollouts',
    sql: `
      CREATE TABLE henbs (
        henb_id           TEXT PRIMARY KEY,
        rim               TEXT CHECK (rim IS NULL OR (length(rim) = 64 AND rim NOT GLOB '*[^0-9a-f]*')),
        software_version  TEXT,
        state             TEXT NOT NULL CHECK (state IN ('trusted', 'updating', 'quarantined', 'unknown')),
        last_result_token TEXT,
        updated_at        INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE jobs (
        job_id      TEXT PRIMARY KEY,
        henb_id     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        state       TEXT NOT NULL,
        data        TEXT NOT NULL,
        version     INTEGER NOT NULL CHECK (version >= 1),
        deadline    INTEGER,
        attempts    INTEGER NOT NULL DEFAULT 0,
        update_sent INTEGER NOT NULL DEFAULT 0 CHECK (update_sent IN (0, 1)),
        terminal    INTEGER NOT NULL DEFAULT 0 CHECK (terminal IN (0, 1)),
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX jobs_active ON jobs (terminal, created_at);
      CREATE INDEX jobs_henb ON jobs (henb_id, created_at);

      CREATE TABLE job_events (
        job_id     TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        from_state TEXT,
        to_state   TEXT NOT NULL,
        at         INTEGER NOT NULL,
        reason     TEXT,
        detail     TEXT,
        PRIMARY KEY (job_id, seq)
      ) STRICT;

      CREATE TABLE results (
        job_id     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        henb_id    TEXT NOT NULL,
        ear_status TEXT NOT NULL,
        token      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, kind)
      ) STRICT;
      CREATE INDEX results_henb ON results (henb_id, created_at);

      CREATE TABLE nonces (
        nonce       TEXT PRIMARY KEY,
        purpose     TEXT NOT NULL,
        job_id      TEXT,
        henb_id     TEXT,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        consumed_at INTEGER
      ) STRICT;
      CREATE INDEX nonces_expiry ON nonces (expires_at);

      CREATE TABLE jtis (
        jti        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX jtis_expiry ON jtis (expires_at);

      CREATE TABLE rollouts (
        rollout_id TEXT PRIMARY KEY,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: 'at most one active job per H(e)NB and kind',
    // Several OAM instances share a PostgreSQL database (./pg-migrations.ts has the same index); the same rule
    // here keeps both drivers alike. A database that already holds two active jobs of one H(e)NB and kind
    // cannot take the index: the migration fails (ERR_STORE_OPEN) and leaves the database as it was.
    sql: `
      CREATE UNIQUE INDEX jobs_one_active ON jobs (henb_id, kind) WHERE terminal = 0;
    `,
  },
  {
    version: 3,
    description: 'job leases: owner and lease_until',
    // which OAM instance drives an active job, and until when (epoch ms) unless it renews the lease: after a
    // restart, instances claim the jobs that are unowned, theirs, or whose lease expired (Store.claimJobs)
    sql: `
      ALTER TABLE jobs ADD COLUMN owner TEXT;
      ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
      CREATE INDEX jobs_owner ON jobs (owner) WHERE terminal = 0;
    `,
  },
  {
    version: 4,
    description: 'at most one active software-update or integrity-check per H(e)NB',
    // the flow's two kinds exclude each other (an integrity-check must not mark an H(e)NB trusted while it is
    // being updated, on this instance or another); ./pg-migrations.ts has the same index (EXCLUSIVE_JOB_KINDS)
    sql: `
      CREATE UNIQUE INDEX jobs_one_active_flow ON jobs (henb_id) WHERE terminal = 0 AND kind IN ('software-update', 'integrity-check');
    `,
  },
  {
    version: 5,
    description: 'reference_logs (was rollouts, which held only reference-log/<henb-id> entries)',
    sql: `
      CREATE TABLE reference_logs (
        henb_id    TEXT PRIMARY KEY,
        log        TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
      INSERT INTO reference_logs (henb_id, log, created_at, updated_at)
        SELECT substr(rollout_id, 15), data, created_at, updated_at FROM rollouts WHERE substr(rollout_id, 1, 14) = 'reference-log/';
      DROP TABLE rollouts;
    `,
  },
  {
    version: 6,
    description: 'notifications: the RFC 5277 replay log (was a file of each OAM instance, event-log.sqlite)',
    // AUTOINCREMENT: ids are never reused after retention deleted the newest rows, so a replay's id bounds hold;
    // notification_log has one row: when the log was created, and the newest eventTime retention removed
    sql: `
      CREATE TABLE notifications (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        stream     TEXT NOT NULL,
        event_time INTEGER NOT NULL,
        xml        TEXT NOT NULL
      ) STRICT;
      CREATE INDEX notifications_time ON notifications (event_time);
      CREATE TABLE notification_log (
        only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
        created_at INTEGER NOT NULL,
        aged_at    INTEGER
      ) STRICT;
      INSERT INTO notification_log (only_row, created_at) VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
    `,
  },
  {
    version: 7,
    description: 'audit log: a hash chain (audit_log) and its signed heads (audit_heads)',
    // ./audit.ts: one row per decision, seq without gaps, each row's hash over its fields and the previous hash
    sql: `
      CREATE TABLE audit_log (
        seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        object    TEXT NOT NULL,
        details   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
      ) STRICT;
      CREATE TABLE audit_heads (
        id        INTEGER PRIMARY KEY,
        seq       INTEGER NOT NULL,
        hash      TEXT NOT NULL,
        kid       TEXT NOT NULL,
        jws       TEXT NOT NULL,
        signed_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 8,
    description: 'job leases: one heartbeat row per OAM instance (instances)',
    // renewLeases writes the instance's row instead of every active job of the instance (issue 15: 100,000 queued
    // jobs meant 100,000 rows rewritten every leaseMs/3); a job's lease expires when its lease_until passed and its
    // owner has no live heartbeat. jobs_owner_lease serves the claims by owner (and owner IS NULL) and releaseJobs.
    sql: `
      CREATE TABLE instances (
        instance_id TEXT PRIMARY KEY,
        alive_until INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX jobs_owner_lease ON jobs (owner, lease_until) WHERE terminal = 0;
      DROP INDEX jobs_owner;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
