// The SQLite store's WAL checkpointer thread (see ./sqlite-checkpointer.ts, which starts it). Plain JavaScript: a
// worker thread does not inherit the tsx loader the rest of the code runs under.
//
// Its own better-sqlite3 connection to the store's file runs `PRAGMA wal_checkpoint(PASSIVE)` when asked: PASSIVE
// never waits for a lock and never blocks the writer (the store's connection on the main thread); it copies the
// committed frames that no reader still needs into the database file, syncing the WAL before and the database file
// after (when it reached the end of the WAL). The connection never writes a row and never begins a transaction.
//
// Messages in: 'checkpoint' (run one, answer {type: 'done', log, checkpointed, busy, ms} or {type: 'error', ...}),
// 'close' (close the connection, then the thread ends: a checkpoint under way has finished by then, the thread
// runs one message at a time). workerData: {file, busyTimeoutMs, gate?}; gate (tests) is an Int32Array on a
// SharedArrayBuffer: while gate[0] is 0 the thread waits before each checkpoint.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');
const { file, busyTimeoutMs, gate } = workerData;

let db;
try {
  db = new Database(file, { fileMustExist: true, timeout: busyTimeoutMs });
} catch (err) {
  parentPort.postMessage({ type: 'error', message: `cannot open ${file} for checkpoints: ${err.message}`, code: err.code });
  parentPort.close();
}

if (db !== undefined) {
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  parentPort.on('message', (m) => {
    if (m === 'close') {
      db.close();
      parentPort.close();
      return;
    }
    if (m !== 'checkpoint') return;
    if (gate !== undefined) {
      parentPort.postMessage({ type: 'gate' });
      while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0, 1000);
    }
    const t0 = performance.now();
    try {
      const r = checkpoint.get();
      parentPort.postMessage({ type: 'done', busy: r.busy, log: r.log, checkpointed: r.checkpointed, ms: performance.now() - t0 });
    } catch (err) {
      parentPort.postMessage({ type: 'error', message: err.message, code: err.code });
    }
  });
}
