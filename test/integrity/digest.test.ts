import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IntegrityError, ZERO_DIGEST, digestsEqual, expectedRim, extend, isDigestHex, normalizeDigest, sha256Hex } from '../../src/integrity/index.js';

// Vectors computed by hand with coreutils/openssl:
//   printf abc | sha256sum
//   echo -n "$ZERO$ABC" | xxd -r -p | sha256sum                  (extend(0, sha256("abc")))
//   echo -n "$E1$EMPTY" | xxd -r -p | openssl dgst -sha256       (extend(E1, sha256("")))
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const E1 = '589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d';
const E2 = 'ef6a5fdbba9e14e07fa74d23b7ae639d146ce41635cf3fe44315988c4cbd0caf';

function opensslSha256(data: Buffer): string {
  const out = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: data }).toString();
  return out.slice(0, 64);
}

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 vectors', () => {
    expect(sha256Hex('abc')).toBe(ABC);
    expect(sha256Hex(new Uint8Array())).toBe(EMPTY);
  });
  it('agrees with openssl on random data', () => {
    const data = randomBytes(10_000);
    expect(sha256Hex(data)).toBe(opensslSha256(data));
  });
});

describe('extend (TCG PCR extend over raw bytes)', () => {
  it('matches vectors computed with sha256sum/openssl', () => {
    expect(extend(ZERO_DIGEST, ABC)).toBe(E1);
    expect(extend(E1, EMPTY)).toBe(E2);
  });
  it('hashes the 64 raw bytes, not the hex text, and agrees with openssl for random values', () => {
    const old = sha256Hex(randomBytes(16));
    const d = sha256Hex(randomBytes(16));
    const viaOpenssl = opensslSha256(Buffer.concat([Buffer.from(old, 'hex'), Buffer.from(d, 'hex')]));
    expect(extend(old, d)).toBe(viaOpenssl);
    expect(extend(old, d)).not.toBe(sha256Hex(old + d));
  });
  it('accepts upper-case hex and answers lower-case', () => {
    expect(extend(ZERO_DIGEST, ABC.toUpperCase())).toBe(E1);
  });
  it('refuses digests that are not 64 hex chars with ERR_INTEGRITY_DIGEST', () => {
    for (const bad of ['', 'abc', ABC.slice(1), ABC + '0', 'g'.repeat(64), ' ' + ABC.slice(1)]) {
      expect(() => extend(ZERO_DIGEST, bad)).toThrow(IntegrityError);
      try {
        extend(bad, ABC);
      } catch (e) {
        expect((e as IntegrityError).code).toBe('ERR_INTEGRITY_DIGEST');
      }
    }
  });
  it('is order-sensitive', () => {
    expect(extend(extend(ZERO_DIGEST, ABC), EMPTY)).not.toBe(extend(extend(ZERO_DIGEST, EMPTY), ABC));
  });
});

describe('expectedRim', () => {
  it('is extend(current RIM, software RIM); a never-measured H(e)NB starts from zero', () => {
    expect(expectedRim(ZERO_DIGEST, ABC)).toBe(E1);
    expect(expectedRim(null, ABC)).toBe(E1);
    expect(expectedRim(E1, EMPTY)).toBe(E2);
  });
});

describe('digest helpers', () => {
  it('isDigestHex / normalizeDigest / digestsEqual', () => {
    expect(isDigestHex(ABC)).toBe(true);
    expect(isDigestHex(42)).toBe(false);
    expect(normalizeDigest(ABC.toUpperCase())).toBe(ABC);
    expect(() => normalizeDigest('zz')).toThrow(/64 hex/);
    expect(digestsEqual(ABC, ABC.toUpperCase())).toBe(true);
    expect(digestsEqual(ABC, EMPTY)).toBe(false);
    expect(digestsEqual(ABC, 'nope')).toBe(false);
  });
});
