// Private helper: shape checks of EAR claims, shared by sign and verify.
import { EAR_STATUSES, TRUST_CLAIMS } from './types.js';
import type { EarClaims, EarStatus } from './types.js';

const PHASES = ['pre-update', 'post-update'];

/** Returns null when the claims have the EarClaims shape, or a short description of the first problem. */
export function claimsProblem(c: Record<string, unknown>): string | null {
  for (const k of ['eat_profile', 'iss', 'sub', 'jti']) if (!nonEmpty(c[k])) return `claim ${k} must be a non-empty string`;
  const aud = c.aud;
  const audOk = (typeof aud === 'string' && aud !== '') ||
    (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== ''));
  if (!audOk) return 'claim aud must be a string or a non-empty list of strings';
  for (const k of ['iat', 'exp']) if (!Number.isFinite(c[k])) return `claim ${k} must be a number`;
  if (c.nbf !== undefined && !Number.isFinite(c.nbf)) return 'claim nbf must be a number';
  if (c.eat_nonce !== undefined && !nonEmpty(c.eat_nonce)) return 'claim eat_nonce must be a non-empty string';
  if (!isStatus(c.ear_status)) return 'claim ear_status must be affirming, warning, contraindicated or none';
  const vid = c.ear_verifier_id as Record<string, unknown> | undefined;
  if (!isObject(vid) || typeof vid.developer !== 'string' || typeof vid.build !== 'string') {
    return 'claim ear_verifier_id must have developer and build strings';
  }
  if (!isObject(c.submods)) return 'claim submods must be an object';
  for (const [name, sm] of Object.entries(c.submods)) {
    if (!isObject(sm)) return `submod ${name} must be an object`;
    if (!isStatus(sm.ear_status)) return `submod ${name} has an invalid ear_status`;
    if (sm['job-id'] !== undefined && (typeof sm['job-id'] !== 'string' || sm['job-id'] === '')) return `submod ${name} job-id must be a non-empty string`;
    if (!PHASES.includes(sm.phase as string)) return `submod ${name} phase must be pre-update or post-update`;
    if (sm.components !== undefined && !Array.isArray(sm.components)) return `submod ${name} components must be a list`;
    const tv = sm.ear_trustworthiness_vector;
    if (tv !== undefined) {
      if (!isObject(tv)) return `submod ${name} ear_trustworthiness_vector must be an object`;
      for (const [k, v] of Object.entries(tv)) {
        if (!(TRUST_CLAIMS as readonly string[]).includes(k)) return `submod ${name} ear_trustworthiness_vector has an unknown claim ${k}`;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -128 || v > 127) return `submod ${name} ear_trustworthiness_vector.${k} must be an integer -128..127`;
      }
    }
    if (sm.rebooted !== undefined && typeof sm.rebooted !== 'boolean') return `submod ${name} rebooted must be a boolean`;
    const tc = sm['tpm-clock'];
    if (tc !== undefined && !(isObject(tc) && ['reset-count', 'restart-count', 'clock'].every((k) => Number.isSafeInteger(tc[k]) && (tc[k] as number) >= 0))) {
      return `submod ${name} tpm-clock must be {reset-count, restart-count, clock} (non-negative integers)`;
    }
    const ml = sm['measurement-log'];
    if (ml !== undefined && !(Array.isArray(ml) && ml.every((e) => isObject(e) && typeof e.component === 'string' && e.component !== ''
      && typeof e.digest === 'string' && /^[0-9a-f]{64}$/.test(e.digest)))) {
      return `submod ${name} measurement-log must be a list of {component, digest (64 lowercase hex)}`;
    }
  }
  return null;
}

/**
 * a non-empty string (a module function, not a closure per call: tsx, which runs the project, wraps each named
 * closure in esbuild's __name, ~1 us a call)
 */
function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

export function isStatus(v: unknown): v is EarStatus {
  return typeof v === 'string' && (EAR_STATUSES as readonly string[]).includes(v);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type { EarClaims };
