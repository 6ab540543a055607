/**
 * EK certificate chains (src/integrity/tpm/ek-cert.ts) with a chain swtpm_setup + swtpm_localca made
 * (fixtures/README.md), and TPM2_MakeCredential in software (credential.ts): the credential made for an EK
 * and an AK Name is recovered by the activation side written here from the TPM 2.0 spec (Part 1, 24) with the
 * EK's private key, and by nobody with another Name. Against swtpm's own TPM2_ActivateCredential:
 * test/interop/tpm-ek.test.ts.
 */
import { X509Certificate, createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../helpers/tls-pki.js';
import { CredentialError, ekOfCertificateKey, kdfa, kdfe, makeCredential, parsePublic, verifyEkCertificate } from '../../../src/integrity/tpm/index.js';
import type { TpmPublic } from '../../../src/integrity/tpm/index.js';
import { activateSoft, makeAk, makeEccEk, makeEk } from '../../helpers/tpm-structures.js';

const fx = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const root = fx('ek-root-ca.pem').toString('utf8');
const issuer = fx('ek-issuer-ca.pem').toString('utf8');
const cert = fx('ek-cert.der');
// another manufacturer: a self-signed CA that never signed this chain (the intermediate's own certificate is signed
// by the root, so only its key pair matters here: a CA with the same name but another key must not do)
const pki = createTestPki();
const OTHER_CA = pki.issue('other-ca', { cn: 'swtpm-localca-rootca', isCa: true }).cert;
afterAll(() => pki.cleanup());
const ek = (() => {
  const p = parsePublic(fx('ek.pub'));
  if (!p.ok) throw new Error(p.reason);
  return p.value;
})();

describe('verifyEkCertificate (a chain made by swtpm_localca)', () => {
  it('chains EK certificate -> issuer (sent with it) -> the trusted root; the key is the TPM\'s EK', () => {
    expect(verifyEkCertificate({ certificate: cert, trusted: [root], intermediates: [issuer], ekPublic: ek })).toMatchObject({
      ok: true, issuer: 'CN=swtpm-localca', chain: ['CN=unknown', 'CN=swtpm-localca', 'CN=swtpm-localca-rootca'],
    });
    // the intermediate may be the trusted one itself
    expect(verifyEkCertificate({ certificate: cert.toString('base64').replace(/(.{64})/g, '$1\n').replace(/^/, '-----BEGIN CERTIFICATE-----\n').concat('\n-----END CERTIFICATE-----\n'), trusted: [issuer] }).ok).toBe(true);
  });

  it.each([
    ['without the intermediate', { trusted: [root] }, 'does not chain to a configured manufacturer CA (issuer CN=swtpm-localca)'],
    ['another manufacturer\'s CA', { trusted: [OTHER_CA], intermediates: [issuer] }, 'does not chain'],
    ['no CA configured', { trusted: [] }, 'no manufacturer CA is configured'],
    ['a CA file that is no certificate', { trusted: ['not a certificate'] }, 'is not an X.509 certificate'],
    ['another key than the TPM\'s EK', { trusted: [root], intermediates: [issuer], ekPublic: makeAk('rsa') }, 'for another key than the TPM\'s endorsement key'],
    ['after its validity', { trusted: [root], intermediates: [issuer], now: new Date('2025-01-01T00:00:00Z') }, 'not valid now'],
  ] as Array<[string, { trusted: string[]; intermediates?: string[]; ekPublic?: unknown; now?: Date }, string]>)('refuses %s', (_name, over, reason) => {
    const ekPublic = over.ekPublic === undefined ? undefined : (() => {
      const p = parsePublic((over.ekPublic as { public: Buffer }).public);
      if (!p.ok) throw new Error(p.reason);
      return p.value;
    })();
    const r = verifyEkCertificate({ certificate: cert, trusted: over.trusted, ...(over.intermediates ? { intermediates: over.intermediates } : {}), ...(ekPublic ? { ekPublic } : {}), ...(over.now ? { now: over.now } : {}) });
    expect(r.ok).toBe(false);
    expect((r as { reason: string }).reason).toContain(reason);
  });

  it('a damaged certificate is a reason, never an exception', () => {
    expect(verifyEkCertificate({ certificate: cert.subarray(0, 100), trusted: [root] })).toEqual({ ok: false, reason: 'the EK certificate is not an X.509 certificate' });
  });
});

const activate = activateSoft;

/** a software RSA "EK" with the TCG template's AES-128-CFB symmetric definition */
function softEk(): { pub: TpmPublic; priv: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p = parsePublic(ek.raw);
  if (!p.ok) throw new Error(p.reason);
  return { pub: { ...p.value, key: publicKey }, priv: privateKey };
}

describe('makeCredential', () => {
  const akName = Buffer.concat([Buffer.from('000b', 'hex'), Buffer.alloc(32, 0x5a)]);
  const credential = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

  it('the EK holder recovers the credential for the AK Name it was made for, and fails for another Name', () => {
    const { pub, priv } = softEk();
    const m = makeCredential(pub, akName, credential);
    expect(m.secret.readUInt16BE(0)).toBe(256);
    expect(m.credentialBlob.readUInt16BE(0)).toBe(m.credentialBlob.length - 2);
    expect(activate(priv, akName, m.credentialBlob, m.secret)).toEqual(credential);
    const other = Buffer.concat([Buffer.from('000b', 'hex'), Buffer.alloc(32, 0x5b)]);
    expect(() => activate(priv, other, m.credentialBlob, m.secret)).toThrow('integrity check failed');
    // fresh randomness each time
    expect(makeCredential(pub, akName, credential).secret.equals(m.secret)).toBe(false);
  });

  it('KDFa: counter, label with its NUL, contexts and the bit length are all bound (known answer)', () => {
    const k = kdfa('sha256', Buffer.alloc(32, 1), 'STORAGE', Buffer.from('u'), Buffer.alloc(0), 128);
    const want = createHmac('sha256', Buffer.alloc(32, 1)).update(Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('STORAGE\0'), Buffer.from('u'), Buffer.from([0, 0, 0, 128])])).digest().subarray(0, 16);
    expect(k).toEqual(want);
    expect(kdfa('sha256', Buffer.alloc(32, 1), 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 512)).toHaveLength(64);
  });

  it('refuses a key without a symmetric definition (RSA or ECC) and a credential longer than the digest', () => {
    const eccAk = parsePublic(makeAk('ecc').public);
    const rsaAk = parsePublic(makeAk('rsa').public);
    if (!eccAk.ok || !rsaAk.ok) throw new Error('parse');
    expect(() => makeCredential(eccAk.value, akName, credential)).toThrow(CredentialError);
    expect(() => makeCredential(rsaAk.value, akName, credential)).toThrow(/no AES-CFB symmetric definition/);
    expect(() => makeCredential(softEk().pub, akName, Buffer.alloc(33))).toThrow(/1\.\.32 octets/);
  });
});

describe('the EK MakeCredential is made for', () => {
  it('a TPM2B_PUBLIC of the TCG template (test helper makeEk) parses as an RSA EK with AES-128-CFB, and its holder activates', () => {
    const soft = makeEk();
    const p = parsePublic(soft.public);
    if (!p.ok) throw new Error(p.reason);
    expect(p.value).toMatchObject({ type: 'rsa', keyBits: 2048, symmetric: { keyBits: 128 } });
    const akName = Buffer.concat([Buffer.from('000b', 'hex'), Buffer.alloc(32, 7)]);
    const m = makeCredential(p.value, akName, Buffer.from('bound'));
    expect(activateSoft(soft.privateKey, akName, m.credentialBlob, m.secret).toString()).toBe('bound');
  });

  it('ekOfCertificateKey: the EK certificate\'s key under the default template is the same EK for MakeCredential (RSA 2048, ECC P-256)', () => {
    const fromCert = ekOfCertificateKey(new X509Certificate(cert).publicKey);
    expect(fromCert).toMatchObject({ type: 'rsa', nameAlg: ek.nameAlg, keyBits: 2048, symmetric: ek.symmetric });
    expect(fromCert.key.equals(ek.key)).toBe(true);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(ekOfCertificateKey(publicKey)).toMatchObject({ type: 'ecc', curve: 'P-256', nameAlg: ek.nameAlg, symmetric: ek.symmetric });
    expect(() => ekOfCertificateKey(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)).toThrow(/not one of the default EK templates/);
    expect(() => ekOfCertificateKey(generateKeyPairSync('ed25519').publicKey)).toThrow(CredentialError);
  });

  it('an ECC P-256 EK (template L-2 shape): the seed comes from an ephemeral ECDH point; its holder activates, for that AK Name only', () => {
    const soft = makeEccEk();
    const p = parsePublic(soft.public);
    if (!p.ok) throw new Error(p.reason);
    expect(p.value).toMatchObject({ type: 'ecc', curve: 'P-256', symmetric: { keyBits: 128 } });
    const akName = Buffer.concat([Buffer.from('000b', 'hex'), Buffer.alloc(32, 9)]);
    const m = makeCredential(p.value, akName, Buffer.from('bound to ecc'));
    // TPM2B_ENCRYPTED_SECRET = TPMS_ECC_POINT: two 32-octet coordinates, each size first
    expect(m.secret.readUInt16BE(0)).toBe(68);
    expect([m.secret.readUInt16BE(2), m.secret.readUInt16BE(36)]).toEqual([32, 32]);
    expect(activateSoft(soft.privateKey, akName, m.credentialBlob, m.secret).toString()).toBe('bound to ecc');
    expect(() => activateSoft(soft.privateKey, Buffer.concat([Buffer.from('000b', 'hex'), Buffer.alloc(32, 8)]), m.credentialBlob, m.secret)).toThrow('integrity check failed');
    // another ECC EK's holder derives another seed
    expect(() => activateSoft(makeEccEk().privateKey, akName, m.credentialBlob, m.secret)).toThrow('integrity check failed');
    // a fresh ephemeral key each time
    expect(makeCredential(p.value, akName, Buffer.from('x')).secret.equals(makeCredential(p.value, akName, Buffer.from('x')).secret)).toBe(false);
  });

  it('KDFe (Part 1, 11.4.10.3): H(counter || Z || label NUL || partyU || partyV), truncated to the bits asked', () => {
    const [z, u, v] = [Buffer.alloc(32, 1), Buffer.from('u'), Buffer.from('v')];
    const block = (i: number): Buffer => createHash('sha256').update(Buffer.concat([Buffer.from([0, 0, 0, i]), z, Buffer.from('IDENTITY\0'), u, v])).digest();
    expect(kdfe('sha256', z, 'IDENTITY', u, v, 256)).toEqual(block(1));
    expect(kdfe('sha256', z, 'IDENTITY', u, v, 384)).toEqual(Buffer.concat([block(1), block(2)]).subarray(0, 48));
  });
});
