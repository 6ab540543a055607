import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, memoryReplayCache, newNonce, signResult, verifyResult } from '../../src/tokens/index.js';
import type { SigningKey, VerifyOptions , TokenError} from '../../src/tokens/index.js';
import { AUD, ISS, claims } from './helpers.js';
import { toLowS } from '../../src/tokens/low-s.js';

const NOW = 1_800_000_000;
const code = (c: string): unknown => expect.objectContaining({ code: c });

function opts(key: SigningKey, over: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    jwks: { keys: [key.publicJwk] },
    issuer: ISS,
    audience: AUD,
    maxAgeSec: 300,
    replayCache: memoryReplayCache({ now: () => NOW }),
    now: () => NOW,
    ...over,
  };
}

function b64(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

describe('verifyResult', () => {
  it.each(['ES256', 'EdDSA'] as const)('accepts a good %s token and returns claims and header', async (alg) => {
    const key = await generateSigningKey(alg);
    const nonce = newNonce();
    const token = await signResult(claims({ eat_nonce: nonce }), key, { now: () => NOW - 10 });
    const r = await verifyResult(token, opts(key, { expectedNonce: nonce, keys: [] }));
    expect(r.header).toEqual({ alg, kid: key.kid, typ: 'eat+jwt' });
    expect(r.claims.sub).toBe('henb-1');
    expect(r.claims.submods['software-update']?.phase).toBe('post-update');
  });

  it('accepts keys given as a list and aud as a list', async () => {
    const key = await generateSigningKey();
    const token = await signResult(claims({ aud: ['x', AUD] }), key, { now: () => NOW });
    await expect(verifyResult(token, opts(key, { jwks: undefined, keys: [key.publicJwk] }))).resolves.toBeTruthy();
  });

  it('refuses alg none and HMAC before touching a key', async () => {
    const key = await generateSigningKey();
    const payload = b64({ ...claims(), iat: NOW, exp: NOW + 100, jti: 'x', eat_profile: 'p' });
    const none = `${b64({ alg: 'none', typ: 'eat+jwt', kid: key.kid })}.${payload}.AA`;
    await expect(verifyResult(none, opts(key))).rejects.toThrow(code('ERR_TOKEN_ALG_NOT_ALLOWED'));
    const hs = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256', typ: 'eat+jwt', kid: key.kid })
      .sign(new TextEncoder().encode('k'.repeat(32)));
    await expect(verifyResult(hs, opts(key))).rejects.toThrow(code('ERR_TOKEN_ALG_NOT_ALLOWED'));
  });

  it('honours a narrower allow-list', async () => {
    const key = await generateSigningKey('ES256');
    const token = await signResult(claims(), key, { now: () => NOW });
    await expect(verifyResult(token, opts(key, { algorithms: ['EdDSA'] }))).rejects.toThrow(code('ERR_TOKEN_ALG_NOT_ALLOWED'));
  });

  it('refuses another typ, a crit header and garbage', async () => {
    const key = await generateSigningKey();
    const jwt = await new SignJWT({ ...claims() }).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
    await expect(verifyResult(jwt, opts(key))).rejects.toThrow(code('ERR_TOKEN_TYP'));
    const noTyp = await new SignJWT({ ...claims() }).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);
    await expect(verifyResult(noTyp, opts(key))).rejects.toThrow(code('ERR_TOKEN_TYP'));
    for (const g of ['', 'a.b', 'a.b.c.d', '!!.??.**', `${b64('x').slice(0, 3)}.e30.AA`]) {
      await expect(verifyResult(g, opts(key))).rejects.toThrow(code('ERR_TOKEN_MALFORMED'));
    }
  });

  it('answers a bad signature with one code and one message, whatever the cause', async () => {
    const key = await generateSigningKey();
    const impostor = await generateSigningKey();
    const good = await signResult(claims(), key, { now: () => NOW });
    const [h, p, s] = good.split('.') as [string, string, string];
    const tamperedPayload = `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'henb-evil' })}.${s}`;
    const forged = await new SignJWT({ ...claims(), iat: NOW, exp: NOW + 60, jti: 'f' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'eat+jwt' }).sign(impostor.privateKey);
    const flipped = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const errors: TokenError[] = [];
    for (const t of [tamperedPayload, forged, flipped]) {
      try {
        await verifyResult(t, opts(key));
      } catch (e) {
        errors.push(e as TokenError);
      }
    }
    expect(errors).toHaveLength(3);
    expect(new Set(errors.map((e) => `${e.code}|${e.message}`))).toEqual(new Set(['ERR_TOKEN_SIGNATURE|token signature verification failed']));
  });

  it('refuses an unknown kid', async () => {
    const key = await generateSigningKey();
    const other = await generateSigningKey();
    const token = await signResult(claims(), key, { now: () => NOW });
    await expect(verifyResult(token, opts(other))).rejects.toThrow(code('ERR_TOKEN_KEY_UNKNOWN'));
  });

  it('checks issuer, audience, exp, iat, max age and nonce with distinct codes', async () => {
    const key = await generateSigningKey();
    const sign = (c = claims(), at = NOW): Promise<string> => signResult(c, key, { now: () => at });
    await expect(verifyResult(await sign(), opts(key, { issuer: 'urn:other' }))).rejects.toThrow(code('ERR_TOKEN_ISSUER'));
    await expect(verifyResult(await sign(), opts(key, { audience: 'urn:other' }))).rejects.toThrow(code('ERR_TOKEN_AUDIENCE'));
    await expect(verifyResult(await sign(claims({ iat: NOW - 100, exp: NOW - 40 })), opts(key))).rejects.toThrow(code('ERR_TOKEN_EXPIRED'));
    await expect(verifyResult(await sign(claims({ iat: NOW + 100, exp: NOW + 200 })), opts(key))).rejects.toThrow(code('ERR_TOKEN_NOT_YET_VALID'));
    await expect(verifyResult(await sign(claims({ iat: NOW - 1000, exp: NOW + 1000 })), opts(key))).rejects.toThrow(code('ERR_TOKEN_TOO_OLD'));
    await expect(verifyResult(await sign(), opts(key, { expectedNonce: newNonce() }))).rejects.toThrow(code('ERR_TOKEN_NONCE'));
    const noNonce = claims();
    delete noNonce.eat_nonce;
    await expect(verifyResult(await sign(noNonce), opts(key, { expectedNonce: newNonce() }))).rejects.toThrow(code('ERR_TOKEN_NONCE'));
    // within the 30 s tolerance
    await expect(verifyResult(await sign(claims({ iat: NOW - 100, exp: NOW - 10 })), opts(key))).resolves.toBeTruthy();
  });

  it('refuses a replayed jti, and only remembers tokens that passed everything else', async () => {
    const key = await generateSigningKey();
    const cache = memoryReplayCache({ now: () => NOW });
    const token = await signResult(claims(), key, { now: () => NOW });
    await expect(verifyResult(token, opts(key, { replayCache: cache, audience: 'urn:other' }))).rejects.toThrow(code('ERR_TOKEN_AUDIENCE'));
    expect(cache.size).toBe(0);
    await verifyResult(token, opts(key, { replayCache: cache }));
    await expect(verifyResult(token, opts(key, { replayCache: cache }))).rejects.toThrow(code('ERR_TOKEN_REPLAY'));
  });

  it('refuses another eat_profile and a malformed submod even when signed', async () => {
    const key = await generateSigningKey();
    const t1 = await signResult(claims({ eat_profile: 'tag:github.com,2023:veraison/ear' }), key, { now: () => NOW });
    await expect(verifyResult(t1, opts(key))).rejects.toThrow(code('ERR_TOKEN_CLAIMS'));
    // signed outside signResult (which refuses such claims); low-S, so that only the claims are wrong
    const t2 = toLowS(await new SignJWT({ ...claims(), iat: NOW, exp: NOW + 60, jti: 'j', eat_profile: 'x', ear_status: 'yes' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'eat+jwt' }).sign(key.privateKey), 'ES256');
    await expect(verifyResult(t2, opts(key))).rejects.toThrow(code('ERR_TOKEN_CLAIMS'));
  });

  it('fails closed without a replay cache or keys', async () => {
    const key = await generateSigningKey();
    const token = await signResult(claims(), key, { now: () => NOW });
    await expect(verifyResult(token, opts(key, { replayCache: undefined as never }))).rejects.toThrow(code('ERR_TOKEN_REPLAY'));
    await expect(verifyResult(token, opts(key, { jwks: { keys: [] } }))).rejects.toThrow(code('ERR_TOKEN_JWKS'));
    await expect(verifyResult(token, opts(key, { keys: [{ ...key.publicJwk, d: 'secret' } as never] }))).rejects.toThrow(code('ERR_TOKEN_JWKS'));
  });
});
