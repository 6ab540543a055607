/**
 * Ad-hoc A/B (issue 15, branch asynctok): compact JWS signatures and verifications on libuv's thread pool (node:crypto's
 * callback form: "new", as branch asynctok-exp had it in src/tokens/jws.ts) against the one-shot calls on the caller's
 * thread (src/tokens/jws.ts as it is: "old"). The OAM's main thread is the bound of bench/fleet.ts at 10,000 devices,
 * and each verified update verifies two ES256 tokens of the PVE and signs two (the result, the reference-value
 * statement). The fleet A/B of the branch is in docs/performance.md: it was slower, and is not merged.
 *   node --import tsx bench/_jws-thread.ts [--ops N] [--rounds R] [--conc C]
 * One process; rounds alternate old, new and new, old. Per round: N ES256 signatures, then N verifications of them,
 * C at a time (the new mode; the old mode is synchronous whatever C is). Prints, per operation: the main thread's CPU
 * (Linux: /proc/self/task/<pid>/schedstat), the process's CPU (process.cpuUsage: the thread pool's too), and wall time;
 * then new/old per pair.
 */
import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signCompact, verifyCompact } from '../src/tokens/jws.js';
import type { SigningAlg } from '../src/tokens/types.js';
import { benchArgs } from './_args.js';

const args = benchArgs();
const N = Number(args.opt('--ops') ?? 3000);
const ROUNDS = Number(args.opt('--rounds') ?? 4);
const CONC = Number(args.opt('--conc') ?? 8);

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
// a payload of the size of a PVE's result token's claims
const claims = { iss: 'urn:pve', sub: 'henb-000123', iat: 1_765_000_000, exp: 1_765_000_300, eat_nonce: 'x'.repeat(43), submods: { henb: { ear_status: 'affirming', detail: 'y'.repeat(300) } } };
const header = { alg: 'ES256' as const, typ: 'eat+jwt', kid: 'k1' };

/** the thread pool's signature (branch asynctok-exp's jws.ts, ES256 only) */
function poolSign(key: KeyObject): Promise<string> {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return new Promise((resolve, reject) => {
    cryptoSign('sha256', Buffer.from(input, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, (err, sig) => (err !== null ? reject(err) : resolve(`${input}.${sig.toString('base64url')}`)));
  });
}
/** the thread pool's verification */
function poolVerify(token: string, key: KeyObject): Promise<boolean> {
  const last = token.lastIndexOf('.');
  return new Promise((resolve) => {
    cryptoVerify('sha256', Buffer.from(token.slice(0, last), 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(token.slice(last + 1), 'base64url'), (err, ok) => resolve(err === null && ok));
  });
}
const ES256: SigningAlg = 'ES256';

const mainThreadMs = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;

/** runs `op(i)` for i < N, `conc` at a time */
async function pool(op: (i: number) => Promise<unknown>, conc: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => { while (next < N) await op(next++); };
  await Promise.all(Array.from({ length: conc }, lane));
}

interface Cost { main: number; process: number; wall: number }
async function measure(fn: () => Promise<void> | void): Promise<Cost> {
  const m0 = mainThreadMs(), c0 = process.cpuUsage(), t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { main: (mainThreadMs() - m0) * 1000 / N, process: (c.user + c.system) / N, wall: (performance.now() - t0) * 1000 / N };
}

async function round(mode: 'old' | 'new'): Promise<{ sign: Cost; verify: Cost }> {
  const tokens: string[] = new Array<string>(N);
  let bad = 0;
  const sign = mode === 'old'
    ? await measure(() => { for (let i = 0; i < N; i++) tokens[i] = signCompact(header, claims, privateKey); })
    : await measure(() => pool(async (i) => { tokens[i] = await poolSign(privateKey); }, CONC));
  const verify = mode === 'old'
    ? await measure(() => { for (let i = 0; i < N; i++) if (verifyCompact(tokens[i]!, publicKey, ES256) === undefined) bad++; })
    : await measure(() => pool(async (i) => { if (!await poolVerify(tokens[i]!, publicKey)) bad++; }, CONC));
  if (bad > 0) throw new Error(`${bad} tokens did not verify`);
  return { sign, verify };
}

const fmt = (c: Cost): string => `main ${c.main.toFixed(1)} us, process ${c.process.toFixed(1)} us, wall ${c.wall.toFixed(1)} us`;
console.log(`ES256 compact JWS, ${N} per round, concurrency ${CONC} (new), ${ROUNDS} pairs; per operation:`);
await round('old'); await round('new'); // warm-up
const ratios: Record<string, number[]> = { signMain: [], signProc: [], verMain: [], verProc: [] };
for (let r = 0; r < ROUNDS; r++) {
  const order: Array<'old' | 'new'> = r % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
  const got: Partial<Record<'old' | 'new', { sign: Cost; verify: Cost }>> = {};
  for (const m of order) got[m] = await round(m);
  const o = got.old!, n = got.new!;
  console.log(`pair ${r + 1}: sign   old ${fmt(o.sign)} | new ${fmt(n.sign)}`);
  console.log(`        verify old ${fmt(o.verify)} | new ${fmt(n.verify)}`);
  ratios.signMain!.push(n.sign.main / o.sign.main); ratios.signProc!.push(n.sign.process / o.sign.process);
  ratios.verMain!.push(n.verify.main / o.verify.main); ratios.verProc!.push(n.verify.process / o.verify.process);
}
const med = (xs: number[]): string => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(2);
console.log(`new/old, median of pairs: sign main thread ${med(ratios.signMain!)}, sign process ${med(ratios.signProc!)}; verify main thread ${med(ratios.verMain!)}, verify process ${med(ratios.verProc!)}`);
