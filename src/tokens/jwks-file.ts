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
}

/** Keys that may change between two verifications; current() answers the same object while they do not. */
export interface JwksSource {
  current(): Promise<Jwks>;
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

  constructor(readonly file: string, private readonly options: JwksFileOptions = {}) {
    this.cache = new FileCache<Content>((f, st) => this.read(f, st));
  }

  /** the keys of the file as it is now, or the last good ones when it cannot be used */
  async current(): Promise<Jwks> {
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
