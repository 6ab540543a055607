/**
 * Fuzzing the TPM evidence parsers and the appraisal with fast-check: random octets, truncations at every
 * length, flipped octets and size/count fields overwritten with huge values. Every input ends in a result
 * (`ok: false` with a reason, or a contraindicated appraisal), never an exception; a changed quote or
 * signature is never affirming, and a changed log is affirming only when what it measures did not change.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAkPublic, parseEventLog, parsePublic, parseQuoteAttest, parseSignature, verifyQuote } from '../../../src/integrity/tpm/index.js';
import type { ParseResult } from '../../../src/integrity/tpm/index.js';
import { ipl, makeAk, sha256, softQuote } from '../../helpers/tpm-structures.js';

const nonce = Buffer.alloc(16, 0x5a);
const boot = [ipl('bootloader', 'b'), ipl('kernel', 'k'), ipl('rootfs', 'r')];
const refs = { bootloader: [sha256('b').toString('hex')], kernel: [sha256('k').toString('hex')], rootfs: [sha256('r').toString('hex')] };
const ecc = makeAk('ecc');
const rsa = makeAk('rsa');
const quotes = { ecc: softQuote(ecc, nonce, boot), rsa: softQuote(rsa, nonce, boot) };
const parsers: Record<string, (b: Uint8Array) => ParseResult<unknown>> = { parseQuoteAttest, parseSignature, parsePublic, parseAkPublic, parseEventLog };

function isResult(r: ParseResult<unknown>): boolean {
  return r.ok === true || (r.ok === false && typeof r.reason === 'string' && r.reason.length > 0);
}

/** A mutation of `base`: truncate, flip one octet, or overwrite 1/2/4 octets with 0xff.. (huge sizes/counts). */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), width: fc.constantFrom(1, 2, 4), value: fc.constantFrom(0xff, 0x7f, 0x80, 0x00) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(base: Buffer, m: Mutation): Buffer {
  const at = base.length === 0 ? 0 : m.at % base.length;
  if (m.kind === 'truncate') return base.subarray(0, at);
  if (m.kind === 'insert') return Buffer.concat([base.subarray(0, at), Buffer.from(m.bytes), base.subarray(at)]);
  const b = Buffer.from(base);
  if (m.kind === 'flip') b[at]! ^= 1 << m.bit;
  else for (let i = 0; i < m.width && at + i < b.length; i++) b[at + i] = m.value;
  return b;
}

describe('TPM parsers never throw', () => {
  it('on random octets', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      for (const p of Object.values(parsers)) expect(isResult(p(bytes))).toBe(true);
    }), { numRuns: 400 });
  });

  it('on every truncation of valid structures (all refused, except a log cut between events)', () => {
    const valid = { parseQuoteAttest: quotes.ecc.attest, parseSignature: quotes.rsa.signature, parsePublic: rsa.public, parseEventLog: quotes.ecc.log };
    for (const [name, base] of Object.entries(valid)) {
      const parse = parsers[name]!;
      for (let n = 0; n < base.length; n++) {
        const r = parse(base.subarray(0, n));
        expect(isResult(r)).toBe(true);
        if (name !== 'parseEventLog') expect(r.ok, `${name} of ${n} octets`).toBe(false);
      }
    }
  });

  it('on mutated valid structures', () => {
    const bases = [quotes.ecc.attest, quotes.ecc.signature, quotes.rsa.signature, ecc.public, rsa.public, quotes.ecc.log];
    fc.assert(fc.property(fc.constantFrom(...bases), mutation, (base, m) => {
      const b = mutate(base, m);
      for (const p of Object.values(parsers)) expect(isResult(p(b))).toBe(true);
    }), { numRuns: 1500 });
  });
});

describe('verifyQuote never throws and never affirms changed evidence', () => {
  it('a changed quote (TPMS_ATTEST) or signature is contraindicated', () => {
    fc.assert(fc.property(fc.constantFrom('ecc' as const, 'rsa' as const), fc.constantFrom('attest' as const, 'signature' as const), mutation, (kind, part, m) => {
      const q = quotes[kind];
      const changed = mutate(q[part], m);
      fc.pre(!changed.equals(q[part]));
      const r = verifyQuote({ evidence: { ...q, [part]: changed }, nonce, ak: (kind === 'ecc' ? ecc : rsa).public, referenceValues: refs });
      expect(r.status).toBe('contraindicated');
      expect(r.reason).toBeTruthy();
    }), { numRuns: 600 });
  });

  it('a changed log is contraindicated unless what it measures stayed the same', () => {
    const original = verifyQuote({ evidence: quotes.ecc, nonce, ak: ecc.public, referenceValues: refs });
    expect(original.status).toBe('affirming');
    fc.assert(fc.property(mutation, (m) => {
      const log = mutate(quotes.ecc.log, m);
      fc.pre(!log.equals(quotes.ecc.log));
      const r = verifyQuote({ evidence: { ...quotes.ecc, log }, nonce, ak: ecc.public, referenceValues: refs });
      if (r.status === 'affirming') {
        // only fields that are not measured (platform class, errata) may change without effect
        expect(r.measurements).toEqual(original.measurements);
        expect(r.pcrs).toEqual(original.pcrs);
      } else expect(r.reason).toBeTruthy();
    }), { numRuns: 800 });
  });

  it('random octets in every part are contraindicated', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (attest, signature, log) => {
      const r = verifyQuote({ evidence: { attest, signature, log }, nonce, ak: ecc.public, referenceValues: refs });
      expect(r.status).toBe('contraindicated');
    }), { numRuns: 300 });
  });
});
