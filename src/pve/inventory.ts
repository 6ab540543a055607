/**
 * The PVE's device inventory: each H(e)NB with its parsed keys (the software evidence key, and the TPM AK when
 * its trust root is tpm). A call-home device is also enrolled with the PVE's call-home listener, which then knows
 * it by its pinned host key.
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { callHomeDeviceOf } from '../device/index.js';
import type { CallHomeListener } from '../device/index.js';
import { parseAkPublic } from '../integrity/tpm/index.js';
import type { TpmPublic } from '../integrity/tpm/index.js';
import { PveServiceError } from './errors.js';
import { checkEk } from './enrol-ek.js';
import type { PveDeviceEntry } from './types.js';

/** A device of the inventory with its parsed keys: the software evidence key, and the TPM AK when enrolled. */
export interface Enrolled {
  entry: PveDeviceEntry;
  key: KeyObject;
  ak?: TpmPublic;
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
    if (d.callHome === true && this.callHome !== undefined) {
      // SSH: known by its pinned host key; TLS: by its certificate (pin, or CA + name)
      const enrol = callHomeDeviceOf(d);
      if (enrol === undefined) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: a call-home device needs its pinned host key (or transport tls)`);
      this.callHome.setDevice(enrol);
    }
    this.devices.set(d.henbId, { entry: { ...d, trustRoot }, key, ...(ak !== undefined ? { ak } : {}) });
  }
}

/** the AK of a device whose trust root is tpm */
function attestationKey(d: PveDeviceEntry): TpmPublic {
  if (d.akPublic === undefined) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: trust root tpm needs akPublic (the AK's TPM2B_PUBLIC, base64)`);
  const parsed = parseAkPublic(Buffer.from(d.akPublic, 'base64'));
  if (!parsed.ok) throw new PveServiceError('ERR_PVE_DEVICE_KEY', `device ${d.henbId}: akPublic is not an attestation key: ${parsed.reason}`);
  return parsed.value;
}
