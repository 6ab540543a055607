/**
 * The part of a Store that does not depend on the database (./types.ts is the contract; no RFC defines this
 * persistence layer): the operations a store and its transaction handles offer, and their order in this process.
 * - transaction(fn) runs one transaction at a time, in call order; a transaction opened from inside fn's async
 *   context is nested (the driver makes it a SAVEPOINT);
 * - with group commit (the `groupCommit` option), the transactions called while the writer is busy, or in the
 *   same turn of the event loop as the first one, run together as one database transaction (BEGIN, then each in
 *   call order inside a SAVEPOINT of its own, then one COMMIT); a failing one rolls back to its savepoint and
 *   rejects alone, every other resolves only after the shared COMMIT (and its sync barrier), and a failed COMMIT
 *   rejects them all and stores none of them (see runGroup); the driver may have plain writes join the groups too
 *   (plainWriteJoinsGroup: SQLite's every write, PostgreSQL's audited ones, which take the lock anyway);
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

/** The operations that write (the others only read). */
export const WRITE_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'putHenb', 'deleteHenb', 'createJob', 'saveJobTransition', 'claimJobs', 'claimExpiredJobs', 'takeJob', 'renewLeases', 'releaseJobs',
  'putResult', 'putNonce', 'consumeNonce', 'rememberJti', 'putReferenceLog', 'purgeExpired', 'pruneJobs',
  'appendNotification', 'appendNotifications', 'pruneNotifications', 'appendAudit', 'putAuditHead',
]);
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
  /**
   * which transaction of a group runs now (set by StoreBase): a handle refuses calls once its own transaction has
   * ended, even while the group's database transaction goes on
   */
  member?: number;
}

/** Options every driver takes. */
export interface StoreBaseOptions {
  /** group commit of concurrent transactions (see the header); default false: one COMMIT per transaction */
  groupCommit?: boolean;
}

/** COMMITs of top-level transactions, and the transactions they committed (tests and benchmarks read them). */
export interface CommitStats {
  /** database COMMITs of transaction(): one per group */
  commits: number;
  /** transactions committed by them (a transaction that failed alone in its group is not counted) */
  transactions: number;
}

/** A top-level transaction waiting for its group. */
interface Queued {
  fn: (tx: StoreTx) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The next turn of the event loop (its check phase, after the I/O callbacks of this one), so the transactions
 * requested by this turn's callbacks form one group; node's own setImmediate, taken before a test may fake timers.
 */
const realSetImmediate = globalThis.setImmediate;
function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    realSetImmediate(resolve);
  });
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
  private readonly groupCommit: boolean;
  /** transactions called and not yet taken into a group */
  private readonly queued: Queued[] = [];
  /** groups scheduled on txChain that have not ended */
  private groupsScheduled = 0;
  private members = 0;
  readonly commitStats: CommitStats = { commits: 0, transactions: 0 };
  /** what the transaction handles of this store call: made once, not per transaction */
  private readonly driver: TxDriver<C> = {
    call: (ctx, name, args) => this.call(ctx, name, args),
    nested: (ctx, fn) => this.nested(ctx, fn),
  };

  constructor(options: StoreBaseOptions = {}) {
    this.groupCommit = options.groupCommit === true;
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
    return new Promise<T>((resolve, reject) => {
      this.queued.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      // with group commit, a transaction called while one waits for its group joins that group
      if (this.groupCommit && this.queued.length > 1) return;
      this.schedule();
    });
  }

  /**
   * Schedules the next group behind the ones under way: with group commit, every transaction queued when it starts
   * (and, when the writer was idle, it starts in the next turn of the event loop, so that this turn's transactions
   * join it); without, the first one queued alone.
   */
  private schedule(): void {
    // the writer is idle: start in the next turn (asked for now, so it comes before what this turn asks for later)
    const turn = this.groupCommit && this.groupsScheduled === 0 ? nextTurn() : undefined;
    this.groupsScheduled++;
    this.txChain = this.txChain
      .then(() => turn)
      .then(() => this.runGroup(this.groupCommit ? this.queued.splice(0) : this.queued.splice(0, 1)))
      .finally(() => { this.groupsScheduled--; });
  }

  /**
   * One database transaction for `group`, in call order. A transaction that fails alone (its savepoint rolled
   * back) rejects with its own error; when the database transaction fails (BEGIN, a failure the database ended the
   * transaction for, COMMIT), every other rejects with that error and none of them is stored. The others resolve
   * after the COMMIT and its sync barrier; the next group may begin while the barrier runs. Never rejects.
   */
  private async runGroup(group: Queued[]): Promise<void> {
    if (group.length === 0) return;
    const outcomes: Outcome[] = [];
    let context: C | undefined;
    let doneResolve: (() => void) | undefined;
    try {
      this.checkOpen();
      this.txOpen = true;
      this.txDone = new Promise<void>((r) => (doneResolve = r));
      await this.runTransaction((ctx) => {
        context = ctx;
        return this.als.run(ctx, () => this.runMembers(ctx, group, outcomes));
      });
    } catch (err) {
      group.forEach((m, i) => m.reject(failure(outcomes[i]) ?? err));
      return;
    } finally {
      this.txOpen = false;
      // Node 20's AsyncLocalStorage tracks every promise and async resource of the process while it is enabled
      // (about 3x the cost of an await); only a transaction's calls need it, so it is on only while a group runs
      // (the next group's als.run turns it on again): see the AsyncLocalStorage section of docs/performance.md
      this.als.disable();
      doneResolve?.();
    }
    this.commitStats.commits++;
    this.commitStats.transactions += outcomes.filter((o) => o.ok).length;
    void settle(group, outcomes, context?.durable);
  }

  /** each transaction of the group in turn: alone as it is, several each in a savepoint of its own */
  private async runMembers(ctx: C, group: Queued[], outcomes: Outcome[]): Promise<void> {
    for (const m of group) {
      ctx.member = ++this.members;
      if (group.length === 1) {
        outcomes.push({ ok: true, value: await m.fn(this.facade(ctx)) });
        continue;
      }
      try {
        outcomes.push({ ok: true, value: await this.nested(ctx, m.fn) });
      } catch (error) {
        outcomes.push({ ok: false, error });
        // the database ended the whole transaction (SQLite does for e.g. a full disk): nothing more may run in it
        if (this.transactionLost(ctx)) throw error;
      }
    }
  }

  /**
   * With group commit: whether a plain call of `name` outside any transaction runs as a transaction of the next
   * group (a write that commits anyway: one COMMIT fewer) rather than on its own. None by default.
   */
  protected plainWriteJoinsGroup(_name: OpName): boolean {
    return false;
  }

  /** whether the database ended transaction `ctx` by itself (a driver that can tell overrides this) */
  protected transactionLost(_ctx: C): boolean {
    return false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.txChain;
    this.closed = true;
    await this.closeDatabase();
  }

  /** The handle fn gets: every operation runs inside ctx, and only while ctx is active (TxHandle). */
  protected facade(ctx: C): StoreTx {
    return new TxHandle(this.driver, ctx) as unknown as StoreTx;
  }

  /** Plain call: joins the transaction of the calling async context, else waits for an open one, then runs. */
  private async run(name: OpName, args: unknown[]): Promise<unknown> {
    this.checkOpen();
    const ctx = this.als.getStore();
    if (ctx?.active) return this.call(ctx, name, args);
    // with group commit, a write that would commit on its own shares the next group's COMMIT instead
    if (this.groupCommit && this.plainWriteJoinsGroup(name)) {
      return this.transaction((tx) => (tx[name] as (...a: unknown[]) => Promise<unknown>)(...args));
    }
    while (this.txOpen) await this.txDone;
    this.checkOpen();
    return this.call(undefined, name, args);
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('ERR_STORE_CLOSED', 'the store is closed');
  }
}

/** What a transaction handle asks of its store (StoreBase's protected operations, reached without a cast). */
interface TxDriver<C extends TxContext> {
  call(ctx: C, name: OpName, args: unknown[]): unknown;
  nested<T>(ctx: C, fn: (tx: StoreTx) => Promise<T> | T): Promise<T>;
}

/**
 * The handle a transaction's fn gets (StoreBase.facade): every operation runs inside its transaction `ctx`, and only
 * while that is active and, in a group, still its own member's (a handle kept after its transaction ended rejects
 * ERR_STORE_CLOSED). One object per transaction: its operations are on the prototype, installed once from OP_NAMES,
 * and find their transaction through `this` (issue 15: a closure per operation, 37, and one for transaction() were
 * made for every transaction on the OAM's main thread). So an operation is called on its handle (`tx.getHenb(id)`),
 * not detached from it.
 */
class TxHandle<C extends TxContext> {
  private readonly member: number | undefined;

  constructor(private readonly driver: TxDriver<C>, private readonly ctx: C) {
    this.member = ctx.member;
  }

  static {
    for (const name of OP_NAMES) {
      Object.defineProperty(TxHandle.prototype, name, {
        value: function op(this: TxHandle<TxContext>, ...args: unknown[]): Promise<unknown> { return this.run(name, args); },
        writable: true, configurable: true,
      });
    }
  }

  transaction<T>(fn: (t: StoreTx) => Promise<T> | T): Promise<T> {
    if (this.ended()) return transactionFinished();
    return this.driver.nested(this.ctx, fn);
  }

  private run(name: OpName, args: unknown[]): Promise<unknown> {
    if (this.ended()) return transactionFinished();
    try {
      return Promise.resolve(this.driver.call(this.ctx, name, args));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private ended(): boolean {
    return !this.ctx.active || this.ctx.member !== this.member;
  }
}

function transactionFinished(): Promise<never> {
  return Promise.reject(new StoreError('ERR_STORE_CLOSED', 'the transaction has finished'));
}

/** the error of a transaction that failed alone, if it did */
function failure(o: Outcome | undefined): unknown {
  return o !== undefined && !o.ok ? o.error : undefined;
}

/** after the group's COMMIT: each transaction's outcome, once the sync barrier (if any) is done */
async function settle(group: Queued[], outcomes: Outcome[], durable: Promise<void> | undefined): Promise<void> {
  let barrier: { error: unknown } | undefined;
  try {
    await durable;
  } catch (error) {
    barrier = { error };
  }
  group.forEach((m, i) => {
    const o = outcomes[i]!;
    if (!o.ok) m.reject(o.error);
    else if (barrier !== undefined) m.reject(barrier.error);
    else m.resolve(o.value);
  });
}
