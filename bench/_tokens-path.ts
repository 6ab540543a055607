/**
 * The token work of one verified update (issue 15), N times in one process, CPU per update (process.cpuUsage):
 *
 *   PVE  signs its pre-update result (signResult, eat+jwt, a four-component measurement log)
 *   OAM  verifies it (tokens-adapter verifyPve: issuer, audience, max age, eat_nonce, jti; the PVE's JWKS of two keys)
 *   PVE  signs its post-update result (the completion submodule)
 *   OAM  verifies it (verifyPve)
 *   OAM  signs the reference values (signReferenceValues, rv+jwt)
 *   PVE  verifies them (verifyReferenceValues with provided.ts' options: issuer, audience, max age 300, jti)
 *   OAM  signs its final result (signFinal)
 *
 * The OAM's jti cache is a memory cache here (the store's INSERT is the store's cost, not the tokens'); the PVE's JWKS
 * is one frozen object answered for every verification, as src/tokens JwksFile answers it while the file is unchanged
 * (its stat is not measured here). With --baseline <tree> (a worktree of another commit, e.g. ../main) the same work
 * runs against that tree's src/tokens and src/oam/tokens-adapter.ts in the same process, in rounds alternating A B B A,
 * and the ratio new/old of CPU per update is printed (median of the rounds, and the range). --count prints, per update
 * and per tree, the calls of crypto sign / verify / createPublicKey and of JSON.parse / JSON.stringify (one update's
 * work, after a warm-up), and checks that both trees give the same verdicts on tampered tokens. --stub-crypto replaces
 * node:crypto's sign and verify by stubs (a fixed 64-byte signature; every signature verifies) after the keys are made:
 * what is left is the JavaScript around them, which the crypto's noise on a loaded machine otherwise hides (both trees
 * make the same sign and verify calls: --count).
 *
 * Not run by bench/run.ts (leading underscore).
 * Run: node --import tsx bench/_tokens-path.ts [--baseline ../main] [--n 2000] [--rounds 6] [--count] [--stub-crypto]
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TokensApi from '../src/tokens/index.js';
import type * as AdapterApi from '../src/oam/tokens-adapter.js';
import type { Jwks, ResultClaimsInput, SigningKey } from '../src/tokens/index.js';
import { benchArgs } from './_args.js';

const root = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const { opt } = benchArgs(argv);
const N = Number(opt('--n') ?? 2000);
const ROUNDS = Number(opt('--rounds') ?? 6);
const BASELINE = opt('--baseline');
const COUNT = argv.includes('--count');
const STUB = argv.includes('--stub-crypto');

const PVE_ISSUER = 'urn:henb-sw-verify:pve';
const OAM_ISSUER = 'urn:henb-sw-verify:oam';

interface Impl {
  name: string;
  tokens: typeof TokensApi;
  adapter: typeof AdapterApi;
}

async function loadImpl(name: string, tree: string): Promise<Impl> {
  const tokens = await import(pathToFileURL(join(tree, 'src/tokens/index.ts')).href) as typeof TokensApi;
  const adapter = await import(pathToFileURL(join(tree, 'src/oam/tokens-adapter.ts')).href) as typeof AdapterApi;
  return { name, tokens, adapter };
}

const hex = (c: string): string => c.repeat(64);
const LOG = ['bootloader', 'kernel', 'rootfs', 'henb-app'].map((component, i) => ({ component, digest: hex('0123456789abcdef'[i + 2]!) }));

function preClaims(henbId: string, jobId: string, nonce: string): ResultClaimsInput {
  return {
    iss: PVE_ISSUER, aud: OAM_ISSUER, sub: henbId, ear_status: 'affirming', ear_verifier_id: { developer: 'henb-sw-verify', build: 'pve/0.1.0' },
    eat_nonce: nonce,
    submods: {
      platform: {
        ear_status: 'affirming', 'job-id': jobId, phase: 'pre-update', 'reported-tim': hex('a'), 'evidence-format': 'software-key',
        'measurement-log': LOG, components: LOG.map((e) => ({ component: e.component, status: 'match', expected: e.digest, reported: e.digest })),
        'software-version': '1.0.0',
      },
    },
  };
}

function postClaims(henbId: string, jobId: string, nonce: string): ResultClaimsInput {
  return {
    iss: PVE_ISSUER, aud: OAM_ISSUER, sub: henbId, ear_status: 'affirming', ear_verifier_id: { developer: 'henb-sw-verify', build: 'pve/0.1.0' },
    eat_nonce: nonce,
    submods: {
      completion: {
        ear_status: 'affirming', 'job-id': jobId, phase: 'post-update', 'evidence-format': 'software-key', 'reported-tim': hex('b'),
        'measurement-log': LOG, 'software-version': '2.0.0',
      },
    },
  };
}

/** one tree's parties: the PVE's key and result signing, the OAM's ResultTokens, the PVE's check of reference values */
interface Parties {
  update(i: number): Promise<void>;
}

function parties(impl: Impl, pveKey: SigningKey, oamKey: SigningKey, pveJwks: Jwks, oamJwks: Jwks): Parties {
  const t = impl.tokens;
  const oam = impl.adapter.createResultTokens({ signingKey: oamKey, pveJwks, replayCache: t.memoryReplayCache({ maxEntries: 10_000_000 }) });
  const pveReplay = t.memoryReplayCache({ maxEntries: 10_000_000 });
  let seq = 0;
  return {
    async update(i: number): Promise<void> {
      const henbId = `henb-${i}`;
      const jobId = `job-${impl.name}-${++seq}`;
      const n1 = t.newNonce();
      const pre = await t.signResult(preClaims(henbId, jobId, n1), pveKey, { ttlSec: 300 });
      const c1 = await oam.verifyPve(pre, n1);
      const n2 = t.newNonce();
      const post = await t.signResult(postClaims(henbId, jobId, n2), pveKey, { ttlSec: 300 });
      const c2 = await oam.verifyPve(post, n2);
      const rv = await oam.signReferenceValues!({ henbId, jobId, values: LOG.map((e) => ({ ...e, version: '2.0.0' })) });
      const v = await t.verifyReferenceValues(rv, { jwks: oamJwks, issuer: OAM_ISSUER, audience: PVE_ISSUER, maxAgeSec: 300, replayCache: pveReplay });
      await oam.signFinal({ sub: henbId, ear_status: 'affirming', submods: { 'software-update': { ear_status: 'affirming', 'job-id': jobId, phase: 'post-update' } } });
      if (c1.sub !== henbId || c2.submods.completion?.['job-id'] !== jobId || v.sub !== henbId) throw new Error('wrong claims');
    },
  };
}

async function cpuPerUpdate(p: Parties, n: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await p.update(i);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

/** calls of crypto sign / verify / createPublicKey / createPrivateKey and JSON.parse / stringify during fn */
async function counted(fn: () => Promise<void>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const c = createRequire(import.meta.url)('node:crypto') as Record<string, (...a: unknown[]) => unknown>;
  const names = ['sign', 'verify', 'createPublicKey', 'createPrivateKey'];
  const orig = names.map((k) => c[k]!);
  const origParse = JSON.parse;
  const origStringify = JSON.stringify;
  names.forEach((k, i) => { c[k] = (...a: unknown[]) => { counts[k] = (counts[k] ?? 0) + 1; return orig[i]!(...a); }; });
  JSON.parse = ((...a: Parameters<typeof JSON.parse>) => { counts['JSON.parse'] = (counts['JSON.parse'] ?? 0) + 1; return origParse(...a); }) as typeof JSON.parse;
  JSON.stringify = ((...a: Parameters<typeof JSON.stringify>) => { counts['JSON.stringify'] = (counts['JSON.stringify'] ?? 0) + 1; return origStringify(...a); }) as typeof JSON.stringify;
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    names.forEach((k, i) => { c[k] = orig[i]!; });
    JSON.parse = origParse;
    JSON.stringify = origStringify;
    syncBuiltinESMExports();
  }
  return counts;
}

/** the verdict (claims sub, or the error code) of each tampered token, per tree: must be the same in both */
async function verdicts(impl: Impl, pveKey: SigningKey, otherKey: SigningKey, pveJwks: Jwks, oamKey: SigningKey): Promise<string[]> {
  const t = impl.tokens;
  const oam = impl.adapter.createResultTokens({ signingKey: oamKey, pveJwks, replayCache: t.memoryReplayCache(), now: () => 1_800_000_000 });
  const nonce = hex('c');
  const sign = (over: Partial<ResultClaimsInput> = {}, key = pveKey): Promise<string> =>
    t.signResult({ ...preClaims('henb-v', 'job-v', nonce), iat: 1_800_000_000 - 10, ...over }, key, { ttlSec: 300 });
  const good = await sign();
  const flip = (s: string): string => `${s.slice(0, -3)}${s.at(-3) === 'A' ? 'B' : 'A'}${s.slice(-2)}`;
  const cases: Array<[string, string, string]> = [
    ['good', good, nonce],
    ['replayed', good, nonce],
    ['bad signature', flip(await sign()), nonce],
    ['wrong key', await sign({}, { ...otherKey, kid: pveKey.kid }), nonce],
    ['unknown kid', await sign({}, otherKey), nonce],
    ['expired', await sign({ iat: 1_800_000_000 - 1000, exp: 1_800_000_000 - 100 }), nonce],
    ['wrong nonce', await sign(), hex('d')],
    ['wrong issuer', await sign({ iss: 'urn:x' }), nonce],
    ['wrong audience', await sign({ aud: 'urn:x' }), nonce],
  ];
  const out: string[] = [];
  for (const [name, tok, n] of cases) {
    out.push(`${name}: ${await oam.verifyPve(tok, n).then((c) => `ok ${c.sub}`, (e: unknown) => String((e as { code?: unknown }).code))}`);
  }
  return out;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  const impls = [await loadImpl('new', root)];
  if (BASELINE !== undefined) impls.push(await loadImpl('old', resolve(BASELINE)));
  const t = impls[0]!.tokens;
  const pveKey = await t.generateSigningKey('ES256', 'pve');
  const retired = await t.generateSigningKey('ES256', 'pve');
  const oamKey = await t.generateSigningKey('ES256', 'oam');
  const otherKey = await t.generateSigningKey('ES256', 'other');
  // as each tree's JwksFile answers them: its parseJwks of the file's JSON, frozen; current key first, one retired key
  const asFile = (impl: Impl, keys: unknown[]): Jwks => {
    const jwks = impl.tokens.parseJwks(JSON.parse(JSON.stringify({ keys })));
    Object.freeze(jwks.keys);
    return Object.freeze(jwks);
  };
  if (STUB) {
    const c = createRequire(import.meta.url)('node:crypto') as Record<string, unknown>;
    const sig = Buffer.alloc(64, 0x11);
    c.sign = (): Buffer => Buffer.from(sig);
    c.verify = (): boolean => true;
    syncBuiltinESMExports();
  }
  const ps = impls.map((impl) => parties(impl, pveKey, oamKey, asFile(impl, [pveKey.publicJwk, retired.publicJwk]), asFile(impl, [oamKey.publicJwk])));
  for (const p of ps) await cpuPerUpdate(p, Math.min(N, 300)); // warm-up

  if (COUNT && !STUB) {
    for (const [i, impl] of impls.entries()) {
      const c = await counted(() => ps[i]!.update(1));
      console.log(`${impl.name}: per update ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    const vs = await Promise.all(impls.map((impl) => verdicts(impl, pveKey, otherKey, asFile(impl, [pveKey.publicJwk, retired.publicJwk]), oamKey)));
    for (const [i, impl] of impls.entries()) console.log(`${impl.name} verdicts: ${vs[i]!.join('; ')}`);
    if (vs.length === 2 && vs[0]!.join() !== vs[1]!.join()) { console.log('VERDICTS DIFFER'); process.exitCode = 1; }
  }

  const per: number[][] = impls.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    const order = impls.length === 1 ? [0] : r % 2 === 0 ? [0, 1, 1, 0] : [1, 0, 0, 1];
    const got: number[][] = impls.map(() => []);
    for (const k of order) got[k]!.push(await cpuPerUpdate(ps[k]!, N));
    got.forEach((g, k) => per[k]!.push(g.reduce((a, b) => a + b, 0) / g.length));
    console.log(`round ${r + 1}: ${impls.map((impl, k) => `${impl.name} ${per[k]!.at(-1)!.toFixed(1)} us/update`).join(', ')}`);
  }
  for (const [k, impl] of impls.entries()) console.log(`${impl.name}: median ${median(per[k]!).toFixed(1)} us CPU per update (${N} updates x ${ROUNDS} rounds)`);
  if (impls.length === 2) {
    const ratios = per[0]!.map((v, r) => v / per[1]![r]!);
    console.log(`new/old: median ${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`);
  }
}

await main();
