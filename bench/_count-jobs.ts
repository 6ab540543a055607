/**
 * The set-up shared by bench/_store-count.ts and bench/_pg-count.ts (issue 15): N H(e)NBs in the store, one
 * software-update job each, relay evidence, the fakes of test/oam/fakes.ts for the devices (measuring: a real
 * measurement log replayed into the TIM), the PVE, the fetcher and the tokens.
 */
import { createRequire } from 'node:module';
import { JobRunner } from '../src/oam/runner.js';
import type { PreUpdateEvidence } from '../src/oam/ports.js';
import type { Job } from '../src/oam/transition.js';
import { replayLog } from '../src/oam/measure.js';
import { FakeDevices, FakeFetcher, FakePve, FakeTokens } from '../test/oam/fakes.js';
import { OLD_RIM } from '../test/oam/helpers.js';

class MeasuringDevices extends FakeDevices {
  async integrityMeasurement(henbId: string): Promise<PreUpdateEvidence> {
    const log = this.logOf(henbId);
    return { format: 'software-key', tim: replayLog(log), measurementLog: log, signature: 'c2ln', signatureAlgorithm: 'ES256' };
  }
}

export interface CountJobs {
  runner: JobRunner;
  /** the jobs' results, in the order they arrived */
  results: Job[];
  /** starts the N jobs, one after the other (h0 ... h{N-1}) */
  startAll(): Promise<void>;
}

/** a runner on `store` with N trusted H(e)NBs h0 ... h{N-1} put in the store (before any counting begins) */
export async function countJobs(store: ConstructorParameters<typeof JobRunner>[0]['store'], N: number): Promise<CountJobs> {
  const devices = new MeasuringDevices();
  devices.installMs = 5;
  const results: Job[] = [];
  let nonce = 0;
  const pve = new FakePve();
  // BENCH_PVE_LOG=1: the PVE's verdicts carry the device's measurement log, as the reference PVE's do (bench/fleet.ts):
  // the job's data then has the sizes it has there (tokens with the log, the pre-update log)
  if (process.env.BENCH_PVE_LOG === '1') pve.logOf = (henbId) => devices.logOf(henbId);
  const runner = new JobRunner({
    store, pve, devices, fetcher: new FakeFetcher(), tokens: new FakeTokens(),
    timeouts: { pve: 5000, fetch: 5000, send: 5000, completion: 5000 }, pveEvidence: 'relay',
    events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    newNonce: () => (++nonce).toString(16).padStart(64, '0'),
  });
  for (let i = 0; i < N; i++) await store.putHenb({ henbId: `h${i}`, rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
  const request = { uri: 'file:///img', version: '2.0.0', selfCheck: true, measures: ['alarm' as const] };
  return {
    runner, results,
    startAll: async () => {
      for (let i = 0; i < N; i++) await runner.start({ henbId: `h${i}`, request });
    },
  };
}

/** a statement better-sqlite3 is about to run: its method, its SQL, its arguments, and the call itself */
export type StatementHook = (method: 'run' | 'get' | 'all' | 'exec', sql: string, args: unknown[], call: () => unknown) => unknown;

/**
 * Every statement of every better-sqlite3 connection of this process goes through `hook` (which must make the call
 * and answer its result): Statement#run/get/all on the statements' shared prototype, patched at the first prepare,
 * and Database#exec. For the benches that count or time the store's statements (_store-count.ts, _store-cpu.ts).
 */
export function hookStatements(hook: StatementHook): void {
  const Database = createRequire(import.meta.url)('better-sqlite3') as { prototype: Record<string, (...a: unknown[]) => unknown> };
  const origPrepare = Database.prototype.prepare!;
  let patched = false;
  Database.prototype.prepare = function (this: unknown, sql: unknown) {
    const st = origPrepare.call(this, sql) as object;
    if (!patched) {
      patched = true;
      const proto = Object.getPrototypeOf(st) as Record<string, (...a: unknown[]) => unknown>;
      for (const m of ['run', 'get', 'all'] as const) {
        const orig = proto[m]!;
        proto[m] = function (this: { source: string }, ...args: unknown[]) {
          return hook(m, this.source, args, () => orig.apply(this, args));
        };
      }
    }
    return st;
  };
  const origExec = Database.prototype.exec!;
  Database.prototype.exec = function (this: unknown, sql: unknown) {
    return hook('exec', String(sql), [], () => origExec.call(this, sql));
  };
}
