/**
 * What one verified update costs on the device's NETCONF session, beyond the SSH handshake (issue 15, config
 * pve.evidence: relay, one device session per update): the OAM's device driver (src/device/driver.ts) against N
 * simulated H(e)NBs (src/simulator) on loopback, the flow's calls per update as the OAM makes them in relay mode:
 * integrity-measurement (held for the job), software-update (subscribed first), the completion, release; the session
 * then closes (devices.idle-timeout 0 here: at once, the fleet's 5 s later).
 *
 * The devices run in a child process (one per tree), so the CPU of each end is its own process's process.cpuUsage():
 * OAM (this process: the driver and its ssh2 client) and device (the child: ssh2 server, NETCONF server, the
 * simulated device's evidence signing). "bare" is a session setup and close alone (connectDevice, hello,
 * close-session) against the same devices: the handshake's share, so update - bare is what the flow adds.
 *
 * With --baseline <tree> (a checkout of another commit with its node_modules, e.g. a git worktree of main), the same
 * runs against that tree's driver and simulator, in rounds alternating A B B A, and the ratios new/old are printed
 * (median of the per-round ratios and their range). Then one counted update per tree (--count, default on): every
 * SSH packet on the device's connection by type and direction (ssh2's debug output of the OAM's client), the NETCONF
 * messages (by what they are) and the bytes on the TCP socket, split at the end of the SSH handshake.
 *
 * Not run by bench/run.ts (leading underscore); stops by itself.
 * Run: node --import tsx bench/_device-session.ts [--baseline /work/wt-devrpc-base] [--n 40] [--rounds 6] [--conc 8]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ssh2 from 'ssh2';
import type * as DriverApi from '../src/device/driver.js';
import type * as ConnectApi from '../src/device/connect.js';
import type * as SimApi from '../src/simulator/index.js';
import type * as ConnApi from '../src/netconf/session/connection.js';
import type { SimulatedDevice } from '../src/simulator/index.js';
import { benchArgs } from './_args.js';
import { askChild } from './_ipc.js';

const root = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const { opt } = benchArgs(argv);

// ---- child: a fleet of one tree, answering cpu requests ---------------------------------------------------
if (argv[0] === '--serve') {
  const tree = argv[1]!;
  const n = Number(argv[2]);
  const sim = await import(pathToFileURL(join(tree, 'src/simulator/index.ts')).href) as typeof SimApi;
  const conn = await import(pathToFileURL(join(tree, 'src/netconf/session/connection.ts')).href) as typeof ConnApi;
  const dir = mkdtempSync(join(tmpdir(), 'hsv-devsess-'));
  const fleet = await sim.startFleet({ profiles: { healthy: n }, installMs: 20, replay: false, dataDir: dir });
  // what the device sends, by message (the counted update): every NETCONF message goes through MessageConnection.send
  let counting = false;
  const sent: string[] = [];
  const proto = conn.MessageConnection.prototype as unknown as { send(m: string | Buffer): boolean };
  const send0 = proto.send;
  proto.send = function (this: unknown, m: string | Buffer): boolean {
    if (counting) sent.push(typeof m === 'string' ? m : m.toString('utf8'));
    return send0.call(this, m);
  };
  // the writes those messages went out in (MessageConnection.writeQueued: one transport write each, one SSH packet)
  const writes: number[] = [];
  const wq = conn.MessageConnection.prototype as unknown as { writeQueued(): void; outQueue: unknown[] };
  const writeQueued0 = wq.writeQueued;
  wq.writeQueued = function (this: { outQueue: unknown[] }): void {
    if (counting && this.outQueue.length > 0) writes.push(this.outQueue.length);
    writeQueued0.call(this);
  };
  process.on('message', (m: { op: string }) => {
    if (m.op === 'cpu') process.send!({ op: 'cpu', cpu: process.cpuUsage() });
    else if (m.op === 'count') {
      counting = true;
      sent.length = 0;
      writes.length = 0;
      process.send!({ op: 'count' });
    } else if (m.op === 'counted') {
      counting = false;
      process.send!({ op: 'counted', sent: sent.splice(0), writes: writes.splice(0) });
    } else if (m.op === 'close') void fleet.close().then(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
  process.on('disconnect', () => process.exit(0)); // the parent died: stop (the temporary dir stays)
  process.send!({ op: 'ready', devices: fleet.devices });
} else {
  await main();
}

interface Side {
  name: string;
  tree: string;
  child: ChildProcess;
  devices: SimulatedDevice[];
  drv: typeof DriverApi;
  connect: typeof ConnectApi;
  conn: typeof ConnApi;
  driver: DriverApi.NetconfDeviceDriver;
}

async function side(name: string, tree: string, n: number): Promise<Side> {
  const child = fork(import.meta.filename, ['--serve', tree, String(n)], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_PROF !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CHILD_PROF}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ devices: SimulatedDevice[] }>((res) => child.once('message', (m) => res(m as { devices: SimulatedDevice[] })));
  const drv = await import(pathToFileURL(join(tree, 'src/device/driver.ts')).href) as typeof DriverApi;
  const connect = await import(pathToFileURL(join(tree, 'src/device/connect.ts')).href) as typeof ConnectApi;
  const conn = await import(pathToFileURL(join(tree, 'src/netconf/session/connection.ts')).href) as typeof ConnApi;
  const driver = drv.createDeviceDriver({
    devices: ready.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })),
    idleTimeoutMs: 0,
  });
  return { name, tree, child, devices: ready.devices, drv, connect, conn, driver };
}

/** one verified update's device calls, as the OAM's flow makes them with pve.evidence: relay */
async function update(s: Side, d: SimulatedDevice, completions: Map<string, () => void>): Promise<void> {
  const jobId = randomUUID();
  const signal = new AbortController().signal;
  const done = new Promise<void>((res) => completions.set(jobId, res));
  await s.driver.integrityMeasurement(d.henbId, jobId, randomBytes(32).toString('hex'), signal);
  await s.driver.softwareUpdate(d.henbId, {
    jobId, uri: 'file:///opt/images/femto-2.0.img', softwareRim: randomBytes(32).toString('hex'), selfCheck: true,
    version: '2.0', nonce: randomBytes(32).toString('hex'),
  }, signal);
  await done;
  s.driver.release(d.henbId, jobId);
}

/** a session set up and closed, nothing else: the handshake's share */
async function bare(s: Side, d: SimulatedDevice): Promise<void> {
  const ses = await s.connect.connectDevice({ host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 }, { timeoutMs: 10_000 });
  await ses.close();
}

async function pool<T>(items: T[], conc: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(conc, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

async function settled(s: Side): Promise<void> {
  while (s.driver.sessionCounts().open > 0) await new Promise((r) => setTimeout(r, 5));
}

interface Cpu { oam: number; dev: number }

async function measure(s: Side, kind: 'update' | 'bare', conc: number, completions: Map<string, () => void>): Promise<Cpu> {
  const d0 = (await askChild<{ cpu: NodeJS.CpuUsage }>(s.child, 'cpu')).cpu;
  const c0 = process.cpuUsage();
  await pool(s.devices, conc, (d) => (kind === 'update' ? update(s, d, completions) : bare(s, d)));
  await settled(s);
  const c = process.cpuUsage(c0);
  const d1 = (await askChild<{ cpu: NodeJS.CpuUsage }>(s.child, 'cpu')).cpu;
  const n = s.devices.length;
  return { oam: (c.user + c.system) / 1000 / n, dev: (d1.user - d0.user + d1.system - d0.system) / 1000 / n };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** what a NETCONF message is, for the count: hello, rpc <op>, rpc-reply (<first child>), notification <event> */
function kindOf(xml: string): string {
  const body = xml.replace(/^<\?xml[^>]*\?>/, '');
  const root = /^\s*<(?:[\w-]+:)?([\w-]+)/.exec(body)?.[1] ?? '?';
  if (root === 'hello') return /session-id/.test(body) ? 'hello (device)' : 'hello (OAM)';
  const inner = /^\s*<[^>]*>\s*<(?:[\w-]+:)?([\w-]+)(?:[^>]*>\s*<(?:[\w-]+:)?([\w-]+))?/.exec(body);
  if (root === 'rpc') return `rpc ${inner?.[1] ?? '?'}`;
  if (root === 'rpc-reply') return `rpc-reply (${inner?.[1] ?? 'empty'})`;
  if (root === 'notification') return `notification ${/<\/(?:[\w-]+:)?eventTime>\s*<(?:[\w-]+:)?([\w-]+)/.exec(body)?.[1] ?? '?'}`;
  return root;
}

/** one update with every SSH packet and NETCONF message counted */
async function counted(s: Side, completions: Map<string, () => void>): Promise<void> {
  const d = s.devices[0]!;
  const packets = new Map<string, { n: number; bytes: number }>();
  let phase = 'handshake';
  let sock: { bytesRead: number; bytesWritten: number } | undefined;
  const at = { hs: { r: 0, w: 0 } };
  const Client = ssh2.Client.prototype as unknown as { connect(cfg: Record<string, unknown>): unknown };
  const connect0 = Client.connect;
  Client.connect = function (this: { _sock?: typeof sock; on(e: string, f: () => void): void }, cfg: Record<string, unknown>) {
    cfg.debug = (msg: string): void => {
      const m = /^(Outbound|Inbound): (?:Sending |Received )?([A-Z_]+)(?: \((?:r:\d+, )?(\d+)?)?/.exec(msg);
      if (m === null) return;
      const key = `${phase}\t${m[1] === 'Outbound' ? 'OAM -> device' : 'device -> OAM'}\t${m[2]}`;
      const e = packets.get(key) ?? { n: 0, bytes: 0 };
      e.n++;
      if (m[2] === 'CHANNEL_DATA' && m[3] !== undefined) e.bytes += Number(m[3]);
      packets.set(key, e);
      if (m[2] === 'USERAUTH_SUCCESS') {
        phase = 'session';
        sock = this._sock;
        if (sock) at.hs = { r: sock.bytesRead, w: sock.bytesWritten };
      }
    };
    const r = connect0.call(this, cfg);
    sock = this._sock;
    return r;
  };
  // what the OAM sends, by message
  const oamSent: string[] = [];
  const proto = s.conn.MessageConnection.prototype as unknown as { send(m: string | Buffer): boolean };
  const send0 = proto.send;
  proto.send = function (this: unknown, m: string | Buffer): boolean {
    oamSent.push(typeof m === 'string' ? m : m.toString('utf8'));
    return send0.call(this, m);
  };
  await askChild(s.child, 'count');
  try {
    await update(s, d, completions);
    await settled(s);
    await new Promise((r) => setTimeout(r, 50)); // the connection's last packets
  } finally {
    Client.connect = connect0;
    proto.send = send0;
  }
  const { sent: devSent, writes } = await askChild<{ sent: string[]; writes: number[] }>(s.child, 'counted');
  console.log(`\n## ${s.name}: one verified update (relay), device ${d.henbId}`);
  console.log('\nNETCONF messages (as each side framed them; bytes of the XML text):');
  const msgs = new Map<string, { n: number; bytes: number }>();
  for (const [who, list] of [['OAM -> device', oamSent], ['device -> OAM', devSent]] as const) {
    for (const m of list) {
      const k = `${who}\t${kindOf(m)}`;
      const e = msgs.get(k) ?? { n: 0, bytes: 0 };
      e.n++;
      e.bytes += Buffer.byteLength(m);
      msgs.set(k, e);
    }
  }
  const total = (dir: string): string => {
    let n = 0, b = 0;
    for (const [k, v] of msgs) if (k.startsWith(dir)) { n += v.n; b += v.bytes; }
    return `${n} messages, ${b} bytes`;
  };
  for (const [k, v] of msgs) console.log(`  ${k.replace('\t', '  ')}: ${v.n} (${v.bytes} bytes)`);
  console.log(`  total OAM -> device: ${total('OAM')}; device -> OAM: ${total('device')}`);
  console.log(`  the device's writes (messages in each): ${writes.join(' ')}`);
  console.log('\nSSH packets (the OAM client\'s view; CHANNEL_DATA: payload bytes):');
  const sums = new Map<string, number>();
  for (const [k, v] of packets) {
    console.log(`  ${k.replaceAll('\t', '  ')}: ${v.n}${v.bytes ? ` (${v.bytes} bytes)` : ''}`);
    const p = k.split('\t').slice(0, 2).join(' ');
    sums.set(p, (sums.get(p) ?? 0) + v.n);
  }
  for (const [k, v] of sums) console.log(`  total ${k}: ${v} packets`);
  if (sock) {
    console.log(`\nTCP bytes: handshake (to USERAUTH_SUCCESS) OAM->device ${at.hs.w}, device->OAM ${at.hs.r}; after it OAM->device ${sock.bytesWritten - at.hs.w}, device->OAM ${sock.bytesRead - at.hs.r}`);
  }
}

async function main(): Promise<void> {
  const N = Number(opt('--n') ?? 40);
  const ROUNDS = Number(opt('--rounds') ?? 6);
  const CONC = Number(opt('--conc') ?? 8);
  const BASELINE = opt('--baseline');
  const KINDS = (opt('--kinds') ?? 'update,bare').split(',') as Array<'update' | 'bare'>;
  const sides: Side[] = [await side('new', root, N)];
  if (BASELINE !== undefined) sides.unshift(await side('old', resolve(BASELINE), N));
  const completions = new Map<string, () => void>();
  for (const s of sides) {
    s.driver.onCompletion((c) => {
      completions.get(c.jobId)?.();
      completions.delete(c.jobId);
    });
  }
  const { loadavg } = await import('node:os');
  console.log(`device session per verified update: ${N} devices, ${ROUNDS} rounds, concurrency ${CONC}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // warm-up
  for (const s of sides) {
    for (const k of KINDS) await measure(s, k, CONC, completions);
  }
  const res = new Map<string, Cpu[]>();
  const push = (k: string, c: Cpu): void => void (res.get(k) ?? res.set(k, []).get(k)!).push(c);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      for (const k of KINDS) push(`${s.name} ${k}`, await measure(s, k, CONC, completions));
    }
  }
  console.log('\nCPU per update, ms (median of rounds [min-max]): OAM / device / both');
  const fmt = (xs: number[]): string => `${median(xs).toFixed(3)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;
  for (const [k, v] of res) {
    console.log(`  ${k.padEnd(11)} OAM ${fmt(v.map((c) => c.oam))}  device ${fmt(v.map((c) => c.dev))}  both ${fmt(v.map((c) => c.oam + c.dev))}`);
  }
  for (const s of KINDS.length === 2 ? sides : []) {
    const u = res.get(`${s.name} update`)!, b = res.get(`${s.name} bare`)!;
    const beyond = u.map((c, i) => ({ oam: c.oam - b[i]!.oam, dev: c.dev - b[i]!.dev }));
    console.log(`  ${s.name} update - bare (the flow beyond the setup, per round): OAM ${fmt(beyond.map((c) => c.oam))}  device ${fmt(beyond.map((c) => c.dev))}`);
  }
  if (BASELINE !== undefined) {
    console.log('\nratios new/old (median of per-round ratios [range]):');
    for (const kind of KINDS) {
      const o = res.get(`old ${kind}`)!, nw = res.get(`new ${kind}`)!;
      for (const part of ['oam', 'dev'] as const) {
        const rs = nw.map((c, i) => c[part] / o[i]![part]);
        console.log(`  ${kind} ${part}: ${median(rs).toFixed(3)} [${Math.min(...rs).toFixed(3)}-${Math.max(...rs).toFixed(3)}]`);
      }
      const rs = nw.map((c, i) => (c.oam + c.dev) / (o[i]!.oam + o[i]!.dev));
      console.log(`  ${kind} both: ${median(rs).toFixed(3)} [${Math.min(...rs).toFixed(3)}-${Math.max(...rs).toFixed(3)}]`);
    }
  }
  if (!argv.includes('--no-count')) for (const s of sides) await counted(s, completions);
  console.log(`\nload ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const s of sides) {
    await s.driver.close();
    const gone = new Promise((r) => s.child.once('exit', r));
    s.child.send({ op: 'close' });
    await gone;
  }
  process.exit(0);
}
