/**
 * The result token: the tokens port the flow uses (ResultTokens, src/tokens behind it in tokens-adapter.ts) and
 * the OAM's final result of a software update, signed as EAR claims (docs/architecture.md "Results").
 */
import type { EarClaims, EarStatus, EarSubmod, ResultClaimsInput } from '../tokens/index.js';
import { componentResults } from './component-results.js';
import type { Job } from './transition.js';
import type { ReferenceValuesInput } from './ports.js';

export type { ReferenceValuesInput };

/** Tokens as the flow uses them (src/tokens behind it; see createResultTokens in tokens-adapter.ts). */
export interface ResultTokens {
  /**
   * Verify a PVE token before trusting it: algorithm allow-list, signature, issuer, audience, max age,
   * eat_nonce === expectedNonce, jti unseen. Rejects with a coded error (ERR_TOKEN_*) otherwise.
   */
  verifyPve(token: string, expectedNonce: string): Promise<EarClaims>;
  /** Sign the OAM's final result (iss, aud, exp filled in by the implementation when omitted). */
  signFinal(input: Omit<ResultClaimsInput, 'iss' | 'aud' | 'ear_verifier_id'>): Promise<string>;
  /**
   * Optional (the OAM as Reference Value Provider): sign the reference values of a verified update as a JWS for the
   * PVE (src/tokens reference-values). Without it no reference values are provided.
   */
  signReferenceValues?(input: ReferenceValuesInput): Promise<string>;
}

/**
 * The OAM's signing of reference values, given to a PVE client that signs when it knows how the values travel
 * (PveClient.signAndProvideReferenceValues): one H(e)NB's values as a single statement, or several H(e)NBs' as one
 * list statement (src/tokens reference-values: typ rv+jwt, rv-list+jwt). tokens-adapter.ts makes it.
 */
export interface ReferenceValuesSigner {
  one(values: ReferenceValuesInput): Promise<string>;
  list(values: readonly ReferenceValuesInput[]): Promise<string>;
}

/** EAR status of the OAM's final result. */
export function finalEarStatus(job: Job): EarStatus {
  switch (job.state) {
    case 'verified': return 'affirming';
    case 'mismatch': return 'contraindicated';
    case 'refused': return job.pve?.earStatus === 'contraindicated' ? 'contraindicated' : job.pve?.earStatus === 'warning' ? 'warning' : 'none';
    default: return 'none';
  }
}

/** The software-update submodule of a final job's result: the job, its software and what the device reported. */
export function resultSubmod(job: Job): EarSubmod {
  const r = job.result!;
  const sub: EarSubmod = {
    ear_status: finalEarStatus(job),
    'job-id': job.jobId,
    phase: 'post-update',
    reason: r.reason,
    'software-uri': job.request.uri,
    ...(job.softwareRim !== undefined ? { 'software-rim': job.softwareRim } : {}),
    ...(job.expectedRim !== undefined ? { 'expected-rim': job.expectedRim } : {}),
    ...(job.completion?.tim !== undefined ? { 'reported-tim': job.completion.tim } : {}),
    ...(job.request.version !== undefined ? { 'software-version': job.request.version } : {}),
    ...(r.component !== undefined ? { 'first-mismatch': r.component } : {}),
    ...(job.completion?.evidenceFormat !== undefined ? { 'evidence-format': job.completion.evidenceFormat } : {}),
    ...(job.completion?.activation !== undefined ? { activation: job.completion.activation } : {}),
    // the completion was appraised as a quote by the device's enrolled TPM AK (AR4SI hardware: affirming)
    ...(job.completion?.evidenceFormat === 'tpm2-quote' ? { ear_trustworthiness_vector: { hardware: 2 } } : {}),
  };
  const comps = componentResults(job);
  if (comps !== undefined) sub.components = comps;
  return sub;
}

/** Sign the OAM's final result of a job in a final state (job.result set), issued at `now` (ms). */
export function signResult(tokens: ResultTokens, job: Job, now: number): Promise<string> {
  const sub = resultSubmod(job);
  return tokens.signFinal({
    sub: job.henbId,
    ear_status: sub.ear_status,
    iat: Math.floor(now / 1000),
    submods: { 'software-update': sub },
  });
}
