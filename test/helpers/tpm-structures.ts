/**
 * Builds TPM 2.0 structures in software for unit tests (no TPM needed): an attestation key's TPM2B_PUBLIC, a
 * TPMS_ATTEST of a quote, its TPMT_SIGNATURE, and a quote over an event log. The encoding follows TPM 2.0
 * Part 2; test/interop/tpm-*.test.ts checks the same code paths against swtpm + tpm2-tools.
 */
import { createDecipheriv, createECDH, createHash, createHmac, generateKeyPairSync, privateDecrypt, sign, constants, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { EV, TPM_ALG, encodeEventLog, kdfa, kdfe, parseEventLog, replayPcrs } from '../../src/integrity/tpm/index.js';
import type { EventToWrite } from '../../src/integrity/tpm/index.js';

const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
const u64 = (v: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64BE(v); return b; };
const tpm2b = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);

/** restricted | sign | fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth: what tpm2_createak sets */
export const AK_ATTRIBUTES = 0x00050072;

export interface SoftAk {
  type: 'rsa' | 'ecc';
  privateKey: KeyObject;
  /** TPM2B_PUBLIC */
  public: Buffer;
  scheme: 'rsassa' | 'rsapss' | 'ecdsa';
  hashAlg: number;
}

export function makeAk(type: 'rsa' | 'ecc', opts: { attributes?: number; scheme?: 'rsassa' | 'rsapss' | 'ecdsa' | 'null'; curve?: 'P-256' | 'P-384' } = {}): SoftAk {
  const attributes = opts.attributes ?? AK_ATTRIBUTES;
  if (type === 'ecc') {
    const curve = opts.curve ?? 'P-256';
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve === 'P-256' ? 'prime256v1' : 'secp384r1' });
    const jwk = publicKey.export({ format: 'jwk' });
    const scheme = opts.scheme ?? 'ecdsa';
    const body = Buffer.concat([
      u16(TPM_ALG.ECC), u16(TPM_ALG.SHA256), u32(attributes), tpm2b(Buffer.alloc(0)),
      u16(TPM_ALG.NULL), // symmetric
      scheme === 'null' ? u16(TPM_ALG.NULL) : Buffer.concat([u16(TPM_ALG.ECDSA), u16(TPM_ALG.SHA256)]),
      u16(curve === 'P-256' ? 0x0003 : 0x0004), u16(TPM_ALG.NULL),
      tpm2b(Buffer.from(jwk.x!, 'base64url')), tpm2b(Buffer.from(jwk.y!, 'base64url')),
    ]);
    return { type, privateKey, public: tpm2b(body), scheme: 'ecdsa', hashAlg: TPM_ALG.SHA256 };
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const scheme = opts.scheme ?? 'rsassa';
  const body = Buffer.concat([
    u16(TPM_ALG.RSA), u16(TPM_ALG.SHA256), u32(attributes), tpm2b(Buffer.alloc(0)),
    u16(TPM_ALG.NULL),
    scheme === 'null' ? u16(TPM_ALG.NULL) : Buffer.concat([u16(scheme === 'rsapss' ? TPM_ALG.RSAPSS : TPM_ALG.RSASSA), u16(TPM_ALG.SHA256)]),
    u16(2048), u32(0), tpm2b(Buffer.from(jwk.n!, 'base64url')),
  ]);
  return { type, privateKey, public: tpm2b(body), scheme: scheme === 'rsapss' ? 'rsapss' : 'rsassa', hashAlg: TPM_ALG.SHA256 };
}

export interface AttestFields {
  magic?: number;
  type?: number;
  qualifiedSigner?: Buffer;
  extraData: Buffer;
  clock?: bigint;
  resetCount?: number;
  restartCount?: number;
  safe?: number;
  firmwareVersion?: bigint;
  /** [hashAlg, pcrs][] */
  selection: Array<[number, number[]]>;
  pcrDigest: Buffer;
}

export function encodeAttest(f: AttestFields): Buffer {
  const sel = f.selection.map(([alg, pcrs]) => {
    const bitmap = Buffer.alloc(3);
    for (const p of pcrs) bitmap[p >> 3]! |= 1 << (p & 7);
    return Buffer.concat([u16(alg), Buffer.from([3]), bitmap]);
  });
  return Buffer.concat([
    u32(f.magic ?? 0xff544347), u16(f.type ?? 0x8018),
    tpm2b(f.qualifiedSigner ?? Buffer.concat([u16(TPM_ALG.SHA256), Buffer.alloc(32, 7)])),
    tpm2b(f.extraData),
    u64(f.clock ?? 123456n), u32(f.resetCount ?? 0), u32(f.restartCount ?? 0), Buffer.from([f.safe ?? 1]),
    u64(f.firmwareVersion ?? 0x2019102300163636n),
    u32(sel.length), ...sel, tpm2b(f.pcrDigest),
  ]);
}

/** TPMT_SIGNATURE over `message` with the AK's scheme (or `as`, to make a mismatched one). */
export function signAttest(ak: SoftAk, message: Buffer, as: { scheme?: 'rsassa' | 'rsapss' | 'ecdsa'; hashAlg?: number } = {}): Buffer {
  const scheme = as.scheme ?? ak.scheme;
  const hashAlg = as.hashAlg ?? ak.hashAlg;
  const hash = hashAlg === TPM_ALG.SHA384 ? 'sha384' : hashAlg === TPM_ALG.SHA512 ? 'sha512' : 'sha256';
  if (scheme === 'ecdsa') {
    const p1363 = sign(hash, message, { key: ak.privateKey, dsaEncoding: 'ieee-p1363' });
    const half = p1363.length / 2;
    return Buffer.concat([u16(TPM_ALG.ECDSA), u16(hashAlg), tpm2b(p1363.subarray(0, half)), tpm2b(p1363.subarray(half))]);
  }
  const sig = scheme === 'rsapss'
    ? sign(hash, message, { key: ak.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    : sign(hash, message, { key: ak.privateKey, padding: constants.RSA_PKCS1_PADDING });
  return Buffer.concat([u16(scheme === 'rsapss' ? TPM_ALG.RSAPSS : TPM_ALG.RSASSA), u16(hashAlg), tpm2b(sig)]);
}

export const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();
export const sha384 = (s: string | Buffer): Buffer => createHash('sha384').update(s).digest();

/** An EV_IPL event measuring `component` (digest = SHA-256/384 of `content`) into `pcr`. */
export function ipl(component: string, content: string, pcr = 9, algs: number[] = [TPM_ALG.SHA256]): EventToWrite {
  const digests = new Map<number, Buffer>();
  for (const a of algs) digests.set(a, a === TPM_ALG.SHA384 ? sha384(content) : sha256(content));
  return { pcr, type: EV.IPL, digests, data: Buffer.from(component) };
}

export interface SoftQuote {
  attest: Buffer;
  signature: Buffer;
  log: Buffer;
}

/**
 * A quote as a TPM would make it: the PCR values are the log's replay (`pcrs` selected in `banks`), the
 * digest is H(sig hash) over them, extraData = nonce, signed by the AK. `fields` overrides attest fields.
 */
export function softQuote(ak: SoftAk, nonce: Buffer, events: EventToWrite[], opts: { pcrs?: number[]; banks?: number[]; algs?: number[]; fields?: Partial<AttestFields> } = {}): SoftQuote {
  const algs = opts.algs ?? [TPM_ALG.SHA256];
  const log = encodeEventLog(algs, events);
  const parsed = parseEventLog(log);
  if (!parsed.ok) throw new Error(parsed.reason);
  const pcrs = opts.pcrs ?? [...new Set(events.map((e) => e.pcr))].sort((a, b) => a - b);
  const banks = opts.banks ?? [TPM_ALG.SHA256];
  const values: Buffer[] = [];
  for (const bank of banks) {
    const r = replayPcrs(parsed.value, bank, pcrs);
    if (!r.ok) throw new Error(r.reason);
    for (const p of pcrs) values.push(r.value.get(p)!);
  }
  const pcrDigest = createHash('sha256').update(Buffer.concat(values)).digest();
  const attest = encodeAttest({ extraData: nonce, selection: banks.map((b) => [b, pcrs]), pcrDigest, ...opts.fields });
  return { attest, signature: signAttest(ak, attest), log };
}

/** TPMA_OBJECT of the TCG default EK (template L-1): fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt */
export const EK_ATTRIBUTES = 0x000300b2;

export interface SoftEk {
  privateKey: KeyObject;
  /** TPM2B_PUBLIC of an RSA 2048 EK, SHA-256, AES-128-CFB (the TCG default template's shape) */
  public: Buffer;
}

/** an ECC NIST P-256 "EK" in software (template L-2's shape: SHA-256, AES-128-CFB) for activateSoft */
export function makeEccEk(): SoftEk {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const t = Buffer.concat([
    u16(TPM_ALG.ECC), u16(TPM_ALG.SHA256), u32(EK_ATTRIBUTES), tpm2b(Buffer.alloc(32, 0x83)),
    u16(TPM_ALG.AES), u16(128), u16(TPM_ALG.CFB), u16(TPM_ALG.NULL), u16(0x0003), u16(TPM_ALG.NULL),
    tpm2b(Buffer.from(jwk.x as string, 'base64url')), tpm2b(Buffer.from(jwk.y as string, 'base64url')),
  ]);
  return { privateKey, public: tpm2b(t) };
}

/** an RSA "EK" in software whose private key plays the TPM's part of TPM2_ActivateCredential (activateSoft) */
export function makeEk(): SoftEk {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const n = Buffer.from(publicKey.export({ format: 'jwk' }).n as string, 'base64url');
  const t = Buffer.concat([
    u16(TPM_ALG.RSA), u16(TPM_ALG.SHA256), u32(EK_ATTRIBUTES), tpm2b(Buffer.alloc(32, 0x83)),
    u16(TPM_ALG.AES), u16(128), u16(TPM_ALG.CFB), u16(TPM_ALG.NULL), u16(2048), u32(0), tpm2b(n),
  ]);
  return { privateKey, public: tpm2b(t) };
}

/**
 * The TPM's side of TPM2_ActivateCredential (Part 1, 24.6) with the EK's private key (RSA, SHA-256, AES-128-CFB):
 * the credential when the blob was made for this EK and `akName`; throws 'integrity check failed' otherwise.
 */
export function activateSoft(ekPrivate: KeyObject, akName: Buffer, blob: Buffer, secret: Buffer): Buffer {
  const seed = ekPrivate.asymmetricKeyType === 'ec' ? eccSeedOf(ekPrivate, secret) : privateDecrypt({ key: ekPrivate, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('IDENTITY\0') }, secret.subarray(2));
  const idObject = blob.subarray(2);
  const hmacSize = idObject.readUInt16BE(0);
  const outerHmac = idObject.subarray(2, 2 + hmacSize);
  const encIdentity = idObject.subarray(2 + hmacSize);
  const hmacKey = kdfa('sha256', seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256);
  const want = createHmac('sha256', hmacKey).update(Buffer.concat([encIdentity, akName])).digest();
  if (want.length !== outerHmac.length || !timingSafeEqual(want, outerHmac)) throw new Error('integrity check failed');
  const symKey = kdfa('sha256', seed, 'STORAGE', akName, Buffer.alloc(0), 128);
  const d = createDecipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const plain = Buffer.concat([d.update(encIdentity), d.final()]);
  return plain.subarray(2, 2 + plain.readUInt16BE(0));
}

/** the ECC EK holder's seed (Part 1, C.6.4): Z = d * ephemeral point, KDFe(SHA-256, Z, IDENTITY, ephemeral x, EK x) */
function eccSeedOf(ekPrivate: KeyObject, secret: Buffer): Buffer {
  const inner = secret.subarray(2);
  const xLen = inner.readUInt16BE(0);
  const qx = inner.subarray(2, 2 + xLen);
  const qy = inner.subarray(4 + xLen, 4 + xLen + inner.readUInt16BE(2 + xLen));
  const jwk = ekPrivate.export({ format: 'jwk' });
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(jwk.d as string, 'base64url'));
  const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), qx, qy]));
  return kdfe('sha256', z, 'IDENTITY', qx, Buffer.from(jwk.x as string, 'base64url'), 256);
}
