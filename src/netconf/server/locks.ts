/**
 * lock / unlock of the running datastore (RFC 6241 sections 7.5 and 7.6). kill-session (7.9) is
 * base-ops.ts createKillSession, given LockManager.releaseIfHeldBy as its hook (standard-ops.ts).
 *
 * - lock fails with lock-denied, error-info <session-id> of the holder, when any session holds it
 *   (including the caller).
 * - unlock by a session that does not hold the lock fails with operation-failed.
 * - the lock is released when the holding session ends (7.5: "... the lock is released when the
 *   session ... terminates").
 * - while locked, edits from other sessions fail with in-use (error-info <session-id> of the holder).
 */
import { NetconfError, info } from '../rpc-error.js';
import type { XmlElement } from '../xml/index.js';
import type { OperationContext, OperationHandler } from './operations.js';
import { checkParameters, requireRunning } from './params.js';

export interface LockHolder {
  sessionId: number;
  since: Date;
}

export class LockManager {
  private holder: LockHolder | undefined;
  private release: (() => void) | undefined;

  /** who holds the running lock, if anyone */
  get running(): LockHolder | undefined {
    return this.holder;
  }

  lock(sessionId: number, signal: AbortSignal): void {
    if (this.holder) {
      throw new NetconfError({
        type: 'protocol', tag: 'lock-denied',
        message: `the running datastore is locked by session ${this.holder.sessionId}`,
        info: [info.sessionId(this.holder.sessionId)],
      });
    }
    if (signal.aborted) return;
    this.holder = { sessionId, since: new Date() };
    const onEnd = (): void => this.releaseIfHeldBy(sessionId);
    signal.addEventListener('abort', onEnd, { once: true });
    this.release = () => signal.removeEventListener('abort', onEnd);
  }

  unlock(sessionId: number): void {
    if (!this.holder || this.holder.sessionId !== sessionId) {
      throw new NetconfError({
        type: 'protocol', tag: 'operation-failed',
        message: this.holder ? `the lock is held by session ${this.holder.sessionId}` : 'the running datastore is not locked',
        info: this.holder ? [info.sessionId(this.holder.sessionId)] : [],
      });
    }
    this.releaseIfHeldBy(sessionId);
  }

  /** throw in-use when another session holds the lock */
  checkWrite(sessionId: number): void {
    if (this.holder && this.holder.sessionId !== sessionId) {
      throw new NetconfError({
        type: 'protocol', tag: 'in-use',
        message: `the running datastore is locked by session ${this.holder.sessionId}`,
        info: [info.sessionId(this.holder.sessionId)],
      });
    }
  }

  releaseIfHeldBy(sessionId: number): void {
    if (this.holder?.sessionId !== sessionId) return;
    this.holder = undefined;
    this.release?.();
    this.release = undefined;
  }
}

export function createLock(locks: LockManager): OperationHandler {
  return async (op: XmlElement, ctx: OperationContext) => {
    checkParameters(op, ['target']);
    requireRunning(op, 'target', true);
    locks.lock(ctx.session.id, ctx.session.signal);
    return 'ok';
  };
}

export function createUnlock(locks: LockManager): OperationHandler {
  return async (op: XmlElement, ctx: OperationContext) => {
    checkParameters(op, ['target']);
    requireRunning(op, 'target', true);
    locks.unlock(ctx.session.id);
    return 'ok';
  };
}
