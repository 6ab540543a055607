/**
 * Table tests of the TPM structure parsers (src/integrity/tpm): each malformed structure is a typed
 * `{ ok: false, reason }` naming what is wrong, never an exception.
 */
import { describe, expect, it } from 'vitest';
import { EV, TPM_ALG, encodeEventLog, parseAkPublic, parseEventLog, parsePublic, parseQuoteAttest, parseSignature, replayPcrs, specIdEvent } from '../../../src/integrity/tpm/index.js';
import { encodeAttest, ipl, makeAk, sha256, signAttest } from '../../helpers/tpm-structures.js';

const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
const le32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const le16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };

const attest = encodeAttest({ extraData: Buffer.alloc(16, 1), selection: [[TPM_ALG.SHA256, [9]]], pcrDigest: Buffer.alloc(32, 2), resetCount: 5, restartCount: 2 });
/** offset of the TPML_PCR_SELECTION count: magic 4, type 2, signer 2+34, extra 2+16, clock 17, fw 8 */
const SEL = 4 + 2 + 36 + 18 + 17 + 8;

function refused(r: { ok: boolean; reason?: string }, reason: RegExp): void {
  expect(r.ok).toBe(false);
  expect((r as { reason: string }).reason).toMatch(reason);
}

describe('parseQuoteAttest', () => {
  it('reads every field', () => {
    const r = parseQuoteAttest(attest);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.clockInfo).toEqual({ clock: 123456n, resetCount: 5, restartCount: 2, safe: true });
    expect(r.value.firmwareVersion).toBe(0x2019102300163636n);
    expect(r.value.pcrSelect).toEqual([{ hashAlg: TPM_ALG.SHA256, pcrs: [9] }]);
    expect(r.value.extraData).toEqual(Buffer.alloc(16, 1));
    expect(r.value.raw).toEqual(attest);
  });
  const patched = (at: number, bytes: Buffer): Buffer => { const b = Buffer.from(attest); bytes.copy(b, at); return b; };
  it.each([
    ['empty', Buffer.alloc(0), /truncated at magic/],
    ['wrong magic', patched(0, u32(0xff545678)), /magic 0xff545678/],
    ['neither magic nor a TPM2B size', patched(0, u32(0x12345678)), /TPM2B_ATTEST: size 4660/],
    ['not a quote', patched(4, u16(0x8017)), /TPM_ST_ATTEST_QUOTE/],
    ['truncated in the clock', attest.subarray(0, 70), /truncated at clockInfo/],
    ['qualifiedSigner larger than a name', patched(6, u16(300)), /qualifiedSigner is 300 octets/],
    ['extraData larger than TPM2B_DATA', patched(42, u16(0x4000)), /extraData is 16384 octets/],
    ['safe is neither YES nor NO', patched(SEL - 9, Buffer.from([7])), /safe is 7/],
    ['a huge PCR bank count', patched(SEL, u32(0xffffffff)), /4294967295 banks/],
    ['sizeofSelect beyond PCR_SELECT_MAX', patched(SEL + 6, Buffer.from([200])), /sizeofSelect 200/],
    ['pcrDigest longer than any digest', patched(attest.length - 34, u16(65)), /pcrDigest is 65 octets/],
    ['trailing octets', Buffer.concat([attest, Buffer.from([0])]), /1 trailing octets/],
    ['one bank twice', encodeAttest({ extraData: Buffer.alloc(1), selection: [[TPM_ALG.SHA256, [1]], [TPM_ALG.SHA256, [2]]], pcrDigest: Buffer.alloc(32) }), /selected twice/],
  ])('%s', (_n, octets, reason) => refused(parseQuoteAttest(octets), reason));
});

describe('parseSignature', () => {
  const ak = makeAk('ecc');
  const good = signAttest(ak, attest);
  it('reads an ECDSA signature', () => {
    const r = parseSignature(good);
    expect(r.ok && r.value.sigAlg).toBe('ecdsa');
  });
  it.each([
    ['empty', Buffer.alloc(0), /truncated at sigAlg/],
    ['an HMAC signature', Buffer.concat([u16(0x0005), good.subarray(2)]), /scheme 0x0005 is not accepted/],
    ['an ECDAA signature', Buffer.concat([u16(TPM_ALG.ECDAA), good.subarray(2)]), /ecdaa is not accepted/],
    ['a NULL signature', u16(TPM_ALG.NULL), /null is not accepted/],
    ['SHA-1', Buffer.concat([good.subarray(0, 2), u16(TPM_ALG.SHA1), good.subarray(4)]), /sha1 is not accepted/],
    ['r larger than any curve', Buffer.concat([good.subarray(0, 4), u16(0xffff)]), /signatureR is 65535 octets/],
    ['truncated s', good.subarray(0, good.length - 1), /truncated at signatureS/],
    ['trailing octets', Buffer.concat([good, Buffer.alloc(2)]), /2 trailing octets/],
    ['an RSA signature of 4097 octets', Buffer.concat([u16(TPM_ALG.RSASSA), u16(TPM_ALG.SHA256), u16(4097)]), /sig is 4097 octets/],
  ])('%s', (_n, octets, reason) => refused(parseSignature(octets), reason));
});

describe('parsePublic / parseAkPublic', () => {
  const ecc = makeAk('ecc').public;
  const rsa = makeAk('rsa').public;
  it('reads ECC and RSA keys into KeyObjects with their TPM name', () => {
    const e = parseAkPublic(ecc);
    const r = parseAkPublic(rsa);
    expect(e.ok && [e.value.type, e.value.curve, e.value.key.asymmetricKeyType, e.value.name.length]).toEqual(['ecc', 'P-256', 'ec', 34]);
    expect(r.ok && [r.value.type, r.value.keyBits, r.value.key.asymmetricKeyType]).toEqual(['rsa', 2048, 'rsa']);
    expect(parsePublic(ecc.subarray(2)).ok).toBe(true); // a bare TPMT_PUBLIC
  });
  const patched = (b: Buffer, at: number, bytes: Buffer): Buffer => { const c = Buffer.from(b); bytes.copy(c, at); return c; };
  it.each([
    ['empty', Buffer.alloc(0), /truncated at type/],
    ['a keyedhash object', patched(ecc, 2, u16(0x0008)), /key type 0x0008/],
    ['SHA-1 name algorithm', patched(ecc, 4, u16(TPM_ALG.SHA1)), /nameAlg sha1/],
    ['an unknown curve', patched(ecc, 18, u16(0x0020)), /curve 0x20/],
    ['an ECDH scheme', patched(ecc, 14, u16(0x0019)), /signing scheme 0x0019/],
    ['an ECC x coordinate of 67 octets', patched(ecc, 22, u16(67)), /unique.ecc.x is 67 octets/],
    ['RSA keyBits 1024', patched(rsa, 18, u16(1024)), /keyBits 1024/],
    ['a modulus shorter than keyBits', patched(rsa, 24, u16(128)), /(modulus is 128 octets|trailing)/],
    ['an authPolicy longer than a digest', patched(rsa, 10, u16(500)), /authPolicy is 500 octets/],
    ['truncated modulus', rsa.subarray(0, rsa.length - 10), /size 280, but 270 octets follow/],
    ['truncated modulus in a bare TPMT_PUBLIC', rsa.subarray(2, rsa.length - 10), /truncated at unique.rsa/],
  ])('%s', (_n, octets, reason) => refused(parsePublic(octets), reason));
  it('an RSA key whose modulus node:crypto cannot use is a reason, not a throw', () => {
    const zero = Buffer.from(rsa);
    zero.fill(0, 26);
    const r = parsePublic(zero);
    expect(typeof r.ok).toBe('boolean');
  });
});

describe('parseEventLog', () => {
  const log = encodeEventLog([TPM_ALG.SHA256], [ipl('kernel', 'k'), ipl('rootfs', 'r')]);
  const head = specIdEvent([TPM_ALG.SHA256]);
  it('reads the Spec ID event and the events', () => {
    const r = parseEventLog(log);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.specId).toMatchObject({ specVersion: { major: 2, minor: 0, errata: 0 }, uintnSize: 2, algorithms: [{ alg: TPM_ALG.SHA256, size: 32 }] });
    expect(r.value.events.map((e) => [e.sequence, e.pcr, e.type, e.data.toString()])).toEqual([[1, 9, EV.IPL, 'kernel'], [2, 9, EV.IPL, 'rootfs']]);
    expect(r.value.events[0]?.digests.get(TPM_ALG.SHA256)).toEqual(sha256('k'));
  });
  it('replays the SHA-256 bank; a bank the log lacks is a reason', () => {
    const r = parseEventLog(log);
    if (!r.ok) throw new Error(r.reason);
    const v = replayPcrs(r.value, TPM_ALG.SHA256, [9]);
    const expected = sha256(Buffer.concat([sha256(Buffer.concat([Buffer.alloc(32), sha256('k')])), sha256('r')]));
    expect(v.ok && v.value.get(9)).toEqual(expected);
    refused(replayPcrs(r.value, TPM_ALG.SHA384, [9]), /no sha384 digest/);
    refused(replayPcrs(r.value, TPM_ALG.SHA1, [9]), /PCR bank sha1 is not accepted/);
  });
  it('a StartupLocality event sets the initial value of PCR 0', () => {
    const loc = { pcr: 0, type: EV.NO_ACTION, digests: new Map([[TPM_ALG.SHA256, Buffer.alloc(32)]]), data: Buffer.concat([Buffer.from('StartupLocality\0'), Buffer.from([3])]) };
    const r = parseEventLog(encodeEventLog([TPM_ALG.SHA256], [loc, ipl('crtm', 'c', 0)]));
    if (!r.ok) throw new Error(r.reason);
    const init = Buffer.alloc(32);
    init[31] = 3;
    const v = replayPcrs(r.value, TPM_ALG.SHA256, [0]);
    expect(v.ok && v.value.get(0)).toEqual(sha256(Buffer.concat([init, sha256('c')])));
  });

  const specBody = (p: { sig?: string; minor?: number; major?: number; uintn?: number; algs?: Array<[number, number]>; vendor?: Buffer; n?: number }): Buffer => {
    const algs = p.algs ?? [[TPM_ALG.SHA256, 32]];
    return Buffer.concat([
      Buffer.from(p.sig ?? 'Spec ID Event03\0', 'latin1'), le32(0), Buffer.from([p.minor ?? 0, p.major ?? 2, 0, p.uintn ?? 2]),
      le32(p.n ?? algs.length), ...algs.map(([a, s]) => Buffer.concat([le16(a), le16(s)])),
      Buffer.from([p.vendor?.length ?? 0]), p.vendor ?? Buffer.alloc(0),
    ]);
  };
  const withSpec = (body: Buffer, rest = Buffer.alloc(0), extraVendor = 0): Buffer =>
    Buffer.concat([le32(0), le32(EV.NO_ACTION), Buffer.alloc(20), le32(body.length + extraVendor), body, rest]);
  const event = (p: { pcr?: number; count?: number; digests?: Array<[number, Buffer]>; size?: number; data?: Buffer }): Buffer => {
    const digests = p.digests ?? [[TPM_ALG.SHA256, Buffer.alloc(32)]];
    const data = p.data ?? Buffer.from('x');
    return Buffer.concat([le32(p.pcr ?? 9), le32(EV.IPL), le32(p.count ?? digests.length), ...digests.map(([a, d]) => Buffer.concat([le16(a), d])), le32(p.size ?? data.length), data]);
  };
  it.each([
    ['empty', Buffer.alloc(0), /truncated at TCG_PCR_EVENT.pcrIndex/],
    ['a SHA-1 log (first event is a measurement)', Buffer.concat([le32(0), le32(EV.IPL), Buffer.alloc(24)]), /SHA-1-only/],
    ['a Spec ID event with another signature', withSpec(specBody({ sig: 'Spec ID Event02\0' })), /not a "Spec ID Event03"/],
    ['a Spec ID event with a non-zero digest', Buffer.concat([head.subarray(0, 8), Buffer.alloc(20, 1), head.subarray(28)]), /digest is not zero/],
    ['spec version 1.2', withSpec(specBody({ major: 1, minor: 2 })), /version 1.2/],
    ['uintnSize 8', withSpec(specBody({ uintn: 8 })), /uintnSize 8/],
    ['no algorithms', withSpec(specBody({ algs: [] })), /0 algorithms/],
    ['a huge number of algorithms', withSpec(specBody({ n: 0x7fffffff })), /2147483647 algorithms/],
    ['SHA-256 with 20-octet digests', withSpec(specBody({ algs: [[TPM_ALG.SHA256, 20]] })), /sha256 digest size 20, expected 32/],
    ['an unknown algorithm with 65-octet digests', withSpec(specBody({ algs: [[0x0099, 65]] })), /digest size 65/],
    ['one algorithm twice', withSpec(specBody({ algs: [[TPM_ALG.SHA256, 32], [TPM_ALG.SHA256, 32]] })), /listed twice/],
    ['vendor info beyond the event', withSpec(specBody({ vendor: Buffer.alloc(3) }), Buffer.alloc(0), -2), /truncated at vendorInfo/],
    ['a Spec ID event larger than the log', withSpec(specBody({}), Buffer.alloc(0), 1000), /Spec ID event of/],
    ['an event in PCR 40', Buffer.concat([head, event({ pcr: 40 })]), /PCR 40/],
    ['an event with a huge digest count', Buffer.concat([head, event({ count: 0xffffffff })]), /4294967295 digests/],
    ['an event with no digest', Buffer.concat([head, event({ count: 0, digests: [] })]), /0 digests/],
    ['an event with a digest of an unannounced algorithm', Buffer.concat([head, event({ digests: [[TPM_ALG.SHA384, Buffer.alloc(48)]] })]), /sha384 digest, not announced/],
    ['an event with a huge data size', Buffer.concat([head, event({ size: 0xfffffff0 })]), /data of 4294967280 octets/],
    ['an event with data beyond the log', Buffer.concat([head, event({ size: 100 })]), /data of 100 octets, 1 left/],
    ['an event truncated in its digest', Buffer.concat([head, event({}).subarray(0, 20)]), /truncated at event 1.digests\[0\].digest/],
  ])('%s', (_n, octets, reason) => refused(parseEventLog(octets), reason));
  it('two digests of one algorithm in one event', () => {
    const two = encodeEventLog([TPM_ALG.SHA256, TPM_ALG.SHA384], []);
    refused(parseEventLog(Buffer.concat([two, event({ digests: [[TPM_ALG.SHA256, Buffer.alloc(32)], [TPM_ALG.SHA256, Buffer.alloc(32)]] })])), /two sha256 digests/);
  });
});
