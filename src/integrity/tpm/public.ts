/**
 * TPM2B_PUBLIC / TPMT_PUBLIC of an attestation key (TPM 2.0 Library Part 2, 12.2.4, 12.2.3.5-6), big-endian:
 *
 *   type UINT16 (RSA 0x0001 | ECC 0x0023), nameAlg UINT16, objectAttributes UINT32, authPolicy TPM2B_DIGEST,
 *   parameters  RSA: symmetric TPMT_SYM_DEF_OBJECT, scheme TPMT_RSA_SCHEME, keyBits UINT16, exponent UINT32
 *               ECC: symmetric TPMT_SYM_DEF_OBJECT, scheme TPMT_ECC_SCHEME, curveID UINT16, kdf TPMT_KDF_SCHEME
 *   unique      RSA: TPM2B_PUBLIC_KEY_RSA (the modulus)   ECC: TPMS_ECC_POINT { x, y }
 *
 * `tpm2_readpublic -f tss` and `tpm2_createak -u` write a TPM2B_PUBLIC. The key becomes a node:crypto KeyObject.
 * parseAkPublic also checks what makes a key an attestation key: a restricted signing key created in and
 * bound to its TPM (restricted, sign, fixedTPM, fixedParent, sensitiveDataOrigin; not decrypt). A restricted
 * key signs only digests the TPM computed itself, which is what makes TPM_GENERATED_VALUE trustworthy.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { MalformedTpm, Reader, guard } from './bytes.js';
import type { ParseResult } from './bytes.js';
import { ECC_CURVES, HASHES, LIMITS, TPMA_OBJECT, TPM_ALG, algName } from './constants.js';

export interface TpmPublic {
  type: 'rsa' | 'ecc';
  nameAlg: number;
  objectAttributes: number;
  /** the key's own signing scheme (TPM_ALG_NULL when any is allowed) and its hash */
  scheme: { alg: number; hashAlg: number | null };
  /** for ECC keys */
  curve?: string;
  /** for RSA keys */
  keyBits?: number;
  /** the symmetric definition of a storage or endorsement key (absent: TPM_ALG_NULL, as for signing keys) */
  symmetric?: { alg: number; keyBits: number; mode: number };
  key: KeyObject;
  /** the TPM name: nameAlg || H_nameAlg(TPMT_PUBLIC) */
  name: Buffer;
  /** the TPMT_PUBLIC octets */
  raw: Buffer;
}

/** Parses a TPM2B_PUBLIC (UINT16 size first) or a bare TPMT_PUBLIC. */
export function parsePublic(octets: Uint8Array): ParseResult<TpmPublic> {
  return guard('TPMT_PUBLIC', () => {
    const buf = tpmtOctets(octets);
    const r = new Reader(buf, 'TPMT_PUBLIC');
    const type = r.u16('type');
    if (type !== TPM_ALG.RSA && type !== TPM_ALG.ECC) throw new MalformedTpm(`TPMT_PUBLIC: key type ${algName(type)} is not rsa or ecc`);
    const nameAlg = r.u16('nameAlg');
    const nameHash = HASHES[nameAlg];
    if (!nameHash) throw new MalformedTpm(`TPMT_PUBLIC: nameAlg ${algName(nameAlg)} is not accepted`);
    const objectAttributes = r.u32('objectAttributes');
    r.tpm2b('authPolicy', LIMITS.policy);
    const symmetric = readSymmetric(r);
    const out = type === TPM_ALG.RSA ? readRsaKey(r) : readEccKey(r);
    r.end();
    const raw = Buffer.from(buf);
    const name = Buffer.alloc(2);
    name.writeUInt16BE(nameAlg);
    return { ...out, nameAlg, objectAttributes, raw, name: Buffer.concat([name, createHash(nameHash.name).update(raw).digest()]), ...(symmetric !== undefined ? { symmetric } : {}) };
  });
}

/** the TPMT_PUBLIC octets: a TPMT_PUBLIC starts with its type (RSA or ECC); anything else is read as a TPM2B_PUBLIC (size first) */
function tpmtOctets(octets: Uint8Array): Buffer {
  let buf = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
  if (buf.length >= 2 && buf.readUInt16BE(0) !== TPM_ALG.RSA && buf.readUInt16BE(0) !== TPM_ALG.ECC) {
    const size = buf.readUInt16BE(0);
    if (size !== buf.length - 2) throw new MalformedTpm(`TPM2B_PUBLIC: size ${size}, but ${buf.length - 2} octets follow`);
    buf = buf.subarray(2);
  }
  return buf;
}

/** what the type-specific parameters and the unique field give: the key, its scheme, its size or curve */
type KeyPart = Omit<TpmPublic, 'name' | 'raw' | 'nameAlg' | 'objectAttributes' | 'symmetric'>;

/** RSA parameters (scheme, keyBits 2048..4096, exponent) and the modulus */
function readRsaKey(r: Reader): KeyPart {
  const scheme = readScheme(r, 'rsa');
  const keyBits = r.u16('keyBits');
  if (keyBits < 2048 || keyBits > LIMITS.rsaKey * 8 || keyBits % 8 !== 0) throw new MalformedTpm(`TPMT_PUBLIC: RSA keyBits ${keyBits} not accepted (2048..4096)`);
  const exp = r.u32('exponent');
  const modulus = r.tpm2b('unique.rsa', LIMITS.rsaKey);
  if (modulus.length !== keyBits / 8) throw new MalformedTpm(`TPMT_PUBLIC: modulus is ${modulus.length} octets, keyBits says ${keyBits / 8}`);
  const e = exp === 0 ? 65537 : exp;
  const eBytes = Buffer.alloc(4);
  eBytes.writeUInt32BE(e);
  const key = createPublicKey({ key: { kty: 'RSA', n: modulus.toString('base64url'), e: stripZeros(eBytes).toString('base64url') }, format: 'jwk' });
  return { type: 'rsa', scheme, keyBits, key };
}

/** ECC parameters (scheme, curve P-256/384/521, kdf) and the point */
function readEccKey(r: Reader): KeyPart {
  const scheme = readScheme(r, 'ecc');
  const curveId = r.u16('curveID');
  const curve = ECC_CURVES[curveId];
  if (!curve) throw new MalformedTpm(`TPMT_PUBLIC: ECC curve 0x${curveId.toString(16)} is not accepted (P-256, P-384, P-521)`);
  const kdf = r.u16('kdf.scheme');
  if (kdf !== TPM_ALG.NULL) r.u16('kdf.hash');
  const x = r.tpm2b('unique.ecc.x', LIMITS.eccPoint);
  const y = r.tpm2b('unique.ecc.y', LIMITS.eccPoint);
  if (x.length > curve.size || y.length > curve.size || x.length === 0 || y.length === 0) {
    throw new MalformedTpm(`TPMT_PUBLIC: ECC point does not fit ${curve.crv}`);
  }
  const key = createPublicKey({ key: { kty: 'EC', crv: curve.crv, x: pad(x, curve.size).toString('base64url'), y: pad(y, curve.size).toString('base64url') }, format: 'jwk' });
  return { type: 'ecc', scheme, curve: curve.crv, key };
}

/** Parses an attestation key and checks its attributes (see the file comment). */
export function parseAkPublic(octets: Uint8Array): ParseResult<TpmPublic> {
  const p = parsePublic(octets);
  if (!p.ok) return p;
  const a = p.value.objectAttributes;
  const required: Array<keyof typeof TPMA_OBJECT> = ['restricted', 'sign', 'fixedTPM', 'fixedParent', 'sensitiveDataOrigin'];
  const missing = required.filter((k) => (a & TPMA_OBJECT[k]) === 0);
  if (missing.length > 0) return { ok: false, reason: `not an attestation key: attribute ${missing.join(', ')} not set` };
  if (a & TPMA_OBJECT.decrypt) return { ok: false, reason: 'not an attestation key: a restricted decrypt key is a storage key' };
  return p;
}

function readSymmetric(r: Reader): { alg: number; keyBits: number; mode: number } | undefined {
  const alg = r.u16('symmetric.algorithm');
  if (alg === TPM_ALG.NULL) return undefined;
  const keyBits = r.u16('symmetric.keyBits');
  const mode = r.u16('symmetric.mode');
  return { alg, keyBits, mode };
}

/** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME: the scheme, then its details (a hash, and a count for ECDAA). */
function readScheme(r: Reader, type: 'rsa' | 'ecc'): { alg: number; hashAlg: number | null } {
  const alg = r.u16('scheme.scheme');
  if (alg === TPM_ALG.NULL) return { alg, hashAlg: null };
  const allowed = type === 'rsa' ? [TPM_ALG.RSASSA, TPM_ALG.RSAPSS] : [TPM_ALG.ECDSA];
  if (!(allowed as number[]).includes(alg)) throw new MalformedTpm(`TPMT_PUBLIC: signing scheme ${algName(alg)} is not accepted for an ${type} attestation key`);
  const hashAlg = r.u16('scheme.hashAlg');
  if (!HASHES[hashAlg]) throw new MalformedTpm(`TPMT_PUBLIC: scheme hash ${algName(hashAlg)} is not accepted`);
  return { alg, hashAlg };
}

function pad(b: Buffer, size: number): Buffer {
  return b.length === size ? b : Buffer.concat([Buffer.alloc(size - b.length), b]);
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}
