/**
 * The PVE's transport-neutral core, shared by the RESTCONF and NETCONF endpoints: an integrity-request in, a
 * signed EAR result out. Pre-update (step 3): collect evidence from the H(e)NB with the PVE's OWN fresh nonce
 * (at most `limit.max` collections at once, each bounded by deviceTimeoutMs), appraise it, sign. Post-update:
 * appraise the completion the request carries (nothing is collected), sign. Pre-update with relayed evidence (the
 * background-check model, RFC 9334: the requester collected it with its nonce-value): appraised exactly as collected
 * evidence, against that nonce, which must be fresh for the H(e)NB (nonce-memory.ts). Errors are RestconfError (tag,
 * app-tag, path), which the NETCONF endpoint maps to rpc-errors. The same request again from the same client is
 * answered with the first one's outcome (request-outcomes.ts): a requester whose answer was lost may send it again.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { signResult } from '../tokens/index.js';
import type { ResultClaimsInput, SigningKey } from '../tokens/index.js';
import type { CompletionInput, DeviceEvidence } from './appraise.js';
import { akRefused, appraisePostUpdate, appraisePreUpdate } from './appraise-phase.js';
import { postUpdateClaims, preUpdateClaims } from './claims.js';
import type { TokenParty } from './claims.js';
import { PveServiceError } from './errors.js';
import type { DeviceInventory, Enrolled } from './inventory.js';
import type { ConcurrencyLimit } from './limiter.js';
import type { PveReferences } from './references.js';
import { RestconfError } from './restconf.js';
import type { EvidenceCollector, IntegrityInput, IntegrityOutput } from './types.js';
import { genuineClock } from './appraise-tpm.js';
import type { TpmEvidenceAppraisal } from './appraise-tpm.js';
import type { TpmClock, TpmClocks } from './tpm-clocks.js';
import type { AkBindings } from './ak-binding.js';
import type { CredentialAnswer } from './types.js';
import { NonceMemory } from './nonce-memory.js';
import { RequestOutcomes } from './request-outcomes.js';

/** relayed evidence: how long, and how many, appraised nonces are remembered by default (nonce-memory.ts) */
export const DEFAULT_NONCE_WINDOW_MS = 3_600_000;
export const DEFAULT_NONCES_REMEMBERED = 200_000;
/** the outcomes kept for repeated requests (request-outcomes.ts): at most this many, for the token lifetime */
export const DEFAULT_OUTCOMES_KEPT = 10_000;

export interface VerifierParts {
  inventory: DeviceInventory;
  references: PveReferences;
  collector: EvidenceCollector;
  limit: ConcurrencyLimit;
  signingKey: SigningKey;
  party: TokenParty;
  /** token lifetime, s */
  ttlSec: number;
  deviceTimeoutMs: number;
  log: Logger;
  /** each TPM device's last TPM clock (tpm-clocks.ts): the rebooted claim, a clock going backwards refused */
  clocks?: TpmClocks;
  /** the AKs that passed the credential challenge (ak-binding.ts); without it no challenge is made */
  bindings?: AkBindings;
  /** the nonces of relayed evidence appraised so far (nonce-memory.ts; default: one hour, at most 200,000) */
  relayedNonces?: NonceMemory;
  /** the outcomes kept for repeated requests (request-outcomes.ts; default: the token lifetime, at most 10,000) */
  outcomes?: RequestOutcomes<IntegrityOutput>;
}

export class PveVerifier {
  private readonly inflight = new Set<AbortController>();
  private readonly relayedNonces: NonceMemory;
  private readonly outcomes: RequestOutcomes<IntegrityOutput>;

  constructor(private readonly p: VerifierParts) {
    this.relayedNonces = p.relayedNonces ?? new NonceMemory({ windowMs: DEFAULT_NONCE_WINDOW_MS, max: DEFAULT_NONCES_REMEMBERED });
    this.outcomes = p.outcomes ?? new RequestOutcomes({ windowMs: Math.min(p.ttlSec * 1000, DEFAULT_NONCE_WINDOW_MS), max: DEFAULT_OUTCOMES_KEPT });
  }

  /**
   * An integrity request from `client` (types.ts RESTCONF_CLIENT, netconfClient(user)). The same request again (same client,
   * H(e)NB, nonce-value and checked input) is answered with the first one's outcome, joined while it runs
   * (request-outcomes.ts); anything else is a new request (verifyOnce), and the first of its key is kept.
   */
  verify(input: IntegrityInput, client: string): Promise<IntegrityOutput> {
    const key = `${client}\0${input.henbId}\0${input.nonceText}`;
    const digest = inputDigest(input);
    const kept = this.outcomes.find(key, digest);
    if (kept !== undefined && kept !== 'other') {
      this.p.log.info('integrity-request repeated: answered with the first one\'s outcome', { henbId: input.henbId, jobId: input.jobId, client });
      return kept;
    }
    const outcome = this.verifyOnce(input);
    if (kept === undefined) {
      this.outcomes.keep(key, digest, outcome);
      // a refusal (RestconfError) is an answer, repeated as given; an unexpected failure is not kept
      outcome.catch((e: unknown) => {
        if (!(e instanceof RestconfError)) this.outcomes.forget(key, outcome);
      });
    }
    return outcome;
  }

  /** collect (pre-update) or take (post-update) the evidence, appraise it, sign the result */
  private async verifyOnce(input: IntegrityInput): Promise<IntegrityOutput> {
    const dev = this.p.inventory.get(input.henbId);
    if (!dev) {
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'unknown-henb',
        'error-path': '/henb-sw-verify-pve:integrity-request/input/henb-id', 'error-message': `unknown H(e)NB ${input.henbId}` });
    }
    if (input.completion !== undefined) return this.postUpdate(input, input.completion, dev);
    if (input.evidence !== undefined) return this.relayed(input, input.evidence, dev);
    return this.preUpdate(input, dev);
  }

  /** abort every collection in progress and let the queued ones fail (the PVE is shutting down) */
  abortAll(): void {
    for (const ac of this.inflight) ac.abort(new PveServiceError('ERR_PVE_CLOSED', 'the PVE is shutting down'));
    // queued requests go on with an aborted signal and fail at once
    this.p.limit.releaseWaiting();
  }

  private async preUpdate(input: IntegrityInput, dev: Enrolled): Promise<IntegrityOutput> {
    const ours = randomBytes(32);
    // first contact with a TPM device enrolled with its EK: its AK must pass the credential challenge
    const unbound = await this.bindAk(input.henbId, dev);
    const evidence = await this.collect(input.henbId, dev, ours);
    return this.appraised(input, dev, evidence, ours, unbound, 'collected');
  }

  /**
   * Pre-update, background-check model: the evidence the requester collected with its nonce-value, appraised as if
   * collected here (the same appraisal, against that nonce). The nonce must be fresh for the H(e)NB (nonce-memory.ts).
   * The AK's credential challenge still needs the device: made over the PVE's own session when the AK is not bound.
   */
  private async relayed(input: IntegrityInput, evidence: DeviceEvidence, dev: Enrolled): Promise<IntegrityOutput> {
    if (!this.relayedNonces.claim(input.henbId, input.nonceText)) {
      this.p.log.warn('relayed evidence refused: nonce reused', { henbId: input.henbId, jobId: input.jobId, code: 'ERR_PVE_NONCE_REUSED' });
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'nonce-reused',
        'error-path': '/henb-sw-verify-pve:integrity-request/input/nonce-value',
        'error-message': `nonce-value was appraised already for ${input.henbId}: the nonce of relayed evidence must be fresh` });
    }
    // on disk before anything is signed over it: a restart does not make this nonce fresh again
    await this.relayedNonces.persisted();
    const unbound = await this.bindAk(input.henbId, dev);
    return this.appraised(input, dev, evidence, input.nonce, unbound, 'relayed');
  }

  /** step 3's appraisal of evidence over `nonce` (or the AK's refusal), the TPM clock recorded, the result signed */
  private async appraised(input: IntegrityInput, dev: Enrolled, evidence: DeviceEvidence, nonce: Buffer, unbound: string | undefined, how: 'collected' | 'relayed'): Promise<IntegrityOutput> {
    const a = unbound !== undefined ? akRefused(unbound, evidence)
      : appraisePreUpdate(evidence, nonce, dev, await this.p.references.for(input.henbId), this.previousClock(input.henbId, dev));
    await this.recordClock(input.henbId, dev, a.tpm);
    const token = await this.sign(preUpdateClaims(this.p.party, input, evidence, a));
    this.p.log.info('integrity-request appraised', { henbId: input.henbId, jobId: input.jobId, evidence: how, evidenceFormat: a.format, earStatus: a.appraisal.status, reason: a.appraisal.reason });
    return output(a.appraisal.status, token, a.appraisal.reason);
  }

  /** the device's evidence for our nonce, within a collection slot and the device timeout */
  private collect(henbId: string, dev: Enrolled, nonce: Buffer): Promise<DeviceEvidence> {
    return this.withDevice(henbId, 'cannot collect evidence from', (signal) => this.p.collector.collect(dev.entry, nonce, signal));
  }

  /**
   * undefined when the device's AK is bound to its enrolled EK (or it has none to be bound to), else the refusal
   * reason; the challenge goes to the device like a collection (slot, timeout, henb-unreachable when not reached)
   */
  private async bindAk(henbId: string, dev: Enrolled): Promise<string | undefined> {
    const bindings = this.p.bindings;
    if (bindings === undefined || !bindings.needs(dev)) return undefined;
    const activate = this.p.collector.activateCredential?.bind(this.p.collector);
    return bindings.check(henbId, dev, (challenge) => activate === undefined
      ? Promise.resolve<CredentialAnswer>({ refused: 'the PVE\'s evidence collector cannot send activate-credential' })
      : this.withDevice(henbId, 'cannot challenge the attestation key of', (signal) => activate(dev.entry, challenge, signal)));
  }

  private async withDevice<T>(henbId: string, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const release = await this.p.limit.acquire().catch((e: unknown) => {
      this.inflight.delete(ac);
      throw e;
    });
    const timer = setTimeout(() => ac.abort(new PveServiceError('ERR_PVE_DEVICE_TIMEOUT', 'the H(e)NB did not answer in time')), this.p.deviceTimeoutMs);
    try {
      return await fn(ac.signal);
    } catch (e) {
      this.p.log.warn(`${what} the H(e)NB`, { henbId, err: e });
      const code = (e as { code?: unknown }).code;
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'operation-failed', 'error-app-tag': 'henb-unreachable',
        'error-message': `${what} ${henbId}` + (typeof code === 'string' ? ` (${code})` : '') });
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
      release();
    }
  }

  private async postUpdate(input: IntegrityInput, completion: CompletionInput, dev: Enrolled): Promise<IntegrityOutput> {
    const jobId = input.jobId as string;
    // a PVE that restarted since step 3 has not challenged the AK yet: it does so now
    const unbound = await this.bindAk(input.henbId, dev);
    const { appraisal, hardware, tpm } = unbound !== undefined ? akRefused(unbound)
      : appraisePostUpdate(completion, { henbId: input.henbId, jobId, nonce: input.nonce }, dev, this.previousClock(input.henbId, dev));
    await this.recordClock(input.henbId, dev, tpm);
    const token = await this.sign(postUpdateClaims(this.p.party, input, completion, appraisal, hardware, tpm));
    this.p.log.info('completion appraised', { henbId: input.henbId, jobId, earStatus: appraisal.status, reason: appraisal.reason });
    return output(appraisal.status, token, appraisal.reason);
  }

  /** the device's last recorded TPM clock under its enrolled AK (as it is when this appraisal begins) */
  private previousClock(henbId: string, dev: Enrolled): TpmClock | undefined {
    return dev.ak !== undefined ? this.p.clocks?.previous(henbId, dev.ak.name.toString('hex')) : undefined;
  }

  /** after a genuine quote: its clock becomes the device's record (forward only) */
  private async recordClock(henbId: string, dev: Enrolled, tpm: TpmEvidenceAppraisal | undefined): Promise<void> {
    const clock = tpm !== undefined ? genuineClock(tpm) : undefined;
    if (clock !== undefined && dev.ak !== undefined) await this.p.clocks?.record(henbId, dev.ak.name.toString('hex'), clock);
  }

  private sign(claims: ResultClaimsInput): Promise<string> {
    return signResult(claims, this.p.signingKey, { ttlSec: this.p.ttlSec });
  }
}

/** SHA-256 of a request's checked input (both transports check into the same shape, in the same member order) */
function inputDigest(input: IntegrityInput): string {
  const { henbId, nonceText, jobId, completion, evidence } = input;
  return createHash('sha256').update(JSON.stringify({ henbId, nonceText, jobId, completion, evidence })).digest('base64url');
}

function output(earStatus: string, token: string, reason: string | undefined): IntegrityOutput {
  const out: IntegrityOutput = { earStatus, token };
  if (reason !== undefined) out.reason = reason;
  return out;
}
