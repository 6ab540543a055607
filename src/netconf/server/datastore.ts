/**
 * The running configuration datastore (RFC 6241 section 5.1 and 8.2 :writable-running).
 *
 * Persisted as `running.xml` (a <data> element in the base namespace) in the data directory. A commit
 * writes a temporary file, fsyncs it, renames it over the old file and fsyncs the directory, so a crash
 * leaves either the old or the new configuration, never a mix. Commits are serialised; listeners are
 * told after the new configuration is on disk.
 *
 * Running is held as a frozen tree (xml/frozen.ts): a commit freezes only the nodes an edit made and reuses the
 * rest of the previous configuration, `snapshot()` hands it out without a copy, and the listeners are given a frozen
 * <data> element over it, so no reader can change running (or what the next listener sees) through what it was
 * given. getTop() and getRunning() still return deep copies, for callers that change what they get.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, existsSync, renameSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HsvError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { silentLogger } from '../../log/logger.js';
import { elements, el, parseXml, serializeXml } from '../xml/index.js';
import { NETCONF_BASE_NS } from '../xml/index.js';
import type { XmlElement } from '../xml/index.js';
import type { ConfigListener } from './registry.js';
import { frozenTree } from '../xml/index.js';
import { clone } from './subtree-filter.js';

export type DatastoreErrorCode = 'ERR_DATASTORE_CORRUPT' | 'ERR_DATASTORE_WRITE';

export class DatastoreError extends HsvError<DatastoreErrorCode> {
  constructor(code: DatastoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const RUNNING_FILE = 'running.xml';

export class RunningDatastore {
  readonly file: string;
  /** frozen (frozenTree), the array too */
  private top: readonly XmlElement[];
  private readonly listeners: ConfigListener[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private readonly log: Logger;

  private constructor(private readonly dir: string, top: XmlElement[], log: Logger) {
    this.file = join(dir, RUNNING_FILE);
    this.top = frozenTop(top);
    this.log = log;
  }

  /** Load running from `dir` (created when missing); an unreadable file is an error, never an empty config. */
  static open(dir: string, log: Logger = silentLogger): RunningDatastore {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, RUNNING_FILE);
    let top: XmlElement[] = [];
    if (existsSync(file)) {
      let root: XmlElement;
      try {
        root = parseXml(readFileSync(file));
      } catch (e) {
        throw new DatastoreError('ERR_DATASTORE_CORRUPT', `cannot parse ${file}`, { cause: e });
      }
      if (root.ns !== NETCONF_BASE_NS || root.name !== 'data') {
        throw new DatastoreError('ERR_DATASTORE_CORRUPT', `${file} does not hold a <data> element in the NETCONF base namespace`);
      }
      top = elements(root);
    }
    return new RunningDatastore(dir, top, log);
  }

  /** The top-level configuration nodes (a deep copy). */
  getTop(): XmlElement[] {
    return this.top.map(clone);
  }

  /**
   * The top-level configuration nodes as they are: frozen, no copy (a write through them throws). Unchanged
   * subtrees are the same objects from one snapshot to the next.
   */
  snapshot(): readonly XmlElement[] {
    return this.top;
  }

  /** The configuration as a <data> element in the base namespace (a deep copy). */
  getRunning(): XmlElement {
    return el(NETCONF_BASE_NS, 'data', this.getTop());
  }

  onConfigChange(listener: ConfigListener): void {
    this.listeners.push(listener);
  }

  /**
   * Run `fn` with exclusive access (edit-config: read, compute, commit). Later calls wait for earlier
   * ones to finish.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * At start-up, before any session: persist `top` atomically (synchronously) and make it running.
   * No listener is told (nothing has subscribed yet that could act on it). Used for the initial NACM
   * rule-list (nacm.ts initialNacm).
   */
  initialize(top: readonly XmlElement[]): void {
    const text = serializeXml(el(NETCONF_BASE_NS, 'data', [...top]), { declaration: true }) + '\n';
    const tmp = join(this.dir, `.${RUNNING_FILE}.${process.pid}.${++this.seq}.tmp`);
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
      syncDir(this.dir);
    } catch (e) {
      throw new DatastoreError('ERR_DATASTORE_WRITE', 'cannot persist the running configuration', { cause: e });
    }
    this.top = frozenTop(top);
  }

  /** Persist `top` atomically and make it the running configuration; then tell the listeners. */
  async commit(top: readonly XmlElement[]): Promise<void> {
    const text = serializeXml(el(NETCONF_BASE_NS, 'data', [...top]), { declaration: true }) + '\n';
    const tmp = join(this.dir, `.${RUNNING_FILE}.${process.pid}.${++this.seq}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
      syncDir(this.dir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw new DatastoreError('ERR_DATASTORE_WRITE', 'cannot persist the running configuration', { cause: e });
    }
    this.top = frozenTop(top);
    // one frozen view for every listener: none can change running or what the next one sees
    const running = frozenTree(el(NETCONF_BASE_NS, 'data', [...this.top]));
    for (const l of this.listeners) {
      try {
        await l(running);
      } catch (e) {
        this.log.warn('config listener failed', { err: (e as Error).message });
      }
    }
  }
}

/** `top` frozen: its nodes through frozenTree (which reuses the ones frozen before), the array too */
function frozenTop(top: readonly XmlElement[]): readonly XmlElement[] {
  return Object.freeze(top.map(frozenTree));
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
