/**
 * Step 9 of a verified update at the PVE's list size under load (issue 15: ~25 statements per
 * provide-reference-values-list at 10,000 devices), in one process, CPU per entry (process.cpuUsage):
 *
 *   A  25 single statements: the OAM signs each (createReferenceValuesSigner().one, rv+jwt, ES256) and the PVE takes
 *      each with the real code path (src/pve/provided.ts accept, all 25 at once as the list operation runs them:
 *      verification with the OAM's JWKS file, jti, ordering, the grouped journal append)
 *   B  one list statement of the same 25 (signer.list, rv-list+jwt) taken by acceptList (one verification, then each
 *      entry as a statement alone)
 *
 * Rounds alternate A B and B A (one of each per round); each run of A or B is `--lists` lists of 25 (new values, H(e)NBs henb-0..henb-N cycling). Printed:
 * sign and accept CPU per entry for A and B (median of rounds, range), and B/A. The transport (one list operation
 * either way) is not here: it is the same for A and B.
 *
 * Not run by bench/run.ts (leading underscore).
 * Run: node --import tsx bench/_rv-list.ts [--lists 200] [--rounds 6] [--size 25] [--henbs 10000]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/log/logger.js';
import { createReferenceValuesSigner } from '../src/oam/index.js';
import type { ReferenceValuesInput, ReferenceValuesSigner } from '../src/oam/index.js';
import { openProvidedReferenceValues } from '../src/pve/provided.js';
import type { ProvidedReferenceValues } from '../src/pve/provided.js';
import { generateSigningKey } from '../src/tokens/index.js';
import { benchArgs } from './_args.js';

const { opt } = benchArgs();
const LISTS = Number(opt('--lists') ?? 200);
const ROUNDS = Number(opt('--rounds') ?? 6);
const SIZE = Number(opt('--size') ?? 25);
const HENBS = Number(opt('--henbs') ?? 10_000);

let next = 0;
let serial = 0;
/** the next `SIZE` H(e)NBs' values: a verified update's four components, its rootfs new */
function batch(): ReferenceValuesInput[] {
  serial++;
  return Array.from({ length: SIZE }, () => {
    const henbId = `henb-${next++ % HENBS}`;
    const rootfs = (serial * 7919 + next).toString(16).padStart(8, '0').repeat(8);
    return {
      henbId, jobId: `job-${serial}-${next}`,
      values: [
        { component: 'bootloader', digest: '11'.repeat(32) }, { component: 'kernel', digest: '22'.repeat(32) },
        { component: 'rootfs', digest: rootfs, version: '6.0.0' }, { component: 'henb-app', digest: '44'.repeat(32) },
      ],
    };
  });
}

interface Cpu { sign: number; accept: number }

const cpuMs = (from: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
};

/** A: each statement signed alone, the 25 taken at once as single statements */
async function singles(signer: ReferenceValuesSigner, pve: ProvidedReferenceValues): Promise<Cpu> {
  const out: Cpu = { sign: 0, accept: 0 };
  for (let i = 0; i < LISTS; i++) {
    const vs = batch();
    let t = process.cpuUsage();
    const jwss = await Promise.all(vs.map((v) => signer.one(v)));
    out.sign += cpuMs(t);
    t = process.cpuUsage();
    await Promise.all(jwss.map((j) => pve.accept(j)));
    out.accept += cpuMs(t);
  }
  return out;
}

/** B: the 25 signed as one list statement, taken by acceptList */
async function listed(signer: ReferenceValuesSigner, pve: ProvidedReferenceValues): Promise<Cpu> {
  const out: Cpu = { sign: 0, accept: 0 };
  for (let i = 0; i < LISTS; i++) {
    const vs = batch();
    let t = process.cpuUsage();
    const jws = await signer.list(vs);
    out.sign += cpuMs(t);
    t = process.cpuUsage();
    const r = await pve.acceptList(jws);
    out.accept += cpuMs(t);
    if (r.some((e) => 'error' in e)) throw new Error('an entry of the list was refused');
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perEntry = (ms: number): number => (ms / (LISTS * SIZE));
const fmt = (xs: number[]): string => `${median(xs).toFixed(4)} ms (${Math.min(...xs).toFixed(4)}..${Math.max(...xs).toFixed(4)})`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hsv-rv-list-'));
  try {
    const key = await generateSigningKey('ES256', 'oam');
    await writeFile(join(dir, 'oam-jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
    const signer = createReferenceValuesSigner({ signingKey: key });
    const pve = await openProvidedReferenceValues({ dataDir: join(dir, 'pve'), audience: 'urn:henb-sw-verify:pve', oamJwks: join(dir, 'oam-jwks.json'), knownHenb: () => true, log: silentLogger });
    // warm-up: both paths, the journal opened
    await singles(signer, pve);
    await listed(signer, pve);
    const a: Cpu[] = [];
    const b: Cpu[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      for (const which of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) (which === 'A' ? a : b).push(which === 'A' ? await singles(signer, pve) : await listed(signer, pve));
    }
    await pve.close();
    const col = (xs: Cpu[], k: keyof Cpu): number[] => xs.map((x) => perEntry(x[k]));
    const total = (xs: Cpu[]): number[] => xs.map((x) => perEntry(x.sign + x.accept));
    console.log(`node ${process.version}, ${ROUNDS} rounds of ${LISTS} lists of ${SIZE} (${HENBS} H(e)NBs), CPU per entry (median of rounds, range)`);
    console.log(`A single statements: OAM sign ${fmt(col(a, 'sign'))}  PVE accept ${fmt(col(a, 'accept'))}  total ${fmt(total(a))}`);
    console.log(`B one list statement: OAM sign ${fmt(col(b, 'sign'))}  PVE accept ${fmt(col(b, 'accept'))}  total ${fmt(total(b))}`);
    const ratios = (k: 'sign' | 'accept' | 'total'): number[] => a.map((x, i) => {
      const y = b[i]!;
      return k === 'total' ? (y.sign + y.accept) / (x.sign + x.accept) : y[k] / x[k];
    });
    console.log(`B/A: sign ${median(ratios('sign')).toFixed(3)}  accept ${median(ratios('accept')).toFixed(3)}  total ${median(ratios('total')).toFixed(3)} `
      + `(total range ${Math.min(...ratios('total')).toFixed(3)}..${Math.max(...ratios('total')).toFixed(3)}); `
      + `saved per entry ${(median(total(a)) - median(total(b))).toFixed(4)} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
