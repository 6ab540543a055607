/**
 * The PVE's own vocabulary, shared by the service (service.ts), its transports (RESTCONF in service.ts,
 * NETCONF in netconf-endpoint.ts) and the evidence collector (collector.ts), so that none imports another.
 */
import type { CredentialChallenge, DeviceTarget } from '../device/index.js';
import type { CompletionInput, DeviceEvidence } from './appraise.js';

/** A device the PVE collects evidence from: how to reach it (as the southbound driver does) and its key. */
export interface PveDeviceEntry extends DeviceTarget {
  henbId: string;
  /** the device's evidence key: SPKI PEM (software-key evidence) */
  devicePublicKey: string;
  /**
   * what must sign the device's evidence: software-key (default) or tpm, whose attestation key is akPublic.
   * A tpm device's software-key evidence is refused (no downgrade).
   */
  trustRoot?: 'software-key' | 'tpm';
  /** the enrolled TPM attestation key (trust root tpm): TPM2B_PUBLIC, base64 (what tpm2_readpublic -f tss writes) */
  akPublic?: string;
  /**
   * the TPM's EK certificate (DER, base64), checked at enrolment against the PVE's manufacturer CAs (StartPveOptions.ekCa):
   * it must chain to one of them, and be for ekPublic when that is given
   */
  ekCertificate?: string;
  /** intermediate certificates (PEM) the device's vendor ships with the EK certificate */
  ekIntermediates?: string[];
  /** the TPM's EK: TPM2B_PUBLIC, base64 (what tpm2_readpublic -c 0x81010001 -f tss writes) */
  ekPublic?: string;
}

/**
 * A device's answer to activate-credential: what its TPM released (and the AK's Name when it says), or why it
 * refused (its rpc-error, as text)
 */
export type CredentialAnswer = { secret: Buffer; certificateName?: string } | { refused: string };

/** How the PVE obtains evidence from a device (NETCONF by default; tests may inject another). */
export interface EvidenceCollector {
  collect(device: PveDeviceEntry, nonce: Buffer, signal: AbortSignal): Promise<DeviceEvidence>;
  /**
   * the AK's credential challenge (henb-sw-verify-device activate-credential, ak-binding.ts); rejects only when
   * the device is not reached. A collector without it cannot bind an AK to its EK: such devices are refused.
   */
  activateCredential?(device: PveDeviceEntry, challenge: CredentialChallenge, signal: AbortSignal): Promise<CredentialAnswer>;
  close?(): Promise<void> | void;
}

export interface IntegrityOutput {
  earStatus: string;
  token: string;
  reason?: string;
}

/**
 * Who sent an integrity request, for answering a repeat from the first request's outcome (request-outcomes.ts):
 * the NETCONF endpoint's authenticated user; every RESTCONF requester is one client (that endpoint authenticates none).
 */
export const RESTCONF_CLIENT = 'restconf';
export function netconfClient(username: string): string {
  return `netconf:${username}`;
}

/** the checked input of integrity-request (both transports) */
export interface IntegrityInput {
  henbId: string;
  nonce: Buffer;
  /** the nonce-value text as received (canonical base64) */
  nonceText: string;
  jobId?: string;
  /** phase post-update: the completion to appraise */
  completion?: CompletionInput;
  /** phase pre-update, background-check model: the evidence the requester collected with nonce-value, to appraise */
  evidence?: DeviceEvidence;
}
