/**
 * The flow's single-use nonces, stored before they leave: one per integrity request to the PVE (steps 2-4, and
 * the checks after a rollback), one per software-update (the device signs its completion over it).
 */
import type { StoreOps } from '../store/index.js';
import type { EarClaims } from '../tokens/index.js';
import { OamError } from './errors.js';
import type { RunnerContext } from './runner-context.js';
import type { Job } from './transition.js';

/** clock slack a stored nonce stays valid past its step */
const NONCE_SLACK_MS = 300_000;

/** store a PVE request's nonce, valid for the PVE step (+ 5 minutes of clock slack) */
export async function putPveNonce(ops: StoreOps, nonce: string, jobId: string, henbId: string, at: number, pveMs: number): Promise<void> {
  await ops.putNonce({ nonce, purpose: 'pve-integrity', jobId, henbId, createdAt: at, expiresAt: at + pveMs + NONCE_SLACK_MS });
}

/** a fresh single-use nonce for a PVE request, stored */
export async function freshPveNonce(ctx: RunnerContext, jobId: string, henbId: string, at: number, pveMs: number): Promise<string> {
  const nonce = ctx.o.newNonce();
  await putPveNonce(ctx.o.store, nonce, jobId, henbId, at, pveMs);
  return nonce;
}

/** the completion's nonce: stored (single use) before it leaves in the software-update */
export async function freshUpdateNonce(ctx: RunnerContext, job: Job): Promise<string> {
  const at = ctx.clock.now();
  const nonce = ctx.o.newNonce();
  await ctx.o.store.putNonce({
    nonce, purpose: 'update-completion', jobId: job.jobId, henbId: job.henbId, createdAt: at,
    expiresAt: at + job.timeouts.send + job.timeouts.completion + NONCE_SLACK_MS,
  });
  return nonce;
}

/** A PVE verdict over `nonce`: the token verified, then the nonce used up (ERR_OAM_NONCE when used or unknown). */
export async function verifiedVerdict(ctx: RunnerContext, token: string, nonce: string): Promise<EarClaims> {
  const claims = await ctx.o.tokens.verifyPve(token, nonce);
  const used = await ctx.o.store.consumeNonce(nonce, ctx.clock.now());
  if (!used.ok) throw new OamError('ERR_OAM_NONCE', `nonce ${used.reason}`);
  return claims;
}
