/**
 * WAL checkpoints of the SQLite store off the main thread (issue 15). With SQLite's own automatic checkpoint (1,000
 * pages), the COMMIT that takes the WAL past the limit runs the checkpoint itself, on the main thread: the WAL
 * synced, the pages copied into the database file, the database file synced. Measured in bench/fleet.ts at 1,000
 * devices, those COMMITs were half of the OAM's COMMIT time (docs/performance.md, 6 December 2026).
 *
 * So the store's connection keeps only a far limit of its own (`wal_autocheckpoint = walMaxPages`, a bound), and a
 * worker thread with a connection of its own (./sqlite-checkpoint-worker.mjs) runs `PRAGMA wal_checkpoint(PASSIVE)`
 * when asked. The main thread asks after a COMMIT when the WAL holds `pages` frames or more and not all of them are
 * in the database file yet: it reads both counts with `PRAGMA wal_checkpoint(NOOP)` (SQLite 3.51 and later: no lock,
 * no work, a few microseconds), and asks nothing while a checkpoint is under way. The thread starts with the first
 * request, so a store that never fills its WAL never starts one.
 *
 * Rules kept:
 * - One writer: the thread never writes a row and never opens a transaction; a PASSIVE checkpoint never waits for a
 *   lock and never blocks the writer.
 * - Durability: the sync barrier (fdatasync of the WAL, see WalSync in ./sqlite.ts) still makes a commit durable. A
 *   checkpoint syncs the WAL before copying; it syncs the database file when it has copied the whole WAL, and only
 *   then marks the WAL fully copied; only a WAL fully copied may be written over from its start (the writer does
 *   that at its next transaction, syncing the new WAL header). So a commit's frames are either still in the WAL
 *   file, where the barrier's fdatasync reaches them, or already in the synced database file. The WAL file itself
 *   stays the same file while the store is open: SQLite deletes it only when the last connection closes, and the
 *   store's connection closes last.
 * - Bounded WAL: a checkpoint copies what no reader still needs, but SQLite writes over the WAL from its start
 *   (a "restart") only when the writer begins a transaction with every frame copied; while commits keep arriving
 *   during every checkpoint the WAL can keep growing (a RESTART or TRUNCATE checkpoint would make sure of a restart
 *   by taking the writer's lock and waiting for readers: it would block the main thread, so it is not used). The
 *   store's own connection therefore checkpoints itself when the WAL reaches `walMaxPages` (10x `pages` by default),
 *   as SQLite does at 1,000: then the writer is idle during that checkpoint, so it copies everything and the next
 *   transaction restarts the WAL. A reader holding an old snapshot (none in this process; another program reading the
 *   file) stops any checkpoint at its snapshot, as with SQLite's own.
 * - Failures are reported, never thrown: an error of a checkpoint goes to `onError` (ERR_STORE_CHECKPOINT) and the next
 *   request tries again; if the thread ends (crashed, or could not open the file), the store's connection goes back
 *   to SQLite's own automatic checkpoint (1,000 pages) and nothing else changes.
 * - close() waits for the checkpoint under way (the thread takes one message at a time), closes the thread's
 *   connection, then the store closes its own (which checkpoints what is left and deletes the WAL, as before).
 */
import { Worker } from 'node:worker_threads';
import { StoreError } from './errors.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';

/** SQLite's own wal_autocheckpoint default, restored when the thread is gone */
export const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointerOptions {
  /** ask for a checkpoint once the WAL holds this many frames (pages) not all copied (default 1,000, SQLite's) */
  pages?: number;
  /** the store's connection checkpoints itself at this many frames (a bound; default 10x pages) */
  walMaxPages?: number;
  /** busy timeout of the thread's connection (ms) */
  busyTimeoutMs?: number;
  /** told of every failure (a failed checkpoint, the thread ending); default: process.emitWarning */
  onError?: (err: StoreError) => void;
  /** tests: while gate[0] is 0 the thread waits before each checkpoint (an Int32Array on a SharedArrayBuffer) */
  gate?: Int32Array;
  /** how long close() waits for the thread before terminating it (ms, default 30,000) */
  closeTimeoutMs?: number;
}

export interface CheckpointStats {
  /** checkpoints asked for / finished / failed */
  requested: number;
  done: number;
  errors: number;
  /** the last finished checkpoint's WAL frames and frames copied (PRAGMA wal_checkpoint's log and checkpointed) */
  lastLog: number;
  lastCheckpointed: number;
  /** times the thread waited at the test gate */
  gateWaits: number;
}

type FromWorker =
  | { type: 'done'; busy: number; log: number; checkpointed: number; ms: number }
  | { type: 'error'; message: string; code?: string }
  | { type: 'gate' };

/** whether this SQLite knows `PRAGMA wal_checkpoint(NOOP)` (3.51.0 and later; older ones would run PASSIVE) */
export function sqliteHasNoopCheckpoint(db: SqliteDatabase): boolean {
  const v = String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v).split('.').map(Number);
  const [major = 0, minor = 0] = v;
  return major > 3 || (major === 3 && minor >= 51);
}

export class WalCheckpointer {
  readonly stats: CheckpointStats = { requested: 0, done: 0, errors: 0, lastLog: 0, lastCheckpointed: 0, gateWaits: 0 };
  /** the thread, once started (tests) */
  worker: Worker | undefined;
  private readonly pages: number;
  private readonly noop: SqliteStatement;
  private inFlight = false;
  private closing = false;
  /** the thread is gone: SQLite's own automatic checkpoint is back on */
  private failed = false;
  private exited: Promise<void> | undefined;

  constructor(private readonly db: SqliteDatabase, private readonly options: CheckpointerOptions = {}) {
    this.pages = Math.max(1, options.pages ?? SQLITE_AUTOCHECKPOINT_PAGES);
    db.pragma(`wal_autocheckpoint = ${Math.max(this.pages, options.walMaxPages ?? this.pages * 10)}`);
    this.noop = db.prepare('PRAGMA wal_checkpoint(NOOP)');
  }

  /** a checkpoint is asked for and not finished (or the thread waits at the test gate) */
  get busy(): boolean {
    return this.inFlight;
  }

  /** After a COMMIT on the main thread: asks for a checkpoint when the WAL is long enough. Never throws. */
  afterCommit(): void {
    if (this.inFlight || this.closing || this.failed) return;
    try {
      const r = this.noop.get() as { log: number; checkpointed: number };
      if (r.log < this.pages || r.checkpointed >= r.log) return;
      this.request();
    } catch (cause) {
      this.report(`cannot ask for a WAL checkpoint: ${(cause as Error).message}`, cause);
    }
  }

  /** Waits for the checkpoint under way, closes the thread's connection and ends the thread. */
  async close(): Promise<void> {
    this.closing = true;
    const w = this.worker;
    if (w === undefined || this.exited === undefined) return;
    w.ref(); // the process waits for the thread to close its connection
    w.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.options.closeTimeoutMs ?? 30_000);
    });
    const late = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.report('the WAL checkpointer thread did not end at close: terminated');
      await w.terminate();
      await this.exited;
    }
  }

  private request(): void {
    this.worker ??= this.start();
    this.inFlight = true;
    this.stats.requested++;
    this.worker.postMessage('checkpoint');
  }

  private start(): Worker {
    const w = new Worker(new URL('./sqlite-checkpoint-worker.mjs', import.meta.url), {
      workerData: { file: this.db.name, busyTimeoutMs: this.options.busyTimeoutMs ?? 5000, gate: this.options.gate },
      // plain JavaScript: none of the process's node options (a TypeScript loader, a profiler) is needed there
      execArgv: [],
    });
    w.unref(); // a store left open does not keep the process alive
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (err) => this.report(`the WAL checkpointer thread failed: ${err.message}`, err));
    this.exited = new Promise<void>((resolve) => w.once('exit', (code) => {
      this.inFlight = false;
      if (!this.closing) this.fallBack(code);
      resolve();
    }));
    return w;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'gate') {
      this.stats.gateWaits++;
      return;
    }
    this.inFlight = false;
    if (m.type === 'done') {
      this.stats.done++;
      this.stats.lastLog = m.log;
      this.stats.lastCheckpointed = m.checkpointed;
      return;
    }
    this.report(`WAL checkpoint failed: ${m.message}${m.code !== undefined ? ` (${m.code})` : ''}`);
  }

  /** the thread ended on its own: SQLite's own automatic checkpoint, on the store's connection, takes over */
  private fallBack(code: number): void {
    this.failed = true;
    this.report(`the WAL checkpointer thread ended (exit code ${code}): checkpoints run on the store's connection again`);
    try {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    } catch (cause) {
      this.report(`cannot restore wal_autocheckpoint: ${(cause as Error).message}`, cause);
    }
  }

  private report(message: string, cause?: unknown): void {
    this.stats.errors++;
    const err = new StoreError('ERR_STORE_CHECKPOINT', `${this.db.name}: ${message}`, cause === undefined ? undefined : { cause });
    try {
      if (this.options.onError !== undefined) this.options.onError(err);
      else process.emitWarning(err.message, { code: err.code });
    } catch {
      // a reporter that throws must not break the commit that called us
    }
  }
}
