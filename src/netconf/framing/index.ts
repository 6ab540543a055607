/** RFC 6242 framing: streaming decoder, encoders, limits and errors. */
export { FrameDecoder } from './decoder.js';
export type { FramingMode } from './decoder.js';
export { encodeEom, encodeChunked, encodeFrame, frameText } from './encoder.js';
export { FramingError } from './errors.js';
export type { FramingErrorCode } from './errors.js';
export { DEFAULT_MAX_MESSAGE_BYTES, MAX_CHUNK_SIZE, resolveLimits } from './limits.js';
export type { FramingLimits } from './limits.js';
