/**
 * The PVE's device inventory: each H(e)NB with its parsed keys (the software evidence key, and the TPM AK when
 * its trust root is tpm). A call-home device is also enrolled with the PVE's call-home listener, which then knows
 * it by its pinned host key.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { callHomeDeviceOf } from '../device/index.js';
import type { CallHomeListener } from '../device/index.js';
import { TPM_ALG, ekOfCertificateKey, parseAkPublic, parsePublic } from '../integrity/tpm/index.js';
import type { TpmPublic } from '../integrity/tpm/index.js';
import { PveServiceError } from './errors.js';
import { checkEk } from './enrol-ek.js';
import type { PveDeviceEntry } from './types.js';

/** A device of the inventory with its parsed keys: the software evidence key, and the TPM AK when enrolled. */
export interface Enrolled {
  entry: PveDeviceEntry;
  key: KeyObject;
  ak?: TpmPublic;
  /**
   * the EK the AK's credential challenge is made for (ak-binding.ts): ekPublic, else the EK certificate's key (RSA
   * 2048 or ECC P-256) under the TCG default template; absent when neither is enrolled (the AK is then trusted as enrolled)
   */
  ek?: TpmPublic;
}

export class DeviceInventory {
  private readonly devices = new Map<string, Enrolled>();

  /** callHome: the PVE's call-home listener, when it has one (call-home devices are enrolled with it) */
  /** ekCa: TPM manufacturer CAs; with them a tpm device's EK certificate must chain to one (enrol-ek.ts) */
  constructor(private readonly callHome?: CallHomeListener, private readonly ekCa?: string[]) {}

  get(henbId: string): Enrolled | undefined {
    return this.devices.get(henbId);
  }

  has(henbId: string): boolean {
    return this.devices.has(henbId);
  }

  /** add or replace a device; PveServiceError ERR_PVE_DEVICE_KEY when a key is not usable */
  set(d: PveDeviceEntry): void {
    let key: KeyObject;
    try {
      key = createPublicKey(d.devicePublicKey);
    } catch (e) {
      throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: devicePublicKey is not a public key PEM`, { cause: e });
    }
    const trustRoot = d.trustRoot ?? (d.akPublic !== undefined ? 'tpm' : 'software-key');
    const ak = trustRoot === 'tpm' ? attestationKey(d) : undefined;
    if (ak !== undefined && this.ekCa !== undefined) checkEk(d, this.ekCa);
    const ek = ak !== undefined ? endorsementKey(d) : undefined;
    if (d.callHome === true && this.callHome !== undefined) {
      // SSH: known by its pinned host key; TLS: by its certificate (pin, or CA + name)
      const enrol = callHomeDeviceOf(d);
      if (enrol === undefined) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: a call-home device needs its pinned host key (or transport tls)`);
      this.callHome.setDevice(enrol);
    }
    this.devices.set(d.henbId, { entry: { ...d, trustRoot }, key, ...(ak !== undefined ? { ak } : {}), ...(ek !== undefined ? { ek } : {}) });
  }
}

/** the AK of a device whose trust root is tpm */
function attestationKey(d: PveDeviceEntry): TpmPublic {
  if (d.akPublic === undefined) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: trust root tpm needs akPublic (the AK's TPM2B_PUBLIC, base64)`);
  const parsed = parseAkPublic(Buffer.from(d.akPublic, 'base64'));
  if (!parsed.ok) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: akPublic is not an attestation key: ${parsed.reason}`);
  return parsed.value;
}

/**
 * the EK a tpm device's AK is challenged for (MakeCredential needs an RSA or ECC EK with an AES-CFB symmetric definition):
 * its TPM2B_PUBLIC when enrolled, else its certificate's key under the TCG default template; undefined without either
 */
function endorsementKey(d: PveDeviceEntry): TpmPublic | undefined {
  const refuse = (why: string): never => {
    throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: ${why}`);
  };
  let ek: TpmPublic | undefined;
  if (d.ekPublic !== undefined) {
    const p = parsePublic(Buffer.from(d.ekPublic, 'base64'));
    if (!p.ok) refuse(`ekPublic is not a TPM public key: ${p.reason}`);
    else ek = p.value;
  } else if (d.ekCertificate !== undefined) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(d.ekCertificate, 'base64'));
    } catch {
      return refuse('ekCertificate is not an X.509 certificate (DER, base64)');
    }
    try {
      ek = ekOfCertificateKey(cert.publicKey);
    } catch (e) {
      refuse(`the AK cannot be challenged: ${(e as Error).message}`);
    }
  }
  if (ek !== undefined && (ek.symmetric === undefined || ek.symmetric.alg !== TPM_ALG.AES || ek.symmetric.mode !== TPM_ALG.CFB)) {
    refuse('the AK cannot be challenged for this EK: MakeCredential needs an endorsement key with an AES-CFB symmetric definition');
  }
  return ek;
}
