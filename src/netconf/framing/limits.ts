/**
 * Framing limits. RFC 6242 section 4.2 allows chunk sizes up to 4294967295; a receiver still bounds
 * what it buffers, so the effective chunk limit is min(maxChunkBytes, maxMessageBytes).
 */
export interface FramingLimits {
  /** largest message (payload bytes, excluding framing) accepted; default 16 MiB */
  maxMessageBytes?: number;
  /** largest single chunk accepted; default 4294967295 (RFC 6242 section 4.2), bounded by maxMessageBytes */
  maxChunkBytes?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** RFC 6242 section 4.2: chunk-size = 1*DIGIT1 0*DIGIT, maximum 4294967295 */
export const MAX_CHUNK_SIZE = 4294967295;

export function resolveLimits(l: FramingLimits = {}): Required<FramingLimits> {
  const maxMessageBytes = l.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxChunkBytes = Math.min(l.maxChunkBytes ?? MAX_CHUNK_SIZE, MAX_CHUNK_SIZE, maxMessageBytes);
  if (!(maxMessageBytes > 0) || !(maxChunkBytes > 0)) throw new RangeError('framing limits must be positive');
  return { maxMessageBytes, maxChunkBytes };
}
