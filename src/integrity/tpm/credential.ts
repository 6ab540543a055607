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
 * An ECC EK (ECDH-derived seed) is not supported: the EK certificates of swtpm_setup and of the TPMs we
 * target include the RSA 2048 EK (docs/evidence-formats.md).
 */
import { createCipheriv, createHmac, constants, publicEncrypt, randomBytes } from 'node:crypto';
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

function tpm2b(b: Buffer): Buffer {
  const size = Buffer.alloc(2);
  size.writeUInt16BE(b.length);
  return Buffer.concat([size, b]);
}

/**
 * MakeCredential for `ek` (an RSA key with an AES-CFB symmetric definition, as the TCG EK templates have) and the
 * AK's Name. `credential` is at most the nameAlg's digest size; `seed` only for tests (random otherwise).
 */
export function makeCredential(ek: TpmPublic, akName: Buffer, credential: Buffer, seed?: Buffer): MadeCredential {
  if (ek.type !== 'rsa') throw new CredentialError('MakeCredential is implemented for an RSA endorsement key only');
  const hash = HASHES[ek.nameAlg];
  if (hash === undefined) throw new CredentialError('the EK\'s nameAlg is not accepted');
  const sym = ek.symmetric;
  if (sym === undefined || sym.alg !== TPM_ALG.AES || sym.mode !== TPM_ALG.CFB || ![128, 192, 256].includes(sym.keyBits)) {
    throw new CredentialError('the EK has no AES-CFB symmetric definition (not a storage/endorsement key)');
  }
  const digestSize = hash.size;
  if (credential.length === 0 || credential.length > digestSize) throw new CredentialError(`the credential must be 1..${digestSize} octets`);
  const s = seed ?? randomBytes(digestSize);
  const encryptedSeed = publicEncrypt({ key: ek.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash.name, oaepLabel: Buffer.from('IDENTITY\0', 'ascii') }, s);
  const symKey = kdfa(hash.name, s, 'STORAGE', akName, Buffer.alloc(0), sym.keyBits);
  const cipher = createCipheriv(`aes-${sym.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(credential)), cipher.final()]);
  const hmacKey = kdfa(hash.name, s, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), digestSize * 8);
  const outerHmac = createHmac(hash.name, hmacKey).update(Buffer.concat([encIdentity, akName])).digest();
  return { credentialBlob: tpm2b(Buffer.concat([tpm2b(outerHmac), encIdentity])), secret: tpm2b(encryptedSeed) };
}

/**
 * The EK as MakeCredential needs it when only its certificate is known: an RSA key under the TCG default EK template
 * (EK Credential Profile, template L-1: RSA 2048, nameAlg SHA-256, AES-128-CFB), which is the key the certificate at NV
 * 0x01c00002 certifies. Name and raw are empty (MakeCredential does not use the EK's Name).
 */
export function rsaEkOfCertificateKey(key: KeyObject): TpmPublic {
  if (key.asymmetricKeyType !== 'rsa') throw new CredentialError(`the EK certificate's key is ${key.asymmetricKeyType ?? 'unknown'}, not RSA: MakeCredential needs the EK public (ek-public) for it`);
  const keyBits = key.asymmetricKeyDetails?.modulusLength ?? 2048;
  return {
    type: 'rsa', nameAlg: TPM_ALG.SHA256, objectAttributes: 0, scheme: { alg: TPM_ALG.NULL, hashAlg: null }, keyBits,
    symmetric: { alg: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB }, key, name: Buffer.alloc(0), raw: Buffer.alloc(0),
  };
}
