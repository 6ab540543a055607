/**
 * The TPM 2.0 trust root of a simulated femtocell (`--trust-root tpm`): one swtpm per device (./tpm), whose
 * PCR 9 follows the device model's measurement log. The model (model.ts) stays synchronous and pure; before
 * every quote this class brings the TPM to the model's log: when the TPM's measurements are a prefix of the
 * log (a live activation appended a component) the rest is extended; otherwise the device rebooted (a
 * reboot into the update, a rollback) and the TPM is power-cycled and the whole log measured again from boot,
 * which is what a real boot chain does (resetCount moves, the event log starts again).
 *
 * What the device sends (yang/henb-sw-verify-device.yang tpm20-attestation, RFC 9684 shape): TPM2_Quote by
 * the AK over the qualifying data (the verifier's nonce for integrity-measurement; SHA-256 of the completion
 * statement for a completion) and the TCG event log. PCR 9 replayed from zero equals the model's TIM, since
 * both are the same extend chain over the same digests.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MeasurementLogEntry } from '../oam/index.js';
import type { Tpm20Attestation } from '../device/index.js';
import { parseAkPublic } from '../integrity/tpm/index.js';
import { createTpmAttester } from './tpm/index.js';
import type { TpmAttester } from './tpm/index.js';

export type TrustRoot = 'software-key' | 'tpm';
export const TRUST_ROOTS: readonly TrustRoot[] = ['software-key', 'tpm'];

export function isTrustRoot(s: unknown): s is TrustRoot {
  return typeof s === 'string' && (TRUST_ROOTS as readonly string[]).includes(s);
}

export class TpmTrustRoot {
  /** what the TPM has measured since its last reset (mirrors the attester's event log) */
  private measured: MeasurementLogEntry[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** the AK's TPM Name, lowercase hex (the tpm20-attestation certificate-name) */
  readonly akName: string;
  /** JOSE name of the AK's signature scheme */
  readonly signatureAlgorithm: 'ES256' | 'RS256';

  private constructor(readonly attester: TpmAttester) {
    const ak = parseAkPublic(attester.akPublic());
    if (!ak.ok) throw new Error(`the TPM's attestation key does not parse: ${ak.reason}`);
    this.akName = ak.value.name.toString('hex');
    this.signatureAlgorithm = ak.value.type === 'rsa' ? 'RS256' : 'ES256';
  }

  /**
   * Starts the device's swtpm with its state in DIR/tpm (the EK and AK persist there: a restarted simulator
   * keeps its enrolled AK) and measures the boot log.
   */
  static async start(dir: string, bootLog: readonly MeasurementLogEntry[], keyType: 'ecc' | 'rsa' = 'ecc', ekCertificateCa?: string): Promise<TpmTrustRoot> {
    const attester = await createTpmAttester({ stateDir: join(dir, 'tpm'), keyType, ...(ekCertificateCa !== undefined ? { ekCertificateCa } : {}) });
    try {
      const root = new TpmTrustRoot(attester);
      if (ekCertificateCa !== undefined) root.issuer = await readFile(join(ekCertificateCa, 'issuercert.pem'), 'utf8');
      await root.serial(() => root.sync(bootLog));
      return root;
    } catch (err) {
      await attester.close();
      throw err;
    }
  }

  /** the AK as TPM2B_PUBLIC (what the PVE enrolls) */
  akPublic(): Buffer {
    return this.attester.akPublic();
  }

  /** the local CA's issuer certificate (PEM), when the TPM was manufactured with an EK certificate */
  private issuer: string | undefined;

  /** what the PVE enrolls besides the AK when the TPM has an EK certificate (base64 DER, issuer PEM, EK TPM2B_PUBLIC) */
  ekEnrolment(): { ekCertificate?: string; ekIntermediates?: string[]; ekPublic?: string } {
    const cert = this.attester.ekCertificate();
    if (cert === undefined) return {};
    return { ekCertificate: cert.toString('base64'), ...(this.issuer !== undefined ? { ekIntermediates: [this.issuer] } : {}), ekPublic: this.attester.ekPublic().toString('base64') };
  }

  /** The TPM's answer for this log: brought up to the log, then quoted over `qualifying` (1..64 octets). */
  quote(log: readonly MeasurementLogEntry[], qualifying: Buffer): Promise<Tpm20Attestation> {
    return this.serial(async () => {
      await this.sync(log);
      const q = await this.attester.quote(qualifying);
      return {
        certificateName: this.akName,
        quote: q.attest.toString('base64'),
        signature: q.signature.toString('base64'),
        pcrSelection: [{ hashAlg: 'sha256' as const, pcrs: q.pcrs }],
        eventLog: q.log.toString('base64'),
      };
    });
  }

  /** TPM2_ActivateCredential with this TPM's AK and its RSA or ECC EK (the activate-credential RPC); rejects when the TPM refuses */
  activateCredential(c: { credentialBlob: Buffer; secret: Buffer; endorsementKey?: 'rsa' | 'ecc' }): Promise<Buffer> {
    return this.attester.activateCredential(c.credentialBlob, c.secret, c.endorsementKey ?? 'rsa');
  }

  close(): Promise<void> {
    return this.attester.close();
  }

  private async sync(log: readonly MeasurementLogEntry[]): Promise<void> {
    const prefix = this.measured.length <= log.length && this.measured.every((m, i) => m.component === log[i]!.component && m.digest === log[i]!.digest);
    if (!prefix) {
      await this.attester.reboot();
      this.measured = [];
    }
    for (const e of log.slice(this.measured.length)) {
      await this.attester.measure(e.component, e.digest);
      this.measured.push({ component: e.component, digest: e.digest });
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
