/**
 * The verification path per token (issue 15, branch tokcut): a key set that cannot change (parseJwks' frozen keys in a
 * frozen list, as a JwksFile answers it) is parsed once for all its verifications, while every token's signature and
 * claims are still checked; the protected header is decoded without jose, to the same verdicts as jose's
 * decodeProtectedHeader; low-S is decided on the signature's bytes, as the BigInt arithmetic decided it.
 */
import { decodeProtectedHeader } from 'jose';
import type * as Jose from 'jose';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { generateSigningKey, memoryReplayCache, newNonce, parseJwks, signResult, verifyResult } from '../../src/tokens/index.js';
import type { Jwks, SigningKey, VerifyOptions } from '../../src/tokens/index.js';
import * as keysModule from '../../src/tokens/keys.js';
import type * as Keys from '../../src/tokens/keys.js';
import { isHighS, toLowS } from '../../src/tokens/low-s.js';
import { AUD, ISS, claims } from './helpers.js';

vi.mock('../../src/tokens/keys.js', async (importOriginal) => {
  const m = await importOriginal<typeof Keys>();
  return { ...m, parsePublicJwk: vi.fn(m.parsePublicJwk) };
});
vi.mock('jose', async (importOriginal) => {
  const m = await importOriginal<typeof Jose>();
  return { ...m, decodeProtectedHeader: vi.fn(m.decodeProtectedHeader) };
});

const NOW = 1_800_000_000;
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const parseKey = vi.mocked(keysModule.parsePublicJwk);
const joseHeader = vi.mocked(decodeProtectedHeader);

/** a key set as a JwksFile answers it: parseJwks of the file's JSON, list and set frozen */
function asFile(...keys: SigningKey[]): Jwks {
  const jwks = parseJwks(JSON.parse(JSON.stringify({ keys: keys.map((k) => k.publicJwk) })));
  Object.freeze(jwks.keys);
  return Object.freeze(jwks);
}

function opts(jwks: Jwks, over: Partial<VerifyOptions> = {}): VerifyOptions {
  return { jwks, issuer: ISS, audience: AUD, maxAgeSec: 300, replayCache: memoryReplayCache({ now: () => NOW }), now: () => NOW, ...over };
}

const verdict = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => String((e as { code?: unknown }).code));

describe('verification with a key set that cannot change', () => {
  beforeEach(() => {
    parseKey.mockClear();
  });

  it('parseJwks answers frozen keys', () => {
    const jwks = parseJwks({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'k' }] });
    expect(Object.isFrozen(jwks.keys[0])).toBe(true);
  });

  it('parses the set once for many tokens, and still checks every token: bad signature, wrong key, unknown kid, expired, wrong nonce, high-S', async () => {
    const key = await generateSigningKey();
    const retired = await generateSigningKey();
    const other = await generateSigningKey();
    const jwks = asFile(key, retired);
    parseKey.mockClear();
    const replayCache = memoryReplayCache({ now: () => NOW });
    const nonce = newNonce();
    const sign = (over = {}, k: SigningKey = key): Promise<string> => signResult(claims({ eat_nonce: nonce, ...over }), k, { now: () => NOW - 10 });
    const check = (token: string, n = nonce): Promise<string> => verdict(verifyResult(token, opts(jwks, { replayCache, expectedNonce: n })));
    const good = await sign();
    const [h, p, s] = good.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    const flipped = Buffer.from(sig);
    flipped[10] = (flipped[10] ?? 0) ^ 1;
    // the high-S twin of the good (low-S) signature: node:crypto would accept it
    const highS = `${h}.${p}.${Buffer.concat([sig.subarray(0, 32), Buffer.from((P256_N - BigInt(`0x${sig.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0'), 'hex')]).toString('base64url')}`;
    const verdicts = [
      await check(good),
      await check(`${h}.${p}.${flipped.toString('base64url')}`),
      await check(await sign({}, { ...other, kid: key.kid })),
      await check(await sign({}, other)),
      await check(await sign({ iat: NOW - 1000, exp: NOW - 100 })),
      await check(await sign(), newNonce()),
      await check(highS),
      await check(await sign({ iss: 'urn:x' })),
      await check(await sign({ aud: 'urn:x' })),
      await check(good),
      await check(await sign({}, retired)),
    ];
    expect(verdicts).toEqual([
      'ok', 'ERR_TOKEN_SIGNATURE', 'ERR_TOKEN_SIGNATURE', 'ERR_TOKEN_KEY_UNKNOWN', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_NONCE', 'ERR_TOKEN_SIGNATURE',
      'ERR_TOKEN_ISSUER', 'ERR_TOKEN_AUDIENCE', 'ERR_TOKEN_REPLAY', 'ok',
    ]);
    // 11 verifications, two keys: each key parsed once
    expect(parseKey).toHaveBeenCalledTimes(2);
  });

  it('a key list that may change (not frozen) is read anew for each token: a key taken out is unknown at once', async () => {
    const key = await generateSigningKey();
    const jwks: Jwks = { keys: [{ ...key.publicJwk }] };
    expect(await verdict(verifyResult(await signResult(claims(), key, { now: () => NOW }), opts(jwks)))).toBe('ok');
    jwks.keys[0]!.kid = 'gone';
    expect(await verdict(verifyResult(await signResult(claims(), key, { now: () => NOW }), opts(jwks)))).toBe('ERR_TOKEN_KEY_UNKNOWN');
    jwks.keys.pop();
    expect(await verdict(verifyResult(await signResult(claims(), key, { now: () => NOW }), opts(jwks)))).toBe('ERR_TOKEN_JWKS');
  });
});

describe('the protected header', () => {
  const enc = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
  const good = enc(JSON.stringify({ alg: 'ES256', typ: 'eat+jwt', kid: 'k' }));
  const headers: Array<[string, string]> = [
    ['good', good],
    ['a leading BOM', enc(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'eat+jwt', kid: 'k' }))]))],
    ['invalid UTF-8', enc(Buffer.concat([Buffer.from('{"alg":"ES256","typ":"eat+jwt","x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]))],
    ['length 1 mod 4', good + 'A'.repeat((5 - good.length % 4) % 4)],
    ['a list', enc('[1]')],
    ['null', enc('null')],
    ['a number', enc('1')],
    ['a string', enc('"x"')],
    ['not JSON', enc('{alg:ES256}')],
    ['trailing garbage bits', `${good.slice(0, -1)}${good.at(-1) === 'Q' ? 'R' : 'Q'}`],
  ];

  it.each(headers)('%s: refused as malformed exactly when jose\'s decodeProtectedHeader refuses it', async (_name, head) => {
    const key = await generateSigningKey();
    const token = `${head}.${enc('{}')}.${enc('x')}`;
    let joseRefuses = false;
    try {
      decodeProtectedHeader(token);
    } catch {
      joseRefuses = true;
    }
    const code = await verdict(verifyResult(token, opts({ keys: [key.publicJwk] })));
    expect(code === 'ERR_TOKEN_MALFORMED').toBe(joseRefuses);
  });

  it('is decoded without jose', async () => {
    const key = await generateSigningKey();
    const token = await signResult(claims(), key, { now: () => NOW });
    joseHeader.mockClear();
    expect(await verdict(verifyResult(token, opts({ keys: [key.publicJwk] })))).toBe('ok');
    expect(joseHeader).not.toHaveBeenCalled();
  });
});

describe('low-S on the bytes', () => {
  const N = P256_N;
  const bytes = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
  const r = Buffer.alloc(32, 7);

  it.each([
    ['1', 1n], ['n/2 - 1', (N >> 1n) - 1n], ['n/2', N >> 1n], ['n/2 + 1', (N >> 1n) + 1n], ['n - 1', N - 1n],
    ['2^255', 1n << 255n], ['2^255 - 1', (1n << 255n) - 1n],
  ])('s = %s: high exactly when s > n/2, and normalised to n - s', (_name, s) => {
    const sig = Buffer.concat([r, bytes(s)]);
    expect(isHighS(sig)).toBe(s > N >> 1n);
    const token = `a.b.${sig.toString('base64url')}`;
    const low = Buffer.from(toLowS(token, 'ES256').split('.')[2]!, 'base64url');
    expect(low.subarray(0, 32)).toEqual(r);
    expect(low.subarray(32)).toEqual(bytes(s > N >> 1n ? N - s : s));
  });

  it('agrees with the BigInt arithmetic on 1,000 random values of s', async () => {
    const { randomBytes } = await import('node:crypto');
    const disagree: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = BigInt(`0x${randomBytes(32).toString('hex')}`) % N;
      const sig = Buffer.concat([r, bytes(s)]);
      const low = Buffer.from(toLowS(`a.b.${sig.toString('base64url')}`, 'ES256').split('.')[2]!, 'base64url').subarray(32);
      if (isHighS(sig) !== s > N >> 1n || !low.equals(bytes(s > N >> 1n ? N - s : s))) disagree.push(s.toString(16));
    }
    expect(disagree).toEqual([]);
  });
});
