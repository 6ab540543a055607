/**
 * A JWKS file that another party rewrites while we verify with it (the OAM's pve.jwks: the PVE rotates its key and
 * writes its jwks.json anew, by a rename). current() stats the file (src/file-cache.ts: one stat, no open) and reads
 * it again only when its identity (dev, inode, size, mtime, ctime) changed; calls at once share one read.
 *
 * A change that cannot be used does not take the keys away: when the file is removed, unreadable, not a JWKS, or
 * lists no key, current() keeps answering the last good set and tells onProblem once per change (per file identity;
 * a missing file once until it is back). A file that is good again is used from the next call on. Without a good
 * set (the first read) there is nothing to keep: current() throws ERR_TOKEN_JWKS.
 *
 * The same Jwks object is answered for as long as it is the current set, so a caller can tell a new set from the one
 * it already tried (the unknown-kid re-check: a rotation that lands between the stat and the verification).
 *
 * How often the file is stat'ed: at most once per `recheckMs` (default 1,000 ms; calls in between answer what the
 * last check found, and calls at once share one check), and always when asked for a fresh set (current({ fresh:
 * true }): the unknown-kid re-check of verifyWithCurrentKeys' callers). A stat per verification was ~0.2 ms of the
 * OAM's main thread per verified update at 10,000 devices (issue 15); so a new key (a new kid) is used at once, and a
 * key taken out of the file is still accepted for at most recheckMs. A check that finds no good set (before the first
 * good read) is not kept: the next call checks again.
 */
import type { BigIntStats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errorCode } from '../errors.js';
import { FileCache, fileIdentity } from '../file-cache.js';
import { TokenError } from './errors.js';
import { parseJwks } from './keys.js';
import type { Jwks } from './types.js';

/** Why a change of the file was not used. */
export type JwksFileProblemReason = 'missing' | 'unreadable' | 'invalid' | 'empty';

export interface JwksFileProblem {
  file: string;
  reason: JwksFileProblemReason;
  /** the stat's, read's or parse's error (ERR_TOKEN_JWKS for invalid and empty) */
  error: unknown;
  /** the key set still in use (the last good one) */
  kept: Jwks;
}

export interface JwksFileOptions {
  /** a change of the file that is not used (once per change); the last good set stays in use */
  onProblem?: (problem: JwksFileProblem) => void;
  /** the file is stat'ed at most once per this many ms, unless a fresh set is asked for (default 1,000; 0: every call) */
  recheckMs?: number;
  /** the clock of recheckMs (default performance.now) */
  now?: () => number;
}

export const JWKS_RECHECK_MS = 1000;

export interface CurrentOptions {
  /** check the file now, whenever it was last checked (the unknown-kid re-check) */
  fresh?: boolean;
}

/** Keys that may change between two verifications; current() answers the same object while they do not. */
export interface JwksSource {
  current(options?: CurrentOptions): Promise<Jwks>;
}

/** what one identity of the file holds: its keys, or why they cannot be used (kept per identity: parsed once) */
type Content = { seq: number; jwks: Jwks } | { id: string; reason: 'invalid' | 'empty'; error: TokenError };

export class JwksFile implements JwksSource {
  private readonly cache: FileCache<Content>;
  private good: { seq: number; jwks: Jwks } | undefined;
  /** the problem last reported (so each change is reported once) */
  private reported: string | undefined;
  private reads = 0;
  /** the last read that failed (not kept by the cache: the next call reads again), with the identity it was for */
  private failedRead: { id: string; err: unknown } | undefined;

  /** the last check (in flight or done) and when it started */
  private checked: { at: number; keys: Promise<Jwks> } | undefined;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(readonly file: string, private readonly options: JwksFileOptions = {}) {
    this.cache = new FileCache<Content>((f, st) => this.read(f, st));
    const ms = options.recheckMs ?? JWKS_RECHECK_MS;
    if (!(Number.isFinite(ms) && ms >= 0)) throw new TypeError(`recheckMs must be a non-negative number of ms, not ${String(ms)}`);
    this.recheckMs = ms;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * the keys of the file as it is now (as of a check at most recheckMs ago, or now with fresh), or the last good ones
   * when it cannot be used
   */
  current(options: CurrentOptions = {}): Promise<Jwks> {
    const at = this.now();
    const last = this.checked;
    if (last !== undefined && options.fresh !== true && at - last.at < this.recheckMs) return last.keys;
    const keys = this.check();
    const entry = { at, keys };
    this.checked = entry;
    // a check without a good set is not kept: the next call checks again
    keys.catch(() => {
      if (this.checked === entry) this.checked = undefined;
    });
    return keys;
  }

  private async check(): Promise<Jwks> {
    let content: Content;
    try {
      content = await this.cache.get(this.file);
    } catch (err) {
      const read = this.failedRead?.err === err ? this.failedRead : undefined;
      return this.unusable(read !== undefined
        ? { id: `${read.id}:unreadable`, reason: 'unreadable', error: err }
        : { id: `stat:${errorCode(err)}`, reason: errorCode(err) === 'ENOENT' ? 'missing' : 'unreadable', error: err });
    }
    if ('jwks' in content) {
      // reads finishing out of order: the newest read is the good set kept
      if (this.good === undefined || content.seq >= this.good.seq) this.good = content;
      this.reported = undefined;
      return content.jwks;
    }
    return this.unusable(content);
  }

  private unusable(p: { id: string; reason: JwksFileProblemReason; error: unknown }): Jwks {
    const kept = this.good?.jwks;
    if (kept === undefined) {
      if (p.error instanceof TokenError) throw p.error;
      throw new TokenError('ERR_TOKEN_JWKS', `JWKS file ${this.file} is not readable`, { cause: p.error });
    }
    if (this.reported !== p.id) {
      this.reported = p.id;
      this.options.onProblem?.({ file: this.file, reason: p.reason, error: p.error, kept });
    }
    return kept;
  }

  private async read(file: string, st: BigIntStats): Promise<Content> {
    const seq = ++this.reads;
    const id = fileIdentity(st);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      this.failedRead = { id, err };
      throw err;
    }
    let jwks: Jwks;
    try {
      jwks = parseJwks(JSON.parse(text));
    } catch (err) {
      const error = err instanceof TokenError ? err : new TokenError('ERR_TOKEN_JWKS', `JWKS file ${file} is not JSON`, { cause: err });
      return { id, reason: 'invalid', error };
    }
    if (jwks.keys.length === 0) return { id, reason: 'empty', error: new TokenError('ERR_TOKEN_JWKS', `JWKS file ${file} lists no key`) };
    Object.freeze(jwks.keys);
    return { seq, jwks: Object.freeze(jwks) };
  }
}

/**
 * verify(keys) with the keys as they are now; a token whose key is unknown (ERR_TOKEN_KEY_UNKNOWN) is verified once
 * more when the keys are another set by then (a rotation that lands between the stat and the verification), else the
 * first error stands. The key is looked up before any replay check, so the first attempt used no token id.
 */
export async function verifyWithCurrentKeys<T>(
  first: Jwks, current: () => Promise<Jwks | undefined>, verify: (keys: Jwks) => Promise<T>,
): Promise<T> {
  try {
    return await verify(first);
  } catch (err) {
    if (errorCode(err) !== 'ERR_TOKEN_KEY_UNKNOWN') throw err;
    const again = await current();
    if (again === undefined || again === first || again.keys.length === 0) throw err;
    return verify(again);
  }
}

/** the re-check of verifyWithCurrentKeys for keys from a JwksSource: a fresh set, whenever the file was last checked */
export function freshKeys(source: JwksSource): () => Promise<Jwks> {
  return () => source.current({ fresh: true });
}
