/**
 * The part of a Store that does not depend on the database (./types.ts is the contract; no RFC defines this
 * persistence layer): the operations a store and its transaction handles offer, and their order in this process.
 * - transaction(fn) runs one transaction at a time, in call order; a transaction opened from inside fn's async
 *   context is nested (the driver makes it a SAVEPOINT);
 * - a plain call made from inside fn's async context joins that transaction; any other plain call waits until no
 *   transaction is open;
 * - a transaction handle used after its transaction ended, and any call after close(), is ERR_STORE_CLOSED;
 *   close() waits for the open transaction to finish.
 * A driver (./sqlite.ts, ./postgres.ts) extends StoreBase with its SQL: how an operation runs, how a transaction
 * begins, commits and rolls back, how a nested one rolls back to its savepoint, and how the database is closed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StoreError } from './errors.js';
import type { Store, StoreOps, StoreTx } from './types.js';

/** Every operation of the Store contract, installed on the store and on each transaction handle. */
export const OP_NAMES = [
  'getHenb', 'putHenb', 'listHenbs', 'deleteHenb',
  'createJob', 'getJob', 'saveJobTransition', 'listActiveJobs', 'listJobs', 'listJobEvents',
  'claimJobs', 'claimExpiredJobs', 'takeJob', 'renewLeases', 'releaseJobs',
  'putResult', 'getResults', 'listResults',
  'putNonce', 'consumeNonce', 'rememberJti',
  'putReferenceLog', 'getReferenceLog', 'listReferenceLogs', 'purgeExpired', 'pruneJobs',
  'appendNotification', 'appendNotifications', 'lastNotificationId', 'listNotifications', 'pruneNotifications', 'notificationLogTimes',
  'appendAudit', 'listAudit', 'lastAudit', 'putAuditHead', 'listAuditHeads',
] as const satisfies readonly (keyof StoreOps)[];
export type OpName = (typeof OP_NAMES)[number];
// compile-time check that OP_NAMES lists every operation
type MissingOps = Exclude<keyof StoreOps, OpName>;
const _allOpsListed: MissingOps extends never ? true : never = true;
void _allOpsListed;

/** One open transaction of a store; a driver adds what it needs (its connection, ...). */
export interface TxContext {
  /** false once the transaction has ended: its handle then refuses every call */
  active: boolean;
  /** how many nested transactions (savepoints) are open inside it */
  depth: number;
  /**
   * set at commit when the commit must still become durable before the caller goes on (SQLite's sync barrier,
   * run off the main thread): transaction() awaits it after the next transaction may already begin
   */
  durable?: Promise<void>;
}

export abstract class StoreBase<C extends TxContext> implements Store {
  abstract readonly kind: Store['kind'];
  // the operations, installed by the constructor (each joins or waits for a transaction, then runs)
  declare readonly getHenb: StoreOps['getHenb'];
  declare readonly putHenb: StoreOps['putHenb'];
  declare readonly listHenbs: StoreOps['listHenbs'];
  declare readonly deleteHenb: StoreOps['deleteHenb'];
  declare readonly createJob: StoreOps['createJob'];
  declare readonly getJob: StoreOps['getJob'];
  declare readonly saveJobTransition: StoreOps['saveJobTransition'];
  declare readonly listActiveJobs: StoreOps['listActiveJobs'];
  declare readonly listJobs: StoreOps['listJobs'];
  declare readonly listJobEvents: StoreOps['listJobEvents'];
  declare readonly claimJobs: StoreOps['claimJobs'];
  declare readonly claimExpiredJobs: StoreOps['claimExpiredJobs'];
  declare readonly takeJob: StoreOps['takeJob'];
  declare readonly renewLeases: StoreOps['renewLeases'];
  declare readonly releaseJobs: StoreOps['releaseJobs'];
  declare readonly putResult: StoreOps['putResult'];
  declare readonly getResults: StoreOps['getResults'];
  declare readonly listResults: StoreOps['listResults'];
  declare readonly putNonce: StoreOps['putNonce'];
  declare readonly consumeNonce: StoreOps['consumeNonce'];
  declare readonly rememberJti: StoreOps['rememberJti'];
  declare readonly putReferenceLog: StoreOps['putReferenceLog'];
  declare readonly getReferenceLog: StoreOps['getReferenceLog'];
  declare readonly listReferenceLogs: StoreOps['listReferenceLogs'];
  declare readonly purgeExpired: StoreOps['purgeExpired'];
  declare readonly appendNotification: StoreOps['appendNotification'];
  declare readonly appendNotifications: StoreOps['appendNotifications'];
  declare readonly lastNotificationId: StoreOps['lastNotificationId'];
  declare readonly listNotifications: StoreOps['listNotifications'];
  declare readonly pruneNotifications: StoreOps['pruneNotifications'];
  declare readonly notificationLogTimes: StoreOps['notificationLogTimes'];
  declare readonly appendAudit: StoreOps['appendAudit'];
  declare readonly listAudit: StoreOps['listAudit'];
  declare readonly lastAudit: StoreOps['lastAudit'];
  declare readonly putAuditHead: StoreOps['putAuditHead'];
  declare readonly listAuditHeads: StoreOps['listAuditHeads'];
  declare readonly pruneJobs: StoreOps['pruneJobs'];
  private readonly als = new AsyncLocalStorage<C>();
  private txChain: Promise<void> = Promise.resolve();
  private txOpen = false;
  private txDone: Promise<void> = Promise.resolve();
  private closed = false;

  constructor() {
    for (const name of OP_NAMES) {
      (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => this.run(name, args);
    }
  }

  /** Runs one operation inside transaction `ctx`, or outside any when ctx is undefined (a value, a promise, or a throw). */
  protected abstract call(ctx: C | undefined, name: OpName, args: unknown[]): unknown;
  /** Begins a transaction, runs `enter` with its new context, then commits; rolls back when enter fails. */
  protected abstract runTransaction<T>(enter: (ctx: C) => Promise<T>): Promise<T>;
  /** A transaction inside `ctx`: a savepoint around fn(this.facade(ctx)), rolled back to when fn fails. */
  protected abstract nested<T>(ctx: C, fn: (tx: StoreTx) => Promise<T> | T): Promise<T>;
  /** Closes the database (no transaction is open). */
  protected abstract closeDatabase(): void | Promise<void>;

  async transaction<T>(fn: (tx: StoreTx) => Promise<T> | T): Promise<T> {
    this.checkOpen();
    const outer = this.als.getStore();
    if (outer?.active) return this.nested(outer, fn);
    const prev = this.txChain;
    let release!: () => void;
    this.txChain = new Promise<void>((r) => (release = r));
    await prev;
    let doneResolve!: () => void;
    let context: C | undefined;
    let result: T;
    try {
      this.checkOpen();
      this.txOpen = true;
      this.txDone = new Promise<void>((r) => (doneResolve = r));
      result = await this.runTransaction(async (ctx) => {
        context = ctx;
        return this.als.run(ctx, () => fn(this.facade(ctx)));
      });
    } finally {
      this.txOpen = false;
      doneResolve?.();
      release();
    }
    // committed; the connection is free for the next transaction while this one's sync barrier completes
    await context?.durable;
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.txChain;
    this.closed = true;
    await this.closeDatabase();
  }

  /** The handle fn gets: every operation runs inside ctx, and only while ctx is active. */
  protected facade(ctx: C): StoreTx {
    const tx: Record<string, unknown> = {};
    for (const name of OP_NAMES) {
      tx[name] = (...args: unknown[]) => {
        if (!ctx.active) return Promise.reject(new StoreError('ERR_STORE_CLOSED', 'the transaction has finished'));
        try {
          return Promise.resolve(this.call(ctx, name, args));
        } catch (err) {
          return Promise.reject(err);
        }
      };
    }
    tx.transaction = <T>(fn: (t: StoreTx) => Promise<T> | T): Promise<T> => {
      if (!ctx.active) return Promise.reject(new StoreError('ERR_STORE_CLOSED', 'the transaction has finished'));
      return this.nested(ctx, fn);
    };
    return tx as unknown as StoreTx;
  }

  /** Plain call: joins the transaction of the calling async context, else waits for an open one, then runs. */
  private async run(name: OpName, args: unknown[]): Promise<unknown> {
    this.checkOpen();
    const ctx = this.als.getStore();
    if (ctx?.active) return this.call(ctx, name, args);
    while (this.txOpen) await this.txDone;
    this.checkOpen();
    return this.call(undefined, name, args);
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('ERR_STORE_CLOSED', 'the store is closed');
  }
}
