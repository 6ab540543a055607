/**
 * Prototype, not a change of src/ (issue 15): would running each device's SSH transport on a worker thread take load
 * off the OAM's main thread, and what would it add? The OAM's main thread is the bound at 10,000 devices; the
 * fleet+PVE process leaves ~0.4 of the machine's two cores idle.
 *
 * N device sessions, the way the OAM makes them (src/device/connect.ts: pinned host key, password login without
 * ssh2's opening 'none', TCP_NODELAY, the netconf subsystem, hellos), one integrity-measurement (the device's
 * signed evidence, as in relay mode; src/device/wire.ts), then close (close-session, the SSH connection ended), at a
 * fixed concurrency against simulated devices (src/simulator) in a child process, in two modes, alternating rounds
 * (main worker, worker main, ...):
 *   main    connectDevice() as today: ssh2 Client, key exchange, packet crypto and socket I/O on the main thread;
 *   worker  one worker_threads Worker runs every session's ssh2 Client (the same settings; src/netconf/ssh/ssh2.ts
 *           loaded in the worker, with its pooled padding and cached keys) and opens the netconf subsystem; the
 *           channel's bytes cross the worker's MessagePort as transferred ArrayBuffers, and on the main thread a
 *           Duplex carries them under the project's ClientSession (framing, XML, message-ids) and deviceSessionOf.
 *
 * CPU per session, by thread (Linux): the main thread's and the worker's /proc/self/task/<tid>/schedstat (time on
 * CPU, ns) and utime+stime of /proc/self/task/<tid>/stat (10 ms ticks: coarse, printed as a check), the whole process
 * (process.cpuUsage: also V8's GC helpers and libuv's threads), and the devices' process. Sessions/s is the wall
 * time of the round (the devices' process, one core at most, is part of that bound).
 *
 * Loopback only; stops by itself (each session within 30 s, the whole run within 15 min: bench/_bounded.ts).
 * Not run by bench/run.ts (leading underscore).
 * --rpcs k: k integrity-measurements per session, one after the other (default 1; the slope per message).
 * Run: node --import tsx bench/_ssh-worker.ts [--n 100] [--rounds 10] [--conc 50] [--rpcs 1]
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import type { ClientChannel } from 'ssh2';
import ssh2 from '../src/netconf/ssh/ssh2.js';
import { ClientSession } from '../src/netconf/session/index.js';
import { DeviceConnectError, connectDevice, deviceSessionOf, fingerprintBytes, sshAuthOrder, sshConnectError } from '../src/device/connect.js';
import type { DeviceConnectErrorCode, DeviceSession, DeviceTarget } from '../src/device/connect.js';
import { Bounded } from '../src/device/bounded.js';
import { integrityMeasurementXml } from '../src/device/wire.js';
import { PEER_CLOSE_MS, endSshConnection } from '../src/netconf/peer-close.js';
import { startFleet } from '../src/simulator/index.js';
import type { SimulatedDevice } from '../src/simulator/index.js';
import { benchArgs } from './_args.js';
import { startBackstop, backstopChild, within } from './_bounded.js';
import { askChild } from './_ipc.js';

const argv = process.argv.slice(2);

// ---- the messages between the main thread and the SSH worker ----------------------------------------------------
/** main -> worker */
type ToWorker =
  | { op: 'open'; id: number; target: DeviceTarget; timeoutMs: number }
  | { op: 'data'; id: number; buf: ArrayBuffer }
  | { op: 'eof'; id: number } // the NETCONF side ended its output: the channel's EOF
  | { op: 'end'; id: number } // end the SSH connection (session over, attempt failed or aborted)
  | { op: 'tid' };
/** worker -> main */
type FromWorker =
  | { op: 'opened'; id: number }
  | { op: 'failed'; id: number; code: DeviceConnectErrorCode; message: string }
  | { op: 'data'; id: number; buf: ArrayBuffer }
  | { op: 'closed'; id: number; reason?: string }
  | { op: 'tid'; tid: number };

/** a copy of `b` in an ArrayBuffer of its own, which postMessage can transfer (ssh2's and the stream's Buffers may be views of a shared pool) */
function ownBuffer(b: Uint8Array): ArrayBuffer {
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return ab;
}

// ---- the worker thread: ssh2 clients, one per session ------------------------------------------------------------
function sshWorker(): void {
  const port = parentPort!;
  const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
  const conns = new Map<number, { client: InstanceType<typeof ssh2.Client>; channel?: ClientChannel }>();
  const open = (id: number, target: DeviceTarget, timeoutMs: number): void => {
    const where = `${target.host}:${target.port}`;
    const client = new ssh2.Client();
    const c: { client: typeof client; channel?: ClientChannel } = { client };
    conns.set(id, c);
    let settled = false;
    let mismatch = false;
    const pin = target.hostKeySha256 !== undefined ? fingerprintBytes(target.hostKeySha256) : undefined;
    const fail = (code: DeviceConnectErrorCode, message: string): void => {
      if (settled) return;
      settled = true;
      post({ op: 'failed', id, code, message });
      endSshConnection(client, PEER_CLOSE_MS);
    };
    client.on('error', (e: Error & { level?: string }) => {
      if (!settled) {
        const err = sshConnectError(e, { where, username: target.username, timeoutMs, hostKeyMismatch: mismatch });
        fail(err.code, err.message);
      } else if (c.channel !== undefined) post({ op: 'closed', id, reason: e.message });
    });
    client.on('close', () => {
      if (!settled) fail('ERR_DEVICE_UNREACHABLE', `${where} closed the connection`);
      else post({ op: 'closed', id });
      conns.delete(id);
    });
    client.on('ready', () => {
      try {
        client.subsys('netconf', (err: Error | undefined, channel: ClientChannel) => {
          if (err) return fail('ERR_DEVICE_NETCONF', `${where} refused the netconf subsystem`);
          if (settled) {
            channel.destroy();
            return;
          }
          settled = true;
          c.channel = channel;
          channel.on('data', (d: Buffer) => {
            const buf = ownBuffer(d);
            post({ op: 'data', id, buf }, [buf]);
          });
          channel.on('close', () => post({ op: 'closed', id }));
          post({ op: 'opened', id });
        });
      } catch {
        fail('ERR_DEVICE_UNREACHABLE', `${where} closed the connection before its netconf channel opened`);
      }
    });
    // the same settings as src/device/connect.ts sshDialConfig
    client.connect({
      host: target.host, port: target.port, username: target.username, password: target.password!,
      readyTimeout: timeoutMs, keepaliveInterval: 0, authHandler: sshAuthOrder(target),
      hostVerifier: (key: Buffer) => {
        if (!pin) return true;
        const ok = timingSafeEqual(createHash('sha256').update(key).digest(), pin);
        if (!ok) mismatch = true;
        return ok;
      },
    });
    client.setNoDelay(true);
  };
  port.on('message', (m: ToWorker) => {
    switch (m.op) {
      case 'open': open(m.id, m.target, m.timeoutMs); break;
      case 'data': conns.get(m.id)?.channel?.write(Buffer.from(m.buf)); break;
      case 'eof': conns.get(m.id)?.channel?.end(); break;
      case 'end': {
        const c = conns.get(m.id);
        if (c) endSshConnection(c.client, PEER_CLOSE_MS);
        break;
      }
      case 'tid': post({ op: 'tid', tid: Number(readlinkSync('/proc/thread-self').split('/').pop()) }); break;
    }
  });
}

// ---- the main thread's side: a Duplex per session over the worker's port ------------------------------------------
/**
 * The NETCONF session's transport: what ClientSession writes goes to the worker (copied into a transferred
 * ArrayBuffer, no backpressure: a real design would need credit from the worker, ssh2's channel window); what the
 * worker posts is pushed. The prototype's whole flow control is that the sessions are small.
 */
class PortStream extends Duplex {
  constructor(private readonly id: number, private readonly worker: Worker) {
    super();
  }

  override _read(): void {
    // data is pushed as the worker posts it
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const buf = ownBuffer(chunk);
    this.worker.postMessage({ op: 'data', id: this.id, buf } satisfies ToWorker, [buf]);
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.worker.postMessage({ op: 'eof', id: this.id } satisfies ToWorker);
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.worker.postMessage({ op: 'end', id: this.id } satisfies ToWorker);
    cb(err);
  }
}

/** connectDevice's counterpart with the SSH transport on the worker: same bound, same error codes, same DeviceSession */
class WorkerConnector {
  private next = 1;
  private readonly pending = new Map<number, { attempt: Bounded<DeviceSession>; stream: PortStream }>();
  private readonly streams = new Map<number, PortStream>();

  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
  }

  connect(target: DeviceTarget, timeoutMs: number): Promise<DeviceSession> {
    const id = this.next++;
    const where = `${target.host}:${target.port}`;
    const attempt = new Bounded<DeviceSession>({
      timeoutMs,
      timedOut: () => new DeviceConnectError('ERR_DEVICE_TIMEOUT', `no NETCONF session with ${where} within ${timeoutMs} ms`),
      aborted: () => new DeviceConnectError('ERR_DEVICE_ABORTED', `connection to ${where} aborted`),
    });
    const stream = new PortStream(id, this.worker);
    this.streams.set(id, stream);
    this.pending.set(id, { attempt, stream });
    attempt.onFail(() => this.end(id));
    attempt.onSettle(() => this.pending.delete(id));
    this.worker.postMessage({ op: 'open', id, target, timeoutMs } satisfies ToWorker);
    return attempt.promise;
  }

  private end(id: number): void {
    this.worker.postMessage({ op: 'end', id } satisfies ToWorker);
  }

  private onMessage(m: FromWorker): void {
    if (m.op === 'tid') return;
    const stream = this.streams.get(m.id);
    if (stream === undefined) return;
    switch (m.op) {
      case 'data': stream.push(Buffer.from(m.buf)); break;
      case 'opened': {
        const p = this.pending.get(m.id);
        if (p === undefined) return;
        ClientSession.open(stream, { helloTimeoutMs: 30_000 }).then((s) => {
          if (p.attempt.settled) return s.destroy();
          p.attempt.succeed(deviceSessionOf(s, () => this.end(m.id), () => this.end(m.id)));
        }, (e: unknown) => p.attempt.fail(new DeviceConnectError('ERR_DEVICE_NETCONF', 'no NETCONF hello', { cause: e })));
        break;
      }
      case 'failed': this.pending.get(m.id)?.attempt.fail(new DeviceConnectError(m.code, m.message)); break;
      case 'closed':
        this.streams.delete(m.id);
        stream.push(null);
        stream.destroy();
        break;
    }
  }
}

// ---- the devices' process ---------------------------------------------------------------------------------------
async function serveDevices(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-sshworker-'));
  const fleet = await startFleet({ profiles: { healthy: n }, replay: false, dataDir: dir });
  process.on('message', (m: { op: string }) => {
    if (m.op === 'cpu') process.send!({ op: 'cpu', cpu: process.cpuUsage() });
    else if (m.op === 'close') void fleet.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ op: 'ready', devices: fleet.devices });
}

// ---- measurement -------------------------------------------------------------------------------------------------
/** a thread's CPU: schedstat's time on CPU (ns) and stat's utime+stime (clock ticks, 100 Hz) */
function threadCpu(tid: number): { ns: number; ticks: number } {
  const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return { ns, ticks: Number(f[11]) + Number(f[12]) }; // utime (14), stime (15)
}

async function pool<T>(items: T[], conc: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(conc, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Round { main: number; mainTicks: number; worker: number; workerTicks: number; proc: number; dev: number; perS: number }

async function main(): Promise<void> {
  const { opt } = benchArgs(argv);
  const N = Number(opt('--n') ?? 100), ROUNDS = Number(opt('--rounds') ?? 10), CONC = Number(opt('--conc') ?? 50), RPCS = Number(opt('--rpcs') ?? 1);
  startBackstop(15 * 60_000, 'bench/_ssh-worker.ts');
  const child = fork(import.meta.filename, ['--serve', String(N)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  backstopChild(child.pid, true);
  const devices = (await new Promise<{ devices: SimulatedDevice[] }>((res) => child.once('message', (m) => res(m as { devices: SimulatedDevice[] })))).devices;
  const targets: DeviceTarget[] = devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 }));

  // the worker: this file again, with tsx registered in the thread first (a worker's entry is loaded before execArgv's --import)
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const worker = new Worker(`import(${JSON.stringify(tsxApi)}).then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}); })`, { eval: true, execArgv: [] });
  worker.on('error', (e) => {
    console.error('worker failed', e);
    process.exit(1);
  });
  const workerTid = await new Promise<number>((res) => {
    const on = (m: FromWorker): void => {
      if (m.op !== 'tid') return;
      worker.off('message', on);
      res(m.tid);
    };
    worker.on('message', on);
    const ask = (): void => worker.postMessage({ op: 'tid' } satisfies ToWorker);
    setTimeout(ask, 500); // the worker's module is loading: ask again until it answers
    const t = setInterval(ask, 1000);
    worker.once('message', () => clearInterval(t));
  });
  const viaWorker = new WorkerConnector(worker);
  const connectors = {
    main: (t: DeviceTarget) => connectDevice(t, { timeoutMs: 30_000 }),
    worker: (t: DeviceTarget) => viaWorker.connect(t, 30_000),
  };
  let replyBytes = 0;
  const session = async (mode: keyof typeof connectors, t: DeviceTarget): Promise<void> => {
    await within((async () => {
      const s = await connectors[mode](t);
      for (let i = 0; i < RPCS; i++) {
        const reply = await s.rpc(integrityMeasurementXml(randomBytes(32)), { timeoutMs: 30_000 });
        if (reply.children.length === 0) throw new Error(`${mode}: an empty integrity-measurement reply from ${t.henbId}`);
        replyBytes = JSON.stringify(reply).length;
      }
      await s.close();
    })(), 30_000, () => `a ${mode} session with ${t.henbId}`);
  };
  const measure = async (mode: keyof typeof connectors): Promise<Round> => {
    const d0 = (await askChild<{ cpu: NodeJS.CpuUsage }>(child, 'cpu')).cpu;
    const m0 = threadCpu(process.pid), w0 = threadCpu(workerTid), c0 = process.cpuUsage(), t0 = performance.now();
    await pool(targets, CONC, (t) => session(mode, t));
    const wall = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 300)); // the connections' last packets and closes, inside this round
    const m1 = threadCpu(process.pid), w1 = threadCpu(workerTid), c = process.cpuUsage(c0);
    const d1 = (await askChild<{ cpu: NodeJS.CpuUsage }>(child, 'cpu')).cpu;
    const n = targets.length;
    return {
      main: (m1.ns - m0.ns) / 1e6 / n, mainTicks: (m1.ticks - m0.ticks) * 10 / n,
      worker: (w1.ns - w0.ns) / 1e6 / n, workerTicks: (w1.ticks - w0.ticks) * 10 / n,
      proc: (c.user + c.system) / 1000 / n, dev: (d1.user - d0.user + d1.system - d0.system) / 1000 / n,
      perS: n / (wall / 1000),
    };
  };
  console.log(`SSH on a worker thread (prototype): ${N} devices, ${ROUNDS} rounds per mode, concurrency ${CONC}, ${RPCS} integrity-measurement(s) per session; main tid ${process.pid}, worker tid ${workerTid}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  await measure('main'); // warm-up, both modes
  await measure('worker');
  const res: Record<'main' | 'worker', Round[]> = { main: [], worker: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order: Array<'main' | 'worker'> = r % 2 === 0 ? ['main', 'worker'] : ['worker', 'main'];
    for (const mode of order) {
      const x = await measure(mode);
      res[mode].push(x);
      console.log(`  round ${r + 1} ${mode.padEnd(6)} per session: main thread ${x.main.toFixed(3)} ms (ticks ${x.mainTicks.toFixed(2)}), worker ${x.worker.toFixed(3)} (ticks ${x.workerTicks.toFixed(2)}), process ${x.proc.toFixed(3)}, devices ${x.dev.toFixed(3)}; ${x.perS.toFixed(1)} sessions/s`);
    }
  }
  const fmt = (xs: number[], d = 3): string => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}]`;
  console.log(`\nper session, ms CPU (median of ${ROUNDS} rounds [min-max]); integrity-measurement reply ~${replyBytes} bytes as JSON`);
  for (const mode of ['main', 'worker'] as const) {
    const v = res[mode];
    console.log(`  ${mode.padEnd(6)} main thread ${fmt(v.map((x) => x.main))}  worker ${fmt(v.map((x) => x.worker))}  other threads ${fmt(v.map((x) => x.proc - x.main - x.worker))}  process ${fmt(v.map((x) => x.proc))}  devices ${fmt(v.map((x) => x.dev))}  sessions/s ${fmt(v.map((x) => x.perS), 1)}`);
  }
  const ratio = (f: (x: Round) => number): string => {
    const rs = res.worker.map((w, i) => f(w) / f(res.main[i]!));
    return `${median(rs).toFixed(3)} [${Math.min(...rs).toFixed(3)}-${Math.max(...rs).toFixed(3)}]`;
  };
  console.log('ratios worker/main, per round pair (median [range]):');
  console.log(`  main thread ${ratio((x) => x.main)}  process ${ratio((x) => x.proc)}  main thread + worker ${ratio((x) => x.main + x.worker)}  sessions/s ${ratio((x) => x.perS)}`);
  console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const gone = new Promise((r) => child.once('exit', r));
  child.send({ op: 'close' });
  await within(gone, 20_000, () => 'the devices\' process exit').catch(() => child.kill('SIGKILL'));
  process.exit(0);
}

if (!isMainThread) sshWorker();
else if (argv[0] === '--serve') await serveDevices(Number(argv[1]));
else await main();
