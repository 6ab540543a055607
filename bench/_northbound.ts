/**
 * The OAM's northbound notification path per verified job (issue 15): the 11 notifications of a verified software
 * update (10 software-update-progress, 1 software-update-result with its ~2.9 KB token, as test/oam-plugin's
 * e2e-reference-values run emits them), built by northbound.ts' progressXml / resultXml and given to the server's
 * registry.notify as OamService.emit does: YANG validation, the replay log (EventLog over a SQLite store, as the
 * OAM plugin provides it), NACM per subscriber, serialisation, framing and the SSH channel write to each subscribed
 * NMS session (a child process subscribes over SSH to the stream henb-sw-verify, no filter, as bench/fleet.ts'
 * NMS does; its CPU is not counted).
 *
 * CPU per job = process.cpuUsage() (user + system) of this process over a round of --jobs jobs, from the first
 * notify until every subscriber has every notification, divided by the jobs. A job's notifications are emitted by
 * one of --lanes lanes, one notification per turn of the event loop per lane (a real OAM emits each after some I/O):
 * --lanes 1 is the worst case for batching writes, more lanes model jobs in flight together.
 *
 * With --baseline <tree> (a worktree of the other commit, with node_modules), a second server runs that tree's
 * src/ (netconf server, NACM, store, northbound) in the same process; rounds alternate A B / B A, ratios new/old
 * are printed (--log none: no replay log, to see the rest without SQLite's commits), and the subscribers' SHA-256 over every notification they received (bytes as framed) must be the
 * same for both trees (the same events, the same eventTimes): a difference stops the bench.
 *
 * Counts per job (--count: a run of its own with V8 precise coverage on from the start, calls of the functions
 * named): notifications validated, logged (appended), NACM evaluations, serialisations, messages sent, writes.
 *
 * Not run by bench/run.ts (leading underscore).
 * Run: node --import tsx bench/_northbound.ts [--baseline ../wt-notif-base] [--jobs 1000] [--rounds 6] [--lanes 1,16] [--subscribers 1] [--log sqlite|none] [--count]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as ServerApi from '../src/netconf/server/index.js';
import type * as YangApi from '../src/yang/index.js';
import type * as EventLogApi from '../src/store/event-log.js';
import type * as SqliteApi from '../src/store/sqlite.js';
import type * as NorthboundApi from '../src/oam-plugin/northbound.js';
import type * as LoggerApi from '../src/log/logger.js';
import { benchArgs } from './_args.js';

const root = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const { opt } = benchArgs(argv);
const STREAM = 'henb-sw-verify';
const USER = 'nms';
const PASSWORD = 'bench-pw';

// --- the subscriber (child process) ----------------------------------------------------------------------

if (argv[0] === '--subscriber') await subscriber(Number(argv[1]), Number(argv[2]));
else await main();

/** `count` SSH sessions to `port`, each subscribed; per phase ({ expect }), the notifications received and their hash */
async function subscriber(port: number, count: number): Promise<void> {
  const { Client } = await import('ssh2');
  const EOM = ']]>]]>';
  interface Sub { buf: string; got: number; bytes: number; hash: ReturnType<typeof createHash>; reads: number; wake: (() => void) | undefined }
  const subs: Sub[] = [];
  for (let i = 0; i < count; i++) {
    const sub: Sub = { buf: '', got: 0, bytes: 0, hash: createHash('sha256'), reads: 0, wake: undefined };
    subs.push(sub);
    await new Promise<void>((ready, fail) => {
      const c = new Client();
      c.on('error', fail);
      c.on('ready', () => c.subsys('netconf', (err, ch) => {
        if (err) return fail(err);
        let phase: 'hello' | 'reply' | 'live' = 'hello';
        ch.setEncoding('utf8');
        ch.on('data', (d: string) => {
          sub.buf += d;
          if (phase === 'live') sub.reads++;
          for (let at = sub.buf.indexOf(EOM); at >= 0; at = sub.buf.indexOf(EOM)) {
            const m = sub.buf.slice(0, at);
            sub.buf = sub.buf.slice(at + EOM.length);
            if (phase === 'hello') {
              phase = 'reply';
              ch.write(`<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>${EOM}`);
              ch.write(`<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><stream>${STREAM}</stream></create-subscription></rpc>${EOM}`);
            } else if (phase === 'reply') {
              if (!m.includes('<ok/>')) return fail(new Error(`create-subscription: ${m}`));
              phase = 'live';
              ready();
            } else {
              sub.got++;
              sub.bytes += Buffer.byteLength(m) + EOM.length;
              sub.hash.update(m);
              sub.wake?.();
            }
          }
        });
      }));
      c.connect({ host: '127.0.0.1', port, username: USER, password: PASSWORD });
    });
  }
  process.send!({ ready: true });
  process.on('message', async (msg: { expect: number }) => {
    const out = [];
    for (const s of subs) {
      while (s.got < msg.expect) await new Promise<void>((r) => { s.wake = r; });
      s.wake = undefined;
      out.push({ got: s.got, bytes: s.bytes, reads: s.reads, sha256: s.hash.digest('hex') });
      Object.assign(s, { got: 0, bytes: 0, reads: 0, hash: createHash('sha256') });
    }
    process.send!({ phase: out });
  });
  process.on('disconnect', () => process.exit(0));
}

// --- the server side (this process) ------------------------------------------------------------------------

interface Impl {
  name: string;
  notifyJob: (job: number, round: number, emitTurn: () => Promise<void>) => Promise<void>;
  child: ChildProcess;
  phase: (expect: number) => Promise<Array<{ got: number; bytes: number; reads: number; sha256: string }>>;
  close: () => Promise<void>;
  dir: string;
}

async function main(): Promise<void> {
  const JOBS = Number(opt('--jobs') ?? 1000);
  const ROUNDS = Number(opt('--rounds') ?? 6);
  const LANES = (opt('--lanes') ?? '1,16').split(',').map(Number);
  const SUBSCRIBERS = Number(opt('--subscribers') ?? 1);
  const BASELINE = opt('--baseline');
  const COUNT = argv.includes('--count');
  const LOG = (opt('--log') ?? 'sqlite') as 'sqlite' | 'none';
  const trees: Array<[string, string]> = [['new', root], ...(BASELINE ? [['old', resolve(BASELINE)] as [string, string]] : [])];

  // socket writes (every socket of this process is a server's end: the subscribers are in the child)
  let socketWrites = 0;
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]): boolean {
    socketWrites++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;

  // a token of the shape and length of the OAM's result token (three base64url parts)
  const token = `${randomBytes(75).toString('base64url')}.${randomBytes(2040).toString('base64url')}.${randomBytes(64).toString('base64url')}`;
  // --count: calls per job, with V8 precise coverage on from before any tree's code is loaded (its counts are exact
  // only for code that never ran optimised), in a run of its own; no CPU rounds (the coverage slows the code)
  const coverage = COUNT ? new Session() : undefined;
  if (coverage) {
    coverage.connect();
    await coverage.post('Profiler.enable');
    await coverage.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  }
  const impls: Impl[] = [];
  for (const [name, tree] of trees) impls.push(await start(name, tree, token, SUBSCRIBERS, LOG));
  const perJob = 11;

  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  const run = async (impl: Impl, lanes: number, round: number): Promise<{ cpuMs: number; writes: number; result: Awaited<ReturnType<Impl['phase']>> }> => {
    const w0 = socketWrites;
    const c0 = process.cpuUsage();
    let next = 0;
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (next < JOBS) await impl.notifyJob(next++, round, turn);
    }));
    const result = await impl.phase(JOBS * perJob);
    const c = process.cpuUsage(c0);
    return { cpuMs: (c.user + c.system) / 1000, writes: socketWrites - w0, result };
  };

  // warm-up, and the bytes: both trees' subscribers must have received the same
  for (const l of LANES) {
    const got = [];
    for (const i of impls) got.push((await run(i, l, -1 - l)).result);
    const hashes = new Set(got.flatMap((g) => g.map((s) => `${s.got} ${s.bytes} ${s.sha256}`)));
    if (hashes.size !== 1) {
      console.log(`DIFFERENT notifications received (lanes ${l}):`, JSON.stringify(got));
      process.exit(1);
    }
    console.log(`warm-up, lanes ${l}: every subscriber of ${impls.map((i) => i.name).join(' and ')} got the same ${got[0]![0]!.got} notifications, ${got[0]![0]!.bytes} bytes, sha256 ${got[0]![0]!.sha256.slice(0, 16)}...`);
  }

  if (coverage) {
    const counts = new Map<string, Record<string, number>>();
    for (const l of LANES) for (const i of impls) counts.set(`${i.name} lanes ${l}`, await countCalls(coverage, i, JOBS, l, run));
    console.log(`calls per job (V8 precise coverage, ${JOBS} jobs, ${SUBSCRIBERS} subscriber session(s); socket writes counted by a wrapper of net.Socket's write):`);
    const names = [...new Set([...counts.values()].flatMap((c) => Object.keys(c)))];
    console.log(['function', ...[...counts.keys()]].join(' | '));
    for (const n of names) console.log([n, ...[...counts.values()].map((c) => fmt(c[n] ?? 0, 2))].join(' | '));
    for (const i of impls) await i.close();
    process.exit(0);
  }

  const cpu = new Map<string, number[]>();
  const writes = new Map<string, number[]>();
  const ratios = new Map<number, number[]>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const l of LANES) {
      const order = r % 2 === 0 ? impls : [...impls].reverse();
      const got: Record<string, number> = {};
      for (const i of order) {
        const x = await run(i, l, r);
        const k = `${i.name} ${l}`;
        got[i.name] = x.cpuMs / JOBS;
        cpu.set(k, [...(cpu.get(k) ?? []), x.cpuMs / JOBS]);
        writes.set(k, [...(writes.get(k) ?? []), x.writes / JOBS]);
      }
      if (impls.length === 2) ratios.set(l, [...(ratios.get(l) ?? []), got.new! / got.old!]);
    }
  }


  console.log(`\nnorthbound notifications per verified job (${perJob}: 10 progress + 1 result), ${JOBS} jobs x ${ROUNDS} rounds, ${SUBSCRIBERS} subscriber session(s) over SSH, replay log ${LOG}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (impls.length === 2) console.log(`new = ${root}, old = ${resolve(BASELINE!)}; rounds alternate A B / B A`);
  console.log(['lanes', ...impls.flatMap((i) => [`${i.name} CPU ms/job (median, range)`, `${i.name} socket writes/job`]), ...(impls.length === 2 ? ['new/old CPU (median, range)'] : [])].join(' | '));
  for (const l of LANES) {
    const cells = impls.flatMap((i) => {
      const c = cpu.get(`${i.name} ${l}`)!;
      return [`${fmt(median(c), 3)} (${fmt(Math.min(...c), 3)}-${fmt(Math.max(...c), 3)})`, fmt(median(writes.get(`${i.name} ${l}`)!), 2)];
    });
    const rs = ratios.get(l);
    console.log([String(l), ...cells, ...(rs ? [`${fmt(median(rs), 3)} (${fmt(Math.min(...rs), 3)}-${fmt(Math.max(...rs), 3)})`] : [])].join(' | '));
  }

  for (const i of impls) await i.close();
  process.exit(0);
}

async function start(name: string, tree: string, token: string, subscribers: number, log: 'sqlite' | 'none'): Promise<Impl> {
  const imp = async <T>(p: string): Promise<T> => await import(pathToFileURL(join(tree, p)).href) as T;
  const srv = await imp<typeof ServerApi>('src/netconf/server/index.ts');
  const yang = await imp<typeof YangApi>('src/yang/index.ts');
  const ev = await imp<typeof EventLogApi>('src/store/event-log.ts');
  const sql = await imp<typeof SqliteApi>('src/store/sqlite.ts');
  const nb = await imp<typeof NorthboundApi>('src/oam-plugin/northbound.ts');
  const { silentLogger } = await imp<typeof LoggerApi>('src/log/logger.ts');
  const dir = mkdtempSync(join(tmpdir(), `hsv-bench-nb-${name}-`));
  const { validator, modules } = await yang.loadYang(join(tree, 'yang'));
  const server = srv.createNetconfServer({
    hostKeys: [srv.generateEd25519KeyPair().private],
    auth: { users: [{ username: USER, password: PASSWORD }] },
    validator, log: silentLogger, dataDir: join(dir, 'data'),
    operations: [(reg) => srv.registerStandardOperations(reg, {
      log: silentLogger, ...(log === 'none' ? { eventLog: false as const } : {}), ietfYangDir: join(tree, 'yang', 'ietf'), nmdaYangDir: join(tree, 'yang-library'),
      // the NMS user in group admin (the rule-list created on first start permits it everything), as the OAM's users
      nacm: { externalGroups: (u) => (u === USER ? ['admin'] : []) },
    })],
  });
  // the OAM plugin adds its modules and its stream, and provides the replay log in its store
  for (const m of modules) if (m.name.startsWith('henb-sw-verify')) server.registry.addModule(m);
  server.registry.addStream({ name: STREAM, description: 'bench', replaySupport: true });
  const store = log === 'sqlite' ? await sql.openSqliteStore({ dataDir: join(dir, 'store') }) : undefined;
  const events = store !== undefined ? new ev.EventLog(store) : undefined;
  if (events !== undefined) server.registry.setReplayLog!(events);
  const { port } = await server.listen('127.0.0.1', 0);
  const child = fork(import.meta.filename, ['--subscriber', String(port), String(subscribers)], { execArgv: process.execArgv });
  await new Promise<void>((ok, fail) => {
    child.once('message', () => ok());
    child.once('exit', (c) => fail(new Error(`subscriber exited ${c}`)));
  });
  const steps: Array<[number, string]> = [
    [1, 'software update initiated'], [2, 'integrity-request sent to the PVE'], [4, 'PVE verdict affirming: H(e)NB trusted'],
    [5, 'fetching file:///var/lib/henb-sw-verify/software/image-6.0.0.bin to compute the software RIM'],
    [5, `software RIM ${'9b'.repeat(32)}; expected RIM ${'f2'.repeat(32)}`], [6, 'software-update sent to the H(e)NB'],
    [7, 'H(e)NB accepted the software-update; installing'], [8, `completion received with TIM ${'f2'.repeat(32)}`],
    [9, 'verified: TIM equals the expected RIM; new RIM stored'], [9, 'new reference values provided to the PVE (bootloader, kernel, rootfs, config, rootfs 6.0.0)'],
  ];
  const t0 = Date.parse('2026-12-06T12:00:00Z');
  return {
    name, child, dir,
    async notifyJob(j, round, emitTurn) {
      const job = {
        jobId: `job-${String(round + 100).padStart(4, '0')}-${String(j).padStart(8, '0')}-4cab-a122-1427e641abb8`, henbId: `henb-${j}`,
        state: 'verified', kind: 'software-update', request: { uri: 'file:///x', version: '6.0.0', selfCheck: true, measures: [] },
        expectedRim: 'f2'.repeat(32), completion: { tim: 'f2'.repeat(32) },
        result: { status: 'verified', reason: 'TIM equals the expected RIM', token },
      } as unknown as Parameters<typeof nb.resultXml>[0];
      let k = 0;
      for (const [step, text] of steps) {
        await server.registry.notify(STREAM, nb.progressXml(job, step as Parameters<typeof nb.progressXml>[1], text), new Date(t0 + j * 20 + k++));
        await emitTurn();
      }
      await server.registry.notify(STREAM, nb.resultXml(job), new Date(t0 + j * 20 + k));
      await emitTurn();
    },
    phase: (expect) => new Promise((ok) => {
      child.once('message', (m: { phase: Awaited<ReturnType<Impl['phase']>> }) => ok(m.phase));
      child.send({ expect });
    }),
    async close() {
      child.disconnect();
      await server.close();
      await events?.close();
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** calls per job of the functions on the notification path, in one round (V8 precise coverage) */
async function countCalls(s: Session, impl: Impl, jobs: number, lanes: number, run: (i: Impl, lanes: number, round: number) => Promise<{ writes: number }>): Promise<Record<string, number>> {
  const WATCH: Array<[string, RegExp, RegExp]> = [
    ['validateNotification (YANG)', /yang\/load\.ts$/, /^validateNotification$/],
    ['EventLog.append (logged)', /store\/event-log\.ts$/, /^append$/],
    ['store appendNotifications (log transactions)', /store\/sqlite\.ts$/, /^appendNotifications$/],
    ['NACM permitsNotification', /netconf\/server\/nacm\.ts$/, /^permitsNotification$/],
    ['NACM rules evaluated (decide)', /netconf\/server\/nacm\.ts$/, /^decide$/],
    ['serializeXml (any)', /netconf\/xml\/serialize\.ts$/, /^serializeXml$/],
    ['notificationElement built', /netconf\/server\/notifications\.ts$/, /^notificationElement$/],
    ['session sendMessage (notifications sent)', /netconf\/session\/server-session\.ts$/, /^sendMessage$/],
    ['connection writeQueued (channel writes)', /netconf\/session\/connection\.ts$/, /^writeQueued$/],
  ];
  await s.post('Profiler.takePreciseCoverage'); // resets the counters
  const { writes } = await run(impl, lanes, 999);
  const cov = await s.post('Profiler.takePreciseCoverage');
  const treeUrl = pathToFileURL(impl.name === 'new' ? root : resolve(opt('--baseline')!)).href + '/';
  const out: Record<string, number> = {};
  for (const [label, file, fn] of WATCH) {
    let n = 0;
    for (const script of cov.result) {
      if (!script.url.startsWith(treeUrl) || !file.test(script.url.replace(/\?.*$/, ''))) continue;
      for (const f of script.functions) if (fn.test(f.functionName)) n += f.ranges[0]!.count;
    }
    out[label] = n / jobs;
  }
  out['socket writes (net.Socket write)'] = writes / jobs;
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(x: number, digits = 1): string {
  return x.toFixed(digits);
}
