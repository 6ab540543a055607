/**
 * Token speed: signResult / verifyResult (jose, with claim checks and a jti replay cache) against raw node:crypto
 * sign / verify of the same signing input, measured in the same run for ES256 and EdDSA. The four measurements are
 * interleaved over 3 rounds of fixed time windows (default 0.5 s) and the best round of each is reported, which
 * damps the noise of a shared machine; the whole run takes about 15 s. jose is driven with 16 operations in flight
 * (it uses WebCrypto, which runs on the libuv thread pool); raw node:crypto is synchronous on the main thread.
 *
 * Run: node --import tsx bench/tokens.ts [--seconds 1]
 */
import { sign as rawSign, verify as rawVerify, createPublicKey } from 'node:crypto';
import { parseArgs } from 'node:util';
import { generateSigningKey, memoryReplayCache, signResult, verifyResult } from '../src/tokens/index.js';
import type { ResultClaimsInput, SigningAlg, SigningKey } from '../src/tokens/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '0.5' } } });
const ROUNDS = 3;
const WINDOW_MS = Number(values.seconds) * 1000;
const IN_FLIGHT = 16;

const claims: ResultClaimsInput = {
  iss: 'urn:bench:oam', aud: 'urn:bench:nms', sub: 'henb-1', ear_status: 'affirming', eat_nonce: 'a'.repeat(64),
  ear_verifier_id: { developer: 'henb-sw-verify', build: 'bench' },
  submods: { 'software-update': { ear_status: 'affirming', 'job-id': 'job-1', phase: 'post-update', 'software-rim': '1'.repeat(64), 'expected-rim': '2'.repeat(64), 'reported-tim': '2'.repeat(64) } },
};

async function rateAsync(op: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (performance.now() - t0 < WINDOW_MS) {
      await op();
      n++;
    }
  }));
  return n / ((performance.now() - t0) / 1000);
}

function rateSync(op: () => unknown): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < WINDOW_MS) {
    for (let i = 0; i < 50; i++) op();
    n += 50;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function bench(alg: SigningAlg): Promise<void> {
  const key: SigningKey = await generateSigningKey(alg);
  const pub = createPublicKey(key.privateKey);
  const token = await signResult(claims, key);
  const [h, p, s] = token.split('.') as [string, string, string];
  const input = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const digest = alg === 'ES256' ? 'sha256' : null;
  const opts = alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {};

  let jti = 0;
  const pool = await Promise.all(Array.from({ length: 2000 }, (_, i) => signResult({ ...claims, jti: `v-${i}` }, key)));
  let cache = memoryReplayCache();
  let next = 0;
  let rawSignRate = 0;
  let rawVerifyRate = 0;
  let signRate = 0;
  let verifyRate = 0;
  for (let round = 0; round < ROUNDS; round++) {
    rawSignRate = Math.max(rawSignRate, rateSync(() => rawSign(digest, input, { key: key.privateKey, ...opts })));
    signRate = Math.max(signRate, await rateAsync(() => signResult({ ...claims, jti: `j-${jti++}` }, key)));
    rawVerifyRate = Math.max(rawVerifyRate, rateSync(() => {
      if (!rawVerify(digest, input, { key: pub, ...opts }, sig)) throw new Error('raw verify failed');
    }));
    // distinct tokens (distinct jti), verified with a replay cache that is renewed every pass over the pool
    verifyRate = Math.max(verifyRate, await rateAsync(async () => {
      if (next === pool.length) { next = 0; cache = memoryReplayCache(); }
      const t = pool[next++] as string;
      await verifyResult(t, { keys: [key.publicJwk], issuer: claims.iss, audience: 'urn:bench:nms', maxAgeSec: 3600, replayCache: cache });
    }));
  }

  const fmt = (x: number): string => x.toFixed(0).padStart(8);
  console.log(`${alg.padEnd(6)} sign  ${fmt(signRate)}/s  raw ${fmt(rawSignRate)}/s  ratio ${(signRate / rawSignRate).toFixed(2)}`);
  console.log(`${alg.padEnd(6)} verify${fmt(verifyRate)}/s  raw ${fmt(rawVerifyRate)}/s  ratio ${(verifyRate / rawVerifyRate).toFixed(2)}`);
}

console.log(`tokens: jose signResult/verifyResult (${IN_FLIGHT} in flight) vs raw node:crypto, best of ${ROUNDS} rounds of ${WINDOW_MS} ms windows, node ${process.version}`);
await bench('ES256');
await bench('EdDSA');
