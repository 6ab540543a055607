import { createReadStream } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { untilAborted } from '../abort.js';
import { FileCache } from '../file-cache.js';
import { InFlight } from '../in-flight.js';
import { digestsEqual, normalizeDigest } from './digest.js';
import { IntegrityError } from './errors.js';
import { abortError, digestStream } from './stream.js';
import type { DigestResult } from './stream.js';

export type SoftwareScheme = 'file' | 'http' | 'https';
export const SUPPORTED_SCHEMES: readonly SoftwareScheme[] = ['file', 'http', 'https'];

export interface FetchAndDigestOptions {
  /** the caller's cancellation */
  signal?: AbortSignal;
  /** refuse bigger software (ERR_SOFTWARE_TOO_BIG); default 2 GiB */
  maxBytes?: number;
  /** whole fetch, redirects included (ERR_SOFTWARE_TIMEOUT); default 120000 */
  timeoutMs?: number;
  /** schemes accepted, written 'https' or 'https:'; default all of SUPPORTED_SCHEMES */
  allowedSchemes?: readonly string[];
  /** https: trust only these CA certificates (PEM) instead of the system store */
  caPem?: string | string[];
  /** when given, a different SHA-256 fails with ERR_SOFTWARE_DIGEST_MISMATCH */
  expectedDigest?: string;
  /** http(s) redirects followed (never to file:, never https -> http); default 5 */
  maxRedirects?: number;
  /** file: only paths inside this directory (after resolving symlinks) are read */
  fileRoot?: string;
  /**
   * http(s): the start URL and every redirect target must satisfy this (e.g. softwareAllowList(...)), else
   * ERR_SOFTWARE_URI before any request to it
   */
  allowHttpUrl?: (url: URL) => boolean;
  /** also return the bytes (result.bytes): for small documents only (a software manifest), with a small maxBytes */
  keep?: boolean;
  /**
   * http(s): digests of earlier downloads by URL with their validators (ETag, Last-Modified). A URL in it is
   * asked for conditionally (If-None-Match / If-Modified-Since, RFC 9110 13.1); HTTP 304 answers with the
   * cached digest without a download. A 200 with a validator is stored. For a check ahead of the real fetch
   * only: the validator is the server's word that the bytes did not change.
   */
  cache?: HttpDigestCache;
  /**
   * file: the digests of files read before, kept until the file changes (createFileDigests): a file whose identity
   * (device, inode, size, modification and change times in ns: src/file-cache.ts) is the one hashed before is not read
   * again. The confinement (fileRoot) and the checks of the path (a regular file, maxBytes) still run at every call.
   * Not with keep.
   */
  fileDigests?: FileDigests;
}

/** file: digests by path, read again when the file changed (FetchAndDigestOptions.fileDigests) */
export type FileDigests = FileCache<DigestResult>;

/**
 * A FileDigests for fetchAndDigest: at most `max` paths (default 64), each file read and hashed once per identity;
 * callers at once share one read. A read is not bound to any caller's signal or time limit (each caller stops
 * waiting on its own); a failed read is not kept.
 */
export function createFileDigests(max = CACHE_MAX): FileDigests {
  return new FileCache<DigestResult>(readFileDigest, { max });
}

/** a FileDigests' read: the SHA-256 and size of a regular file, streamed */
export async function readFileDigest(file: string, st: BigIntStats): Promise<DigestResult> {
  if (!st.isFile()) throw new IntegrityError('ERR_SOFTWARE_NOT_FOUND', 'software URI does not name a regular file');
  const stream = createReadStream(file, { highWaterMark: CHUNK });
  try {
    return await digestStream(stream);
  } finally {
    stream.destroy();
  }
}

export interface HttpDigestCacheEntry {
  etag?: string;
  lastModified?: string;
  digest: string;
  size: number;
}

/** URL (after redirects) -> the digest of its last download and that response's validators; bounded by the caller */
export type HttpDigestCache = Map<string, HttpDigestCacheEntry>;

/** entries an HttpDigestCache keeps (oldest dropped first) */
const CACHE_MAX = 64;

export interface FetchAndDigestResult extends DigestResult {
  /** the URI finally read (after redirects) */
  uri: string;
  /** the digest came from `cache` after HTTP 304 (nothing was downloaded) */
  cached?: boolean;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const DEFAULT_TIMEOUT_MS = 120_000;
const CHUNK = 256 * 1024;

/**
 * Checks a software URI before any job starts: well-formed absolute URI, scheme allowed and supported.
 * Throws ERR_SOFTWARE_URI or ERR_SOFTWARE_SCHEME; returns the parsed URL.
 */
export function parseSoftwareUri(uri: string, allowedSchemes: readonly string[] = SUPPORTED_SCHEMES): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw new IntegrityError('ERR_SOFTWARE_URI', 'software URI is not a valid absolute URI', { cause });
  }
  const scheme = url.protocol.slice(0, -1);
  const allowed = allowedSchemes.map((s) => s.toLowerCase().replace(/:$/, ''));
  if (!(SUPPORTED_SCHEMES as readonly string[]).includes(scheme) || !allowed.includes(scheme)) {
    throw new IntegrityError('ERR_SOFTWARE_SCHEME', `software URI scheme '${scheme}' is not allowed (allowed: ${allowed.join(', ')})`);
  }
  if (scheme === 'file') {
    if (url.host !== '' && url.host !== 'localhost') {
      throw new IntegrityError('ERR_SOFTWARE_URI', 'file: URI must not name a remote host');
    }
  } else if (url.hostname === '') {
    throw new IntegrityError('ERR_SOFTWARE_URI', 'software URI has no host');
  }
  if (url.username !== '' || url.password !== '') {
    throw new IntegrityError('ERR_SOFTWARE_URI', 'software URI must not embed credentials');
  }
  return url;
}

/**
 * An allow-list of software sources for http(s) URIs. Each entry is either
 * - a host, optionally with a port (`images.example.net`, `images.example.net:8443`, `[2001:db8::5]:443`):
 *   http and https on that host and port (without a port: the scheme's default port only), any path; or
 * - a URL prefix (`https://images.example.net/henb/`): the URI, normalised, starts with the normalised prefix
 *   (same scheme, host and port).
 * Host names compare case-insensitively; nothing else matches (no wildcards). Throws RangeError on a bad entry.
 */
export function softwareAllowList(entries: readonly string[]): (url: URL) => boolean {
  const hosts = new Set<string>();
  const prefixes: string[] = [];
  for (const e of entries) {
    if (/^https?:\/\//i.test(e)) {
      let u: URL;
      try {
        u = new URL(e);
      } catch {
        throw new RangeError(`not a URL prefix: ${e}`);
      }
      if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') throw new RangeError(`a URL prefix has no credentials, query or fragment: ${e}`);
      prefixes.push(u.href);
      continue;
    }
    let u: URL;
    try {
      u = new URL(`http://${e}`);
    } catch {
      throw new RangeError(`not a host or host:port: ${e}`);
    }
    if (u.host === '' || u.pathname !== '/' || u.username !== '' || `${e}`.includes('/')) throw new RangeError(`not a host or host:port: ${e}`);
    hosts.add(u.port === '' ? u.hostname.toLowerCase() : `${u.hostname.toLowerCase()}:${u.port}`);
  }
  return (url) => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (url.username !== '' || url.password !== '') return false;
    const host = url.hostname.toLowerCase();
    if (url.port === '' ? hosts.has(host) : hosts.has(`${host}:${url.port}`)) return true;
    return prefixes.some((p) => url.href.startsWith(p));
  };
}

/**
 * Step 5: fetches the software by URI and computes its RIM (SHA-256) while streaming, in constant memory.
 * Everything (redirects included) is bounded by timeoutMs and maxBytes; every socket/stream is closed on exit.
 */
export async function fetchAndDigest(uri: string, options: FetchAndDigestOptions = {}): Promise<FetchAndDigestResult> {
  const allowed = options.allowedSchemes ?? SUPPORTED_SCHEMES;
  const url = parseSoftwareUri(uri, allowed);
  if (url.protocol !== 'file:' && options.allowHttpUrl !== undefined && !options.allowHttpUrl(url)) {
    throw new IntegrityError('ERR_SOFTWARE_URI', 'software URI is not an allowed software source');
  }
  const expected = options.expectedDigest === undefined ? undefined : normalizeDigest(options.expectedDigest, 'expected digest');
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const ctl = new AbortController();
  const outer = options.signal;
  if (outer?.aborted) throw abortError(outer);
  const onOuterAbort = (): void => ctl.abort(abortError(outer));
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(
    () => ctl.abort(new IntegrityError('ERR_SOFTWARE_TIMEOUT', `software fetch took longer than ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    const result =
      url.protocol === 'file:'
        ? await digestFile(url, maxBytes, ctl.signal, options.fileRoot, options.keep === true, options.fileDigests)
        : await digestHttp(url, maxBytes, ctl.signal, options, allowed);
    if (expected !== undefined && !digestsEqual(result.digest, expected)) {
      throw new IntegrityError('ERR_SOFTWARE_DIGEST_MISMATCH', 'software SHA-256 differs from the expected digest');
    }
    return result;
  } catch (err) {
    if (ctl.signal.aborted) throw abortError(ctl.signal);
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

/** a software file: a regular file within the size limit */
function checkSoftwareFile(st: { isFile(): boolean; size: number | bigint }, maxBytes: number): void {
  if (!st.isFile()) throw new IntegrityError('ERR_SOFTWARE_NOT_FOUND', 'software URI does not name a regular file');
  if (st.size > maxBytes) tooBig(maxBytes);
}

function tooBig(maxBytes: number): never {
  throw new IntegrityError('ERR_SOFTWARE_TOO_BIG', `software is larger than the limit of ${maxBytes} bytes`);
}

/**
 * realpath of a software file, one look-up for the callers at once (issue 15: a rollout's jobs ask for the same image
 * together; 96% of the fleet benchmark's look-ups found one in flight): a call made while one of the same path is in
 * flight takes its answer, which began before the call by at most its own time (as FileCache shares its stat).
 */
const realpaths = new InFlight<string>();

async function digestFile(url: URL, maxBytes: number, signal: AbortSignal, fileRoot: string | undefined, keep: boolean, fileDigests: FileDigests | undefined): Promise<FetchAndDigestResult> {
  let file: string;
  try {
    file = fileURLToPath(url);
  } catch (cause) {
    throw new IntegrityError('ERR_SOFTWARE_URI', 'file: URI is not an absolute local path', { cause });
  }
  try {
    if (fileRoot !== undefined) {
      const real = await realpaths.run(file, () => realpath(file));
      // one realpath per fetch (issue 15: two were ~2% of the OAM's main thread): `real` has no symlink, no `.` or
      // `..`, so when it lies inside fileRoot as written, fileRoot is such a path too, i.e. its own realpath (the
      // plugin's config resolves it once); otherwise compare with fileRoot's realpath, as always
      if (!isInside(real, fileRoot) && !isInside(real, await realpaths.run(fileRoot, () => realpath(fileRoot)))) {
        throw new IntegrityError('ERR_SOFTWARE_NOT_FOUND', 'software file is outside the allowed directory');
      }
      file = real;
    }
    // with the digests kept, the cache's own stat is the one checked (one stat per fetch, not two)
    if (fileDigests !== undefined && !keep) {
      const r = await untilAborted(fileDigests.get(file, (st) => checkSoftwareFile(st, maxBytes)), signal, abortError);
      // the size hashed: a file that grew past the limit between the stat and the read
      if (r.size > maxBytes) tooBig(maxBytes);
      return { digest: r.digest, size: r.size, uri: url.href };
    }
    checkSoftwareFile(await stat(file), maxBytes);
  } catch (err) {
    throw mapFsError(err);
  }
  const stream = createReadStream(file, { highWaterMark: CHUNK });
  try {
    const r = await digestStream(stream, { maxBytes, signal, keep });
    return { ...r, uri: url.href };
  } catch (err) {
    throw mapFsError(err);
  } finally {
    stream.destroy();
  }
}

/** `real` is `root` or below it (both as text: the caller resolves what needs resolving) */
function isInside(real: string, root: string): boolean {
  return real === root || real.startsWith(root + path.sep);
}

function mapFsError(err: unknown): Error {
  if (err instanceof IntegrityError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new IntegrityError('ERR_SOFTWARE_NOT_FOUND', 'software file not found', { cause: err });
  }
  return new IntegrityError('ERR_SOFTWARE_FETCH', 'software file could not be read', { cause: err });
}

async function digestHttp(
  start: URL,
  maxBytes: number,
  signal: AbortSignal,
  options: FetchAndDigestOptions,
  allowed: readonly string[],
): Promise<FetchAndDigestResult> {
  const maxRedirects = options.maxRedirects ?? 5;
  let url = start;
  for (let hop = 0; ; hop++) {
    const hit = options.cache?.get(url.href);
    const res = await get(url, signal, options.caPem, conditionalHeaders(hit));
    try {
      const status = res.statusCode ?? 0;
      if (status === 304 && hit !== undefined) {
        return { digest: hit.digest, size: hit.size, uri: url.href, cached: true };
      }
      if ([301, 302, 303, 307, 308].includes(status)) {
        url = redirectTarget(res, status, url, hop >= maxRedirects, options, allowed);
        continue;
      }
      return await downloaded(res, status, url, maxBytes, signal, options);
    } catch (err) {
      if (err instanceof IntegrityError) throw err;
      throw new IntegrityError('ERR_SOFTWARE_FETCH', 'software download failed', { cause: err });
    } finally {
      res.destroy();
    }
  }
}

/** If-None-Match / If-Modified-Since from a cached download's validators */
function conditionalHeaders(hit: HttpDigestCacheEntry | undefined): Record<string, string> {
  const conditional: Record<string, string> = {};
  if (hit?.etag !== undefined) conditional['if-none-match'] = hit.etag;
  if (hit?.lastModified !== undefined) conditional['if-modified-since'] = hit.lastModified;
  return conditional;
}

/** where a redirect leads: a valid http(s) URI (never https -> http), allowed, within the redirect limit */
function redirectTarget(res: IncomingMessage, status: number, url: URL, tooMany: boolean, options: FetchAndDigestOptions, allowed: readonly string[]): URL {
  const loc = res.headers.location;
  if (loc === undefined) throw new IntegrityError('ERR_SOFTWARE_FETCH', `HTTP ${status} without a Location`);
  if (tooMany) throw new IntegrityError('ERR_SOFTWARE_FETCH', 'too many redirects');
  let next: URL;
  try {
    next = new URL(loc, url);
  } catch (cause) {
    throw new IntegrityError('ERR_SOFTWARE_FETCH', 'redirect to an invalid URI', { cause });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new IntegrityError('ERR_SOFTWARE_SCHEME', 'redirect to a non-HTTP scheme refused');
  }
  if (url.protocol === 'https:' && next.protocol === 'http:') {
    throw new IntegrityError('ERR_SOFTWARE_FETCH', 'redirect from https to http refused');
  }
  parseSoftwareUri(next.href, allowed);
  if (options.allowHttpUrl !== undefined && !options.allowHttpUrl(next)) {
    throw new IntegrityError('ERR_SOFTWARE_URI', 'redirect to a URI that is not an allowed software source');
  }
  return next;
}

/** a final answer: 200 with the whole software (at most maxBytes), digested and remembered in the cache */
async function downloaded(res: IncomingMessage, status: number, url: URL, maxBytes: number, signal: AbortSignal, options: FetchAndDigestOptions): Promise<FetchAndDigestResult> {
  if (status === 404 || status === 410) {
    throw new IntegrityError('ERR_SOFTWARE_NOT_FOUND', `software not found (HTTP ${status})`);
  }
  if (status !== 200) throw new IntegrityError('ERR_SOFTWARE_FETCH', `software fetch failed with HTTP ${status}`);
  const len = Number(res.headers['content-length']);
  if (Number.isFinite(len) && len > maxBytes) {
    throw new IntegrityError('ERR_SOFTWARE_TOO_BIG', `software is larger than the limit of ${maxBytes} bytes`);
  }
  const r = await digestStream(res, { maxBytes, signal, keep: options.keep === true });
  if (!res.complete) throw new IntegrityError('ERR_SOFTWARE_FETCH', 'software download was cut short');
  if (options.cache !== undefined) remember(options.cache, url, res, r);
  return { ...r, uri: url.href };
}

/** the download's digest under its URL, when the answer has a validator (the oldest entry dropped at CACHE_MAX) */
function remember(cache: HttpDigestCache, url: URL, res: IncomingMessage, r: DigestResult): void {
  const etag = res.headers.etag;
  const lastModified = res.headers['last-modified'];
  cache.delete(url.href);
  if (etag !== undefined || lastModified !== undefined) {
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(url.href, { digest: r.digest, size: r.size, ...(etag !== undefined ? { etag } : {}), ...(lastModified !== undefined ? { lastModified } : {}) });
  }
}

function get(url: URL, signal: AbortSignal, caPem?: string | string[], extraHeaders: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    // agent: false: a fresh connection per download, never a pooled socket shared with other callers or CAs
    const opts: https.RequestOptions = { signal, agent: false, headers: { accept: '*/*', ...extraHeaders } };
    if (url.protocol === 'https:' && caPem !== undefined) opts.ca = caPem;
    const req = mod.get(url, opts, resolve);
    req.on('error', (err: Error) => {
      if (signal.aborted) reject(abortError(signal));
      else reject(new IntegrityError('ERR_SOFTWARE_FETCH', 'software fetch failed', { cause: err }));
    });
  });
}
