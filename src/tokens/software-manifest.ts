/**
 * A vendor-signed software manifest (issue 10 item 4, policy require-signed-software): a JWS over the image's
 * digest, its version and the component it replaces, verified against the configured vendor keys before anything
 * is sent to a device.
 *
 * Header: { alg: ES256 | EdDSA, kid: the vendor key's RFC 7638 thumbprint, typ: 'swm+jwt' }.
 * Claims: iss (the vendor), iat, exp? (optional: a manifest may stay valid for the image's life), digest (SHA-256
 * of the image, 64 lowercase hex), version (1..64 characters), component (1..64 characters, e.g. rootfs).
 * Verification fails closed with verifyResult's order and codes (alg allow-list, typ, key, signature, claims,
 * exp / iat); comparing digest, version and component with the update is the caller's.
 */
import { TokenError } from './errors.js';
import { signCompact } from './jws.js';
import { toLowS } from './low-s.js';
import { verifyTyped } from './verify.js';
import type { Jwks, PublicJwk, SigningAlg, SigningKey } from './types.js';

export const SOFTWARE_MANIFEST_TYP = 'swm+jwt';

export interface SoftwareManifest {
  iss: string;
  iat: number;
  exp?: number;
  /** SHA-256 of the image, 64 lowercase hex */
  digest: string;
  version: string;
  component: string;
}

export interface VerifySoftwareManifestOptions {
  /** the vendors' keys */
  jwks?: Jwks;
  keys?: PublicJwk[];
  /** accepted issuers (default: any issuer whose key is configured) */
  issuer?: string | string[];
  algorithms?: readonly SigningAlg[];
  clockToleranceSec?: number;
  /** clock, seconds */
  now?: () => number;
}

/** Null when the claims are a software manifest, else the first problem. */
export function softwareManifestProblem(c: Record<string, unknown>): string | null {
  if (typeof c.iss !== 'string' || c.iss === '') return 'claim iss must be a non-empty string';
  if (!Number.isFinite(c.iat)) return 'claim iat must be a number';
  if (c.exp !== undefined && !Number.isFinite(c.exp)) return 'claim exp must be a number';
  if (typeof c.digest !== 'string' || !/^[0-9a-f]{64}$/.test(c.digest)) return 'claim digest must be 64 lowercase hex digits';
  for (const k of ['version', 'component']) {
    const v = c[k];
    if (typeof v !== 'string' || v === '' || v.length > 64) return `claim ${k} must be 1..64 characters`;
  }
  return null;
}

/** Sign a manifest (a vendor's tool; tests): iat = now unless given. */
export async function signSoftwareManifest(m: Omit<SoftwareManifest, 'iat'> & { iat?: number }, key: SigningKey, options: { now?: () => number } = {}): Promise<string> {
  const claims: SoftwareManifest = { ...m, iat: m.iat ?? Math.floor(options.now?.() ?? Date.now() / 1000) };
  const problem = softwareManifestProblem(claims as unknown as Record<string, unknown>);
  if (problem !== null) throw new TokenError('ERR_TOKEN_CLAIMS', `cannot sign: ${problem}`);
  const jws = signCompact({ alg: key.alg, kid: key.kid, typ: SOFTWARE_MANIFEST_TYP }, claims as unknown as Record<string, unknown>, key.privateKey);
  return toLowS(jws, key.alg);
}

/** Verify a manifest with the vendors' keys, fail closed; resolves with its claims. */
export async function verifySoftwareManifest(jws: string, options: VerifySoftwareManifestOptions): Promise<SoftwareManifest> {
  const r = await verifyTyped(jws.trim(), { ...options, typ: SOFTWARE_MANIFEST_TYP, shape: softwareManifestProblem });
  return r.claims as unknown as SoftwareManifest;
}
