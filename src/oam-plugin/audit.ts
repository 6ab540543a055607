/**
 * The plugin's side of the audit log (src/store/audit.ts keeps the chain): it appends what the server tells
 * (NACM denials, config edits, failed logins: NetconfRegistry.onAudit) and seals the chain: it signs the head
 * with the OAM key (src/tokens signAuditHead) every `sealIntervalMs` when the head moved, and once more at close.
 *
 * Why periodic and not per record: bench/audit.ts measures a record's append alone against an append plus an
 * ES256 signature and the head's row; the signature would triple the cost of every job transition, and it would
 * not close the one gap a chain in the database has (removing the newest records and their heads together). An
 * operator closes that gap by keeping `henb-sw-verify audit head` output elsewhere (docs/security.md).
 */
import type { Logger } from '../log/logger.js';
import type { AuditHeadRecord, AuditInput, Store } from '../store/index.js';
import type { SigningKey } from '../tokens/index.js';
import { signAuditHead } from '../tokens/index.js';

export interface AuditTrailOptions {
  store: Store;
  key: SigningKey;
  log: Logger;
  /** how often the head is signed when it moved (default 60 s; 0: only at close and on seal()) */
  sealIntervalMs?: number;
  now?: () => number;
}

export class AuditTrail {
  private readonly pending = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private lastSealed: { seq: number; hash: string } | undefined;
  private sealing: Promise<AuditHeadRecord | undefined> | undefined;
  private closed = false;

  constructor(private readonly o: AuditTrailOptions) {}

  /** Starts the periodic seal. */
  start(): void {
    const every = this.o.sealIntervalMs ?? 60_000;
    if (every > 0 && this.timer === undefined) {
      this.timer = setInterval(() => void this.seal().catch(() => undefined), every);
      this.timer.unref();
    }
  }

  /** Appends a record without waiting (a failure is logged at error: the decision itself stands). */
  record(entry: AuditInput): void {
    if (this.closed) return;
    const p = this.o.store.appendAudit(entry).catch((err: unknown) => {
      this.o.log.error('audit record not written', { err, action: entry.action, object: entry.object });
    }).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Appends a record and waits for it. */
  async append(entry: AuditInput): Promise<void> {
    await this.o.store.appendAudit(entry);
  }

  /** Signs the current head unless this trail signed it already; returns the head kept, if any. */
  seal(): Promise<AuditHeadRecord | undefined> {
    this.sealing ??= this.sealNow().finally(() => { this.sealing = undefined; });
    return this.sealing;
  }

  private async sealNow(): Promise<AuditHeadRecord | undefined> {
    try {
      const head = await this.o.store.lastAudit();
      if (head === undefined || (this.lastSealed?.seq === head.seq && this.lastSealed.hash === head.hash)) return undefined;
      const now = (this.o.now ?? Date.now)();
      const jws = await signAuditHead(head, this.o.key, now);
      const rec = await this.o.store.putAuditHead({ seq: head.seq, hash: head.hash, kid: this.o.key.kid, jws, signedAt: now });
      this.lastSealed = { seq: head.seq, hash: head.hash };
      return rec;
    } catch (err) {
      this.o.log.error('audit head not signed', { err });
      throw err;
    }
  }

  /** Waits for the records under way, signs the head a last time, stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await Promise.allSettled([...this.pending]);
    await this.seal().catch(() => undefined);
  }
}
