/**
 * Bounds for the benchmarks' own waits, so that a hang ends a benchmark with a message instead of stalling it:
 * - within(): one step (a session setup, a close) must settle in time;
 * - startBackstop(): the benchmark's time limit kept by a worker thread. A timer on the main thread never fires when
 *   that thread is blocked: on 6 December a deadlock inside node (the X25519 key exchange, fixed since) held
 *   bench/fleet.ts's main thread for good, and only its sockets showed it.
 */
import { Worker } from 'node:worker_threads';

/** `p`, or an Error naming `what` once `ms` have passed without it settling */
export async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} did not settle within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

// the worker's code: plain JavaScript, run with eval (no loader needed in the thread)
const BACKSTOP = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const pids = new Set();
parentPort.on('message', (m) => { if (m.add !== undefined) pids.add(m.add); else pids.delete(m.del); });
setTimeout(() => {
  writeSync(2, '\\nBENCHMARK BACKSTOP: ' + workerData.what + ' after ' + workerData.ms / 1000 + ' s: the main thread did not end the benchmark (blocked?); ' + pids.size + ' children and this process killed\\n');
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  process.kill(process.pid, 'SIGKILL');
}, workerData.ms);
`;

let backstop: Worker | undefined;

/**
 * After `ms`, unless this process has ended: a line on stderr, SIGKILL to every child registered with backstopChild()
 * and to this process. The worker never keeps the process alive.
 */
export function startBackstop(ms: number, what: string): void {
  backstop = new Worker(BACKSTOP, { eval: true, workerData: { ms, what } });
  backstop.unref();
}

/** a child process the backstop kills (`alive` false: it has exited) */
export function backstopChild(pid: number | undefined, alive: boolean): void {
  if (pid !== undefined) backstop?.postMessage(alive ? { add: pid } : { del: pid });
}
