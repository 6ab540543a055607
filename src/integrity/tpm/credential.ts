/**
 * TPM2_MakeCredential done by the verifier in software (TPM 2.0 Library Part 1, 24 "Credential Protection";
 * Part 3, 12.6), for an RSA endorsement key: a secret that only the TPM holding that EK can recover with
 * TPM2_ActivateCredential, and only for an object loaded in it whose Name is the given AK Name. A device that
 * returns the secret proves that the AK lives in the TPM whose EK (and EK certificate) it presented.
 *
 *   seed          random, the size of the EK's nameAlg digest
 *   secret        RSA-OAEP(EK, seed), hash = the EK's nameAlg, label "IDENTITY\0"        (TPM2B_ENCRYPTED_SECRET)
 *   symKey        KDFa(nameAlg, seed, "STORAGE", AK Name, "", EK symmetric key bits)
 *   encIdentity   AES-CFB(symKey, IV = 0, TPM2B_DIGEST(credential))
 *   hmacKey       KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits)
 *   credentialBlob  TPM2B_DIGEST(HMAC(hmacKey, encIdentity || AK Name)) || encIdentity   (TPM2B_ID_OBJECT)
 *
 * For an ECC EK (Part 1, C.6.4 / 11.4.10.3) the seed comes from an ephemeral ECDH key on the EK's curve instead:
 *   Z             the x-coordinate of ephemeral-private * EK point
 *   seed          KDFe(nameAlg, Z, "IDENTITY", ephemeral x, EK x, digest bits)
 *   secret        TPMS_ECC_POINT of the ephemeral public key                              (TPM2B_ENCRYPTED_SECRET)
 * and the rest is the same.
 */
import { createCipheriv, createECDH, createHash, createHmac, constants, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { HsvError } from '../../errors.js';
import { HASHES, TPM_ALG } from './constants.js';
import type { TpmPublic } from './public.js';

export interface MadeCredential {
  /** TPM2B_ID_OBJECT octets (size first) */
  credentialBlob: Buffer;
  /** TPM2B_ENCRYPTED_SECRET octets (size first) */
  secret: Buffer;
}

export class CredentialError extends HsvError<'ERR_TPM_CREDENTIAL'> {
  constructor(message: string) {
    super('ERR_TPM_CREDENTIAL', message);
  }
}

/** KDFa (Part 1, 11.4.10.2) with HMAC over the named hash; `bits` of output. */
export function kdfa(hash: string, key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  const labelBytes = Buffer.concat([Buffer.from(label, 'ascii'), Buffer.from([0])]);
  const l = Buffer.alloc(4);
  l.writeUInt32BE(bits);
  let have = 0;
  for (let i = 1; have * 8 < bits; i++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(i);
    const block = createHmac(hash, key).update(Buffer.concat([counter, labelBytes, contextU, contextV, l])).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, Math.ceil(bits / 8));
}

/** KDFe (Part 1, 11.4.10.3): the hash over counter || Z || label NUL || partyU || partyV, `bits` of output. */
export function kdfe(hash: string, z: Buffer, label: string, partyU: Buffer, partyV: Buffer, bits: number): Buffer {
  const out: Buffer[] = [];
  const labelBytes = Buffer.concat([Buffer.from(label, 'ascii'), Buffer.from([0])]);
  let have = 0;
  for (let i = 1; have * 8 < bits; i++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(i);
    const block = createHash(hash).update(Buffer.concat([counter, z, labelBytes, partyU, partyV])).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, Math.ceil(bits / 8));
}

const NODE_CURVES: Record<string, { name: string; size: number }> = {
  'P-256': { name: 'prime256v1', size: 32 }, 'P-384': { name: 'secp384r1', size: 48 }, 'P-521': { name: 'secp521r1', size: 66 },
};

/** the ECC EK's seed and its TPM2B_ENCRYPTED_SECRET (the ephemeral point) */
function eccSeed(ek: TpmPublic, hash: { name: string; size: number }): { seed: Buffer; secret: Buffer } {
  const curve = ek.curve !== undefined ? NODE_CURVES[ek.curve] : undefined;
  if (curve === undefined) throw new CredentialError('the EK\'s curve is not accepted (P-256, P-384, P-521)');
  const jwk = ek.key.export({ format: 'jwk' });
  const ekX = Buffer.from(jwk.x as string, 'base64url');
  const ekY = Buffer.from(jwk.y as string, 'base64url');
  const ecdh = createECDH(curve.name);
  ecdh.generateKeys();
  const z = ecdh.computeSecret(Buffer.concat([Buffer.from([4]), ekX, ekY]));
  const q = ecdh.getPublicKey();
  const qx = q.subarray(1, 1 + curve.size);
  const qy = q.subarray(1 + curve.size);
  return { seed: kdfe(hash.name, z, 'IDENTITY', qx, ekX, hash.size * 8), secret: tpm2b(Buffer.concat([tpm2b(qx), tpm2b(qy)])) };
}

function tpm2b(b: Buffer): Buffer {
  const size = Buffer.alloc(2);
  size.writeUInt16BE(b.length);
  return Buffer.concat([size, b]);
}

/**
 * MakeCredential for `ek` (an RSA or ECC key with an AES-CFB symmetric definition, as the TCG EK templates have) and
 * the AK's Name. `credential` is at most the nameAlg's digest size; `seed` only for tests of an RSA EK (random
 * otherwise; an ECC EK's seed is always derived from a fresh ephemeral key).
 */
export function makeCredential(ek: TpmPublic, akName: Buffer, credential: Buffer, seed?: Buffer): MadeCredential {
  const hash = HASHES[ek.nameAlg];
  if (hash === undefined) throw new CredentialError('the EK\'s nameAlg is not accepted');
  const sym = ek.symmetric;
  if (sym === undefined || sym.alg !== TPM_ALG.AES || sym.mode !== TPM_ALG.CFB || ![128, 192, 256].includes(sym.keyBits)) {
    throw new CredentialError('the EK has no AES-CFB symmetric definition (not a storage/endorsement key)');
  }
  const digestSize = hash.size;
  if (credential.length === 0 || credential.length > digestSize) throw new CredentialError(`the credential must be 1..${digestSize} octets`);
  let s: Buffer;
  let secret: Buffer;
  if (ek.type === 'ecc') {
    ({ seed: s, secret } = eccSeed(ek, hash));
  } else {
    s = seed ?? randomBytes(digestSize);
    secret = tpm2b(publicEncrypt({ key: ek.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash.name, oaepLabel: Buffer.from('IDENTITY\0', 'ascii') }, s));
  }
  const symKey = kdfa(hash.name, s, 'STORAGE', akName, Buffer.alloc(0), sym.keyBits);
  const cipher = createCipheriv(`aes-${sym.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(credential)), cipher.final()]);
  const hmacKey = kdfa(hash.name, s, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), digestSize * 8);
  const outerHmac = createHmac(hash.name, hmacKey).update(Buffer.concat([encIdentity, akName])).digest();
  return { credentialBlob: tpm2b(Buffer.concat([tpm2b(outerHmac), encIdentity])), secret };
}

/**
 * The EK as MakeCredential needs it when only its certificate is known: the certificate's key under the TCG default EK
 * template (EK Credential Profile: L-1 RSA 2048 or L-2 ECC NIST P-256, both nameAlg SHA-256 and AES-128-CFB), which is
 * the key the certificate at NV 0x01c00002 (RSA) or 0x01c0000a (ECC) certifies. Name and raw are empty (MakeCredential
 * does not use the EK's Name).
 */
export function ekOfCertificateKey(key: KeyObject): TpmPublic {
  const common = { nameAlg: TPM_ALG.SHA256, objectAttributes: 0, scheme: { alg: TPM_ALG.NULL, hashAlg: null }, symmetric: { alg: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB }, key, name: Buffer.alloc(0), raw: Buffer.alloc(0) };
  if (key.asymmetricKeyType === 'rsa') return { type: 'rsa', keyBits: key.asymmetricKeyDetails?.modulusLength ?? 2048, ...common };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { type: 'ecc', curve: 'P-256', ...common };
  throw new CredentialError(`the EK certificate's key (${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve !== undefined ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}) is not one of the default EK templates (RSA 2048, ECC P-256): MakeCredential needs the EK public (ek-public) for it`);
}
