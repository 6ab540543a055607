/**
 * What the OAM does towards the PVE per verified update in relay-evidence mode (issue 15), against a real PVE
 * (src/pve startPve, RESTCONF over TLS on 127.0.0.1) run in a CHILD process, so that process.cpuUsage here is the
 * OAM side only:
 *
 *   integrity-request with the relayed pre-update evidence (src/pve/client.ts), its token verified (tokens-adapter verifyPve)
 *   integrity-request with the signed completion (phase post-update), its token verified
 *   the new reference values signed (signReferenceValues) and sent (provide-reference-values)
 *
 * each request inside an AbortController + timer as the runner's calls.bounded makes them (the same in both trees).
 * The devices' evidence (ECDSA signatures over fresh nonces) is made before each round, outside the measured time.
 * `--concurrency C` updates run at once (default 8, so that the client's keep-alive pool holds several connections).
 *
 * --http-only measures the three requests alone: the tokens are not verified and the reference values are signed before
 * the round (the ES256 work, the same in both trees, otherwise hides the client's own cost on a loaded machine).
 * --reconnect empties the client's keep-alive pool before each request (client.close()): every request on a new TLS
 * connection (resumed from the agent's session cache where it can), what a pool that the PVE closed while idle costs.
 * --count prints, per update and per tree (after a warm-up, concurrency 1 and C): requests, new TCP connections, TLS
 * handshakes (full or resumed), bytes written and read on the TLS sockets, setTimeout calls, AbortControllers made,
 * JSON.parse / JSON.stringify calls, crypto verify calls.
 * With --baseline <tree> (a worktree of another commit, e.g. /work/main) the same work runs against that tree's
 * src/pve/client.ts, src/tokens and src/oam/tokens-adapter.ts in the same process (each its own keep-alive pool), in
 * rounds alternating A B B A, and the ratio new/old of CPU per update is printed (median of the rounds, and the range).
 *
 * Not run by bench/run.ts (leading underscore).
 * Run: node --import tsx bench/_pve-client.ts [--baseline /work/main] [--n 400] [--rounds 6] [--concurrency 8] [--devices 64] [--count] [--http-only] [--reconnect]
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pathToFileURL } from 'node:url';
import type { KeyObject } from 'node:crypto';
import type * as ClientApi from '../src/pve/client.js';
import type * as TokensApi from '../src/tokens/index.js';
import type * as AdapterApi from '../src/oam/tokens-adapter.js';
import type { Jwks } from '../src/tokens/index.js';
import type { PostUpdateEvidence, PreUpdateEvidence } from '../src/oam/index.js';
import { Femtocell, factoryReferenceValues } from '../src/simulator/model.js';
import { signCompletion } from '../src/integrity/index.js';
import { generateSigningKey, newNonce } from '../src/tokens/index.js';
import { startPve } from '../src/pve/service.js';
import { benchArgs } from './_args.js';

const root = resolve(import.meta.dirname, '..');
const { opt, has } = benchArgs();
const N = Number(opt('--n') ?? 400);
const ROUNDS = Number(opt('--rounds') ?? 6);
const C = Number(opt('--concurrency') ?? 8);
const DEVICES = Number(opt('--devices') ?? 64);
const BASELINE = opt('--baseline');
const COUNT = has('--count');
const HTTP_ONLY = has('--http-only');
const RECONNECT = has('--reconnect');

interface Ready {
  url: string;
  ca: string;
  jwks: Jwks;
}

/** the child: the reference PVE with these devices (relayed evidence only: it collects nothing) */
async function child(): Promise<void> {
  const { devices, oamJwks } = await new Promise<{ devices: Array<{ henbId: string; pem: string }>; oamJwks: Jwks }>((res) => process.once('message', res as never));
  const dataDir = await mkdtemp(join(tmpdir(), 'hsv-bench-pve-'));
  const pve = await startPve({
    listen: '127.0.0.1:0', dataDir, referenceValues: factoryReferenceValues(), oamJwks, maxConcurrent: 256,
    devices: devices.map((d) => ({ henbId: d.henbId, host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: d.pem })),
  });
  process.send!({ url: pve.url, ca: pve.ca, jwks: pve.jwks } satisfies Ready);
  process.once('disconnect', () => void pve.close().then(() => rm(dataDir, { recursive: true, force: true })).then(() => process.exit(0)));
}

interface Impl {
  name: string;
  client: typeof ClientApi;
  tokens: typeof TokensApi;
  adapter: typeof AdapterApi;
}

async function loadImpl(name: string, tree: string): Promise<Impl> {
  const load = async <T>(p: string): Promise<T> => await import(pathToFileURL(join(tree, p)).href) as T;
  return {
    name,
    client: await load<typeof ClientApi>('src/pve/client.ts'),
    tokens: await load<typeof TokensApi>('src/tokens/index.ts'),
    adapter: await load<typeof AdapterApi>('src/oam/tokens-adapter.ts'),
  };
}

/** one update's device side, made before the round: relayed evidence over nonce1, a completion signed over nonce2 */
interface Prepared {
  henbId: string;
  jobId: string;
  nonce1: string;
  evidence: PreUpdateEvidence;
  nonce2: string;
  completion: PostUpdateEvidence;
  /** --http-only: the reference values signed in advance */
  jws?: string;
}

let jobSeq = 0;

function prepare(cell: Femtocell): Prepared {
  const nonce1 = newNonce();
  const ev = cell.measure(Buffer.from(nonce1, 'base64url'));
  const evidence: PreUpdateEvidence = {
    format: 'software-key', tim: ev.tim, measurementLog: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256', keyId: cell.keyId(), softwareVersion: '1.0.0',
  };
  const jobId = `job-${++jobSeq}`;
  const nonce2 = newNonce();
  const nonceText = Buffer.from(nonce2, 'base64url').toString('base64');
  const tim = cell.tim();
  const log = cell.measurementLog();
  // the simulator keeps its key private; the bench signs the completion statement as the device would
  const key = (cell as unknown as { privateKey: KeyObject }).privateKey;
  const signature = signCompletion({ henbId: cell.henbId, jobId, nonce: Buffer.from(nonceText, 'base64'), status: 'completed', selfCheck: 'passed', softwareVersion: '1.0.0', tim, log }, key);
  const completion: PostUpdateEvidence = {
    status: 'completed', selfCheck: 'passed', softwareVersion: '1.0.0', tim, measurementLog: log,
    evidence: { format: 'software-key', nonce: nonceText, keyId: cell.keyId(), signature, signatureAlgorithm: 'ES256' },
  };
  return { henbId: cell.henbId, jobId, nonce1, evidence, nonce2, completion };
}

/** as src/oam/runner-context.ts calls.bounded: an AbortController and a timer around the call */
async function bounded<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(new Error('timed out')), ms);
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

interface Oam {
  update(p: Prepared): Promise<void>;
  /** --http-only: sign the reference values now, outside the measured time */
  presign(p: Prepared): Promise<void>;
  close(): void;
}

function oamOf(impl: Impl, ready: Ready, oamKey: Awaited<ReturnType<typeof generateSigningKey>>): Oam {
  const pooled = impl.client.createPveClient({ url: ready.url, ca: ready.ca, timeoutMs: 30_000, connectTimeoutMs: 10_000, retry: { initialMs: 200, maxMs: 10_000 } });
  const client: typeof pooled = !RECONNECT ? pooled : {
    ...pooled,
    integrityRequest: (...a) => { pooled.close(); return pooled.integrityRequest(...a); },
    provideReferenceValues: (...a) => { pooled.close(); return pooled.provideReferenceValues(...a); },
  };
  const jwks = impl.tokens.parseJwks(JSON.parse(JSON.stringify(ready.jwks)));
  Object.freeze(jwks.keys);
  const tokens = impl.adapter.createResultTokens({ signingKey: oamKey, pveJwks: Object.freeze(jwks), replayCache: impl.tokens.memoryReplayCache({ maxEntries: 10_000_000 }) });
  const PVE_MS = 30_000;
  const values = (p: Prepared): Array<{ component: string; digest: string; version: string }> => p.completion.measurementLog.map((e) => ({ ...e, version: '1.0.0' }));
  return {
    async presign(p: Prepared): Promise<void> {
      p.jws = await tokens.signReferenceValues!({ henbId: p.henbId, jobId: p.jobId, values: values(p) });
    },
    async update(p: Prepared): Promise<void> {
      const r1 = await bounded(PVE_MS, (signal) => client.integrityRequest({ henbId: p.henbId, nonce: p.nonce1, jobId: p.jobId, evidence: p.evidence }, signal, Date.now() + PVE_MS));
      if (p.jws !== undefined) {
        const r2 = await bounded(PVE_MS, (signal) => client.integrityRequest({ henbId: p.henbId, nonce: p.nonce2, jobId: p.jobId, completion: p.completion }, signal, Date.now() + PVE_MS));
        if (typeof r1.token !== 'string' || typeof r2.token !== 'string') throw new Error('no token');
        await bounded(PVE_MS, (signal) => client.provideReferenceValues(p.jws!, signal));
        return;
      }
      const c1 = await tokens.verifyPve(r1.token, p.nonce1);
      const r2 = await bounded(PVE_MS, (signal) => client.integrityRequest({ henbId: p.henbId, nonce: p.nonce2, jobId: p.jobId, completion: p.completion }, signal, Date.now() + PVE_MS));
      const c2 = await tokens.verifyPve(r2.token, p.nonce2);
      if (c1.sub !== p.henbId || c2.submods.completion?.['job-id'] !== p.jobId) throw new Error('wrong claims');
      await bounded(PVE_MS, async (signal) => {
        const jws = await tokens.signReferenceValues!({ henbId: p.henbId, jobId: p.jobId, values: values(p) });
        await client.provideReferenceValues(jws, signal);
      });
    },
    close: () => client.close(),
  };
}

async function run(oam: Oam, prepared: Prepared[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < prepared.length) await oam.update(prepared[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function cpuPerUpdate(oam: Oam, cells: Femtocell[], n: number, concurrency: number): Promise<number> {
  const prepared = Array.from({ length: n }, (_, i) => prepare(cells[i % cells.length]!));
  if (HTTP_ONLY) for (const p of prepared) await oam.presign(p);
  const t0 = process.cpuUsage();
  await run(oam, prepared, concurrency);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

/** what `fn` does: requests, connections, handshakes, bytes, timers, AbortControllers, JSON and crypto calls */
async function counted(fn: () => Promise<void>): Promise<Record<string, number>> {
  const k: Record<string, number> = {};
  const add = (name: string, v = 1): void => { k[name] = (k[name] ?? 0) + v; };
  const sockets = new Map<TLSSocket, { w: number; r: number; closedW?: number; closedR?: number }>();
  const onRequest = ({ request }: { request: ClientRequest }): void => {
    add('requests');
    const onSocket = (s: unknown): void => {
      const sock = s as TLSSocket;
      if (sockets.has(sock)) return;
      const b: { w: number; r: number; closedW?: number; closedR?: number } = { w: sock.bytesWritten, r: sock.bytesRead };
      sockets.set(sock, b);
      // a destroyed socket no longer counts its bytes: taken as it closes
      sock.once('close', () => { b.closedW = sock.bytesWritten; b.closedR = sock.bytesRead; });
      if (sock.connecting) add('new TCP connections');
      if (!sock.authorized) sock.once('secureConnect', () => add(sock.isSessionReused() ? 'TLS handshakes (resumed)' : 'TLS handshakes (full)'));
    };
    // the request may have its pooled socket already when the channel speaks
    if (request.socket !== null) onSocket(request.socket);
    else request.once('socket', onSocket);
  };
  const onNet = (): void => add('net.client.socket');
  subscribe('http.client.request.start', onRequest as never);
  subscribe('net.client.socket', onNet);
  const c = createRequire(import.meta.url)('node:crypto') as Record<string, (...a: unknown[]) => unknown>;
  const origVerify = c.verify!;
  c.verify = (...a: unknown[]) => { add('crypto.verify'); return origVerify(...a); };
  syncBuiltinESMExports();
  const origParse = JSON.parse;
  const origStringify = JSON.stringify;
  const origSetTimeout = globalThis.setTimeout;
  const OrigAbortController = globalThis.AbortController;
  JSON.parse = ((...a: Parameters<typeof JSON.parse>) => { add('JSON.parse'); return origParse(...a); }) as typeof JSON.parse;
  JSON.stringify = ((...a: Parameters<typeof JSON.stringify>) => { add('JSON.stringify'); return origStringify(...a); }) as typeof JSON.stringify;
  globalThis.setTimeout = ((...a: Parameters<typeof setTimeout>) => { add('setTimeout'); return origSetTimeout(...a); }) as typeof setTimeout;
  globalThis.AbortController = class extends OrigAbortController { constructor() { super(); add('AbortController'); } };
  try {
    await fn();
  } finally {
    JSON.parse = origParse;
    JSON.stringify = origStringify;
    globalThis.setTimeout = origSetTimeout;
    globalThis.AbortController = OrigAbortController;
    c.verify = origVerify;
    syncBuiltinESMExports();
  }
  for (const [s, b] of sockets) {
    add('TLS socket bytes written', (b.closedW ?? s.bytesWritten) - b.w);
    add('TLS socket bytes read', (b.closedR ?? s.bytesRead) - b.r);
  }
  k['sockets used'] = sockets.size;
  return k;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  const cells = Array.from({ length: DEVICES }, (_, i) => new Femtocell({ henbId: `henb-${i}`, profile: 'healthy' }));
  const oamKey = await generateSigningKey('ES256', 'oam');
  const pveChild: ChildProcess = fork(import.meta.filename, ['--child'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  pveChild.send({ devices: cells.map((c) => ({ henbId: c.henbId, pem: c.publicKeyPem() })), oamJwks: { keys: [oamKey.publicJwk] } });
  const ready = await new Promise<Ready>((res) => pveChild.once('message', res as never));
  try {
    const impls = [await loadImpl('new', root)];
    if (BASELINE !== undefined) impls.push(await loadImpl('old', resolve(BASELINE)));
    const oams = impls.map((impl) => oamOf(impl, ready, oamKey));
    for (const o of oams) await cpuPerUpdate(o, cells, Math.min(N, 200), C); // warm-up (and the pools filled)
    if (COUNT) {
      for (const conc of [1, C]) {
        for (const [i, impl] of impls.entries()) {
          const n = 50;
          const prepared = Array.from({ length: n }, (_, j) => prepare(cells[j % cells.length]!));
          if (HTTP_ONLY) for (const p of prepared) await oams[i]!.presign(p);
          const k = await counted(() => run(oams[i]!, prepared, conc));
          console.log(`${impl.name} (concurrency ${conc}): per update ${Object.entries(k).map(([name, v]) => `${name} ${(v / n).toFixed(2)}`).join(', ')}`);
        }
      }
    }
    const per: number[][] = impls.map(() => []);
    for (let r = 0; r < ROUNDS; r++) {
      const order = impls.length === 1 ? [0] : r % 2 === 0 ? [0, 1, 1, 0] : [1, 0, 0, 1];
      const got: number[][] = impls.map(() => []);
      for (const k of order) got[k]!.push(await cpuPerUpdate(oams[k]!, cells, N, C));
      got.forEach((g, k) => per[k]!.push(g.reduce((a, b) => a + b, 0) / g.length));
      console.log(`round ${r + 1}: ${impls.map((impl, k) => `${impl.name} ${per[k]!.at(-1)!.toFixed(1)} us/update`).join(', ')}`);
    }
    for (const [k, impl] of impls.entries()) console.log(`${impl.name}: median ${median(per[k]!).toFixed(1)} us OAM CPU per update (${N} updates x ${ROUNDS} rounds, concurrency ${C})`);
    if (impls.length === 2) {
      const ratios = per[0]!.map((v, r) => v / per[1]![r]!);
      console.log(`new/old: median ${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`);
    }
    for (const o of oams) o.close();
  } finally {
    pveChild.disconnect();
  }
}

if (process.argv.includes('--child')) await child();
else await main();
