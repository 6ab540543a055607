/**
 * The AK's binding to the EK, checked by the PVE at first contact (issue 10): for a TPM device enrolled with its EK
 * (ekPublic, or the EK certificate's key under the TCG default template: RSA 2048 or ECC P-256) the PVE makes a credential for that EK
 * and the enrolled AK's Name (TPM2_MakeCredential, src/integrity/tpm) and sends it to the device
 * (henb-sw-verify-device activate-credential). Only a TPM holding that EK with an object of that Name loaded releases
 * the secret (TPM2_ActivateCredential), so a device that returns it proves that the AK whose quotes the PVE appraises
 * lives in the TPM whose EK certificate the PVE checked. Until a device passed, none of its evidence is affirmed:
 * the appraisal is contraindicated with the reason (logged as ERR_PVE_AK_BINDING).
 *
 * A passed challenge is remembered per H(e)NB for that AK and EK while the PVE runs (a restarted PVE, or a new AK or
 * EK in the inventory, challenges again); a failed one is not remembered: the next request challenges again.
 * Concurrent requests for the same device share one challenge.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { InFlight } from '../in-flight.js';
import type { Logger } from '../log/logger.js';
import { makeCredential } from '../integrity/tpm/index.js';
import type { TpmPublic } from '../integrity/tpm/index.js';
import type { CredentialChallenge } from '../device/index.js';
import type { Enrolled } from './inventory.js';
import type { CredentialAnswer } from './types.js';

/** asks the device (a NETCONF session of the collector) and gives its answer; throws when the device is not reached */
export type AskDevice = (challenge: CredentialChallenge) => Promise<CredentialAnswer>;

export class AkBindings {
  private readonly bound = new Map<string, string>();
  private readonly pending = new InFlight<string | undefined>();

  constructor(private readonly log: Logger) {}

  /** whether the device must pass the challenge before its evidence counts (trust root tpm with a known EK) */
  needs(dev: Enrolled): dev is Enrolled & { ak: TpmPublic; ek: TpmPublic } {
    return dev.ak !== undefined && dev.ek !== undefined;
  }

  /**
   * undefined when the device's AK is bound to its EK (now or earlier in this run), else why not (a refusal
   * reason for the token). Errors of `ask` (device not reached) propagate and nothing is remembered.
   */
  async check(henbId: string, dev: Enrolled, ask: AskDevice): Promise<string | undefined> {
    if (!this.needs(dev)) return undefined;
    const identity = identityOf(dev.ak, dev.ek);
    if (this.bound.get(henbId) === identity) return undefined;
    const key = `${henbId}\0${identity}`;
    const refusal = await this.pending.run(key, () => this.challenge(henbId, dev.ak, dev.ek, ask));
    if (refusal === undefined) this.bound.set(henbId, identity);
    return refusal;
  }

  private async challenge(henbId: string, ak: TpmPublic, ek: TpmPublic, ask: AskDevice): Promise<string | undefined> {
    const credential = randomBytes(32);
    const made = makeCredential(ek, ak.name, credential);
    const answer = await ask({ credentialBlob: made.credentialBlob, secret: made.secret, ...(ek.type === 'ecc' ? { endorsementKey: 'ecc' as const } : {}) });
    let why: string | undefined;
    if ('refused' in answer) why = answer.refused;
    else if (answer.secret.length !== credential.length || !timingSafeEqual(answer.secret, credential)) why = 'the device answered with another secret than the credential';
    else if (answer.certificateName !== undefined && answer.certificateName !== ak.name.toString('hex')) why = 'the device activated it with another attestation key than the one enrolled';
    if (why === undefined) {
      this.log.info('attestation key bound to the EK (activate-credential)', { henbId, akName: ak.name.toString('hex') });
      return undefined;
    }
    const reason = `the attestation key failed the credential challenge (TPM2_ActivateCredential for the enrolled EK and AK): ${why}`;
    this.log.warn('attestation key refused', { code: 'ERR_PVE_AK_BINDING', henbId, reason });
    return reason;
  }
}

function identityOf(ak: TpmPublic, ek: TpmPublic): string {
  const spki = ek.key.export({ type: 'spki', format: 'der' });
  return `${ak.name.toString('hex')}:${createHash('sha256').update(spki).digest('hex')}`;
}
