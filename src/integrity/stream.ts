import { createHash } from 'node:crypto';
import { IntegrityError } from './errors.js';
import type { DigestHex } from './digest.js';

export interface DigestResult {
  /** SHA-256 of everything read, lowercase hex */
  digest: DigestHex;
  /** bytes read */
  size: number;
  /** the bytes themselves, when asked for (keep: small documents such as a software manifest) */
  bytes?: Buffer;
}

export interface DigestStreamOptions {
  /** refuse (ERR_SOFTWARE_TOO_BIG) once more than this many bytes arrived */
  maxBytes?: number;
  /** abort the read (ERR_SOFTWARE_ABORTED unless the signal's reason is an HsvError, which is rethrown) */
  signal?: AbortSignal;
  /** also return the bytes read (only with a small maxBytes: they are held in memory) */
  keep?: boolean;
}

/** Anything that yields byte chunks: a node Readable, a web ReadableStream, an async generator. */
export type ByteSource = AsyncIterable<Uint8Array | string>;

/**
 * Streaming SHA-256 in constant memory: each chunk is hashed and dropped (the async iterator keeps backpressure).
 * The source is destroyed on error, on abort and when it grows beyond maxBytes.
 */
export async function digestStream(source: ByteSource, options: DigestStreamOptions = {}): Promise<DigestResult> {
  const { maxBytes = Number.POSITIVE_INFINITY, signal } = options;
  const hash = createHash('sha256');
  const kept: Buffer[] | undefined = options.keep === true ? [] : undefined;
  let size = 0;
  throwIfAborted(signal);
  const onAbort = (): void => destroy(source, abortError(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of source) {
      throwIfAborted(signal);
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += bytes.byteLength;
      if (size > maxBytes) {
        const err = new IntegrityError('ERR_SOFTWARE_TOO_BIG', `software is larger than the limit of ${maxBytes} bytes`);
        destroy(source, err);
        throw err;
      }
      hash.update(bytes);
      kept?.push(Buffer.from(bytes));
    }
    throwIfAborted(signal);
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { digest: hash.digest('hex'), size, ...(kept !== undefined ? { bytes: Buffer.concat(kept) } : {}) };
}

function destroy(source: ByteSource, err: Error): void {
  const s = source as { destroy?: (e?: Error) => void; cancel?: (e?: unknown) => unknown };
  if (typeof s.destroy === 'function') s.destroy(err);
  else if (typeof s.cancel === 'function') void Promise.resolve(s.cancel(err)).catch(() => undefined);
}

export function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof IntegrityError) return reason;
  return new IntegrityError('ERR_SOFTWARE_ABORTED', 'software fetch aborted', { cause: reason });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}
