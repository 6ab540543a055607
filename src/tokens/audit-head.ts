/**
 * Signed heads of the audit log (src/store/audit.ts): a JWS (compact) over {seq, hash, iat} with the OAM's
 * signing key, header {alg, kid, typ: 'hsv-audit-head+jws'}. The payload is JSON, the signature is in low-S form
 * (ES256), as for result tokens. Verification fails closed: alg allow-list and typ before any key is touched, the
 * key by kid from the JWKS given (the OAM's jwks.json keeps retired keys, so heads signed before a rotation verify).
 */
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { toLowS, isHighS, signatureOf } from './low-s.js';
import { keyObject } from './verify.js';
import { DEFAULT_ALGORITHMS } from './types.js';
import type { Jwks, SigningKey } from './types.js';

export const AUDIT_HEAD_TYP = 'hsv-audit-head+jws';
const COMPACT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Signs the chain head (seq, hash) with `key`; iat is seconds. */
export async function signAuditHead(head: { seq: number; hash: string }, key: SigningKey, nowMs: number = Date.now()): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify({ seq: head.seq, hash: head.hash, iat: Math.floor(nowMs / 1000) }));
  const jws = await new CompactSign(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: AUDIT_HEAD_TYP }).sign(key.privateKey);
  return toLowS(jws, key.alg);
}

export type AuditHeadCheck = { ok: true; seq: number; hash: string; kid: string; iat: number } | { ok: false; reason: string };

/** A checker for src/store verifyAuditChain: verifies a head's JWS with the keys of `jwks`. Never throws. */
export function auditHeadChecker(jwks: Jwks): (jws: string) => Promise<AuditHeadCheck> {
  return async (jws) => {
    if (typeof jws !== 'string' || !COMPACT_RE.test(jws)) return { ok: false, reason: 'not a compact JWS' };
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(jws) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'its header is not valid JSON' };
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !(DEFAULT_ALGORITHMS as readonly string[]).includes(alg)) return { ok: false, reason: `algorithm ${JSON.stringify(alg)} is not allowed` };
    if (header.typ !== AUDIT_HEAD_TYP) return { ok: false, reason: `typ is not ${AUDIT_HEAD_TYP}` };
    if (header.crit !== undefined) return { ok: false, reason: 'it has crit header parameters' };
    const kid = header.kid;
    if (typeof kid !== 'string') return { ok: false, reason: 'it names no kid' };
    const candidates = jwks.keys.filter((k) => k.alg === alg && k.kid === kid);
    if (candidates.length === 0) return { ok: false, reason: `no key with kid ${kid} in the JWKS given` };
    if (alg === 'ES256' && isHighS(signatureOf(jws))) return { ok: false, reason: 'signature verification failed' };
    for (const k of candidates) {
      try {
        const { payload } = await compactVerify(jws, keyObject(k), { algorithms: [alg] });
        const p = JSON.parse(Buffer.from(payload).toString('utf8')) as { seq?: unknown; hash?: unknown; iat?: unknown };
        if (!Number.isSafeInteger(p.seq) || typeof p.hash !== 'string' || !/^[0-9a-f]{64}$/.test(p.hash) || !Number.isSafeInteger(p.iat)) {
          return { ok: false, reason: 'its payload is not {seq, hash, iat}' };
        }
        return { ok: true, seq: p.seq as number, hash: p.hash, kid, iat: p.iat as number };
      } catch {
        // the next candidate
      }
    }
    return { ok: false, reason: 'signature verification failed' };
  };
}
