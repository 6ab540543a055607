/**
 * Files read per request, kept until they change (issue 15: at 10,000 devices, a file read per request showed in the
 * profiles: the PVE's open and parse of the OAM's JWKS per statement was 1.6 s of its CPU). A leaf, shared by the
 * layers that read such files (tokens: a JWKS file; the PVE: approved software; the OAM plugin: a local image's
 * digest); it knows no error codes: the caller makes its own of what get() throws.
 *
 * The rule: every get() stats the path (one stat, no open) and the content is read again only when the file's
 * identity changed: (dev, ino, size, mtime, ctime), the times in ns. So a file replaced by a rename onto the path (a
 * new inode) or rewritten in place (a new ctime, even with the same size and mtime) is read at the next call. The
 * identity is the one seen before the read: a change during the read is read again at the next call.
 * - a path that cannot be stat'ed (removed, no permission) throws the stat's own error (ENOENT ...), as a read of the
 *   path would, and drops what was held for it;
 * - a failed read is not kept: the callers that were waiting for it get its error, the next call reads again;
 * - concurrent callers that see the same identity share one read (the first one's), finished or in flight;
 * - concurrent callers of one path share one stat: a call made while a stat of that path is in flight takes that
 *   stat's answer (issue 15: in the fleet benchmark 96% of the stats of the software file found one in flight). The
 *   answer began before the call by at most the stat's own time; a change made in that window is seen at the next
 *   call, as a change made just after a stat is.
 * SyncFileCache is the same rule for a caller that must stay synchronous.
 */
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { InFlight } from './in-flight.js';

/**
 * Reads the content of `file` (e.g. readFile and parse, or a streaming digest). `st` is the stat the identity was
 * taken from: a caller that must not open anything but a regular file (a FIFO would block) checks st.isFile().
 */
export type FileRead<T> = (file: string, st: BigIntStats) => Promise<T>;

export interface FileCacheOptions {
  /** paths held at most (default unbounded); a new path beyond it drops the one held longest */
  max?: number;
}

interface Held<T> {
  id: string;
  value: Promise<T>;
}

/** The identity of a file's content: a new inode, size, modification or change time is a new identity. */
export function fileIdentity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

export class FileCache<T> {
  private readonly held = new Map<string, Held<T>>();
  private readonly stats = new InFlight<BigIntStats>();

  constructor(private readonly read: FileRead<T>, private readonly options: FileCacheOptions = {}) {}

  /**
   * the content of `file` (by the cache's read), read again only when the file changed. `check`, when given, sees the
   * stat first and may throw: then nothing held is handed out and nothing is read (what is held stays held), so a
   * caller's own conditions on the file (a regular file, a size limit) need no stat of their own.
   */
  async get(file: string, check?: (st: BigIntStats) => void): Promise<T> {
    let st: BigIntStats;
    try {
      st = await this.stats.run(file, () => stat(file, { bigint: true }));
    } catch (err) {
      this.held.delete(file);
      throw err;
    }
    check?.(st);
    const id = fileIdentity(st);
    const h = this.held.get(file);
    if (h !== undefined && h.id === id) return h.value;
    const entry: Held<T> = { id, value: this.readOnce(file, st) };
    if (h === undefined) this.makeRoom();
    this.held.set(file, entry);
    // a failure is not kept (only this read's own entry is dropped: a newer one may have replaced it)
    entry.value.catch(() => {
      if (this.held.get(file) === entry) this.held.delete(file);
    });
    return entry.value;
  }

  /** paths held (finished or in flight) */
  get size(): number {
    return this.held.size;
  }

  private async readOnce(file: string, st: BigIntStats): Promise<T> {
    return this.read(file, st);
  }

  private makeRoom(): void {
    const max = this.options.max;
    if (max === undefined) return;
    for (const oldest of this.held.keys()) {
      if (this.held.size < max) break;
      this.held.delete(oldest);
    }
  }
}

/** Reads the content of `file` synchronously; `st` as for FileRead. */
export type SyncFileRead<T> = (file: string, st: BigIntStats) => T;

/**
 * FileCache's rule for a caller that must stay synchronous (the OAM plugin's inventory listener hands the device
 * driver every entry in one pass): get() stats the path (statSync, no open) and reads it again only when its identity
 * changed. A failed stat throws its error and drops what was held for the path; a failed read throws and keeps
 * nothing; only a regular file's content is kept (a FIFO or a device is read at every get, as a plain read would).
 * The caller says which paths it still needs (retain): the others are dropped.
 */
export class SyncFileCache<T> {
  private readonly held = new Map<string, { id: string; value: T }>();

  constructor(private readonly read: SyncFileRead<T>) {}

  /** the content of `file` (by the cache's read), read again only when the file changed */
  get(file: string): T {
    let st: BigIntStats;
    try {
      st = statSync(file, { bigint: true });
    } catch (err) {
      this.held.delete(file);
      throw err;
    }
    const id = fileIdentity(st);
    const h = this.held.get(file);
    if (h !== undefined && h.id === id) return h.value;
    this.held.delete(file);
    const value = this.read(file, st);
    if (st.isFile()) this.held.set(file, { id, value });
    return value;
  }

  /** drops every path but these */
  retain(paths: ReadonlySet<string>): void {
    for (const file of this.held.keys()) if (!paths.has(file)) this.held.delete(file);
  }

  /** paths held */
  get size(): number {
    return this.held.size;
  }
}
