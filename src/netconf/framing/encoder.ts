/**
 * RFC 6242 encoders. End-of-message (section 4.3) appends `]]>]]>`; chunked (section 4.2) writes the
 * message as chunks of at most `maxChunk` bytes followed by end-of-chunks. Each returns one Buffer so
 * that a message is one write (one SSH packet when it fits).
 */
import { FramingError } from './errors.js';
import type { FramingMode } from './decoder.js';

const EOM = Buffer.from(']]>]]>');
const END_OF_CHUNKS = Buffer.from('\n##\n');

export function encodeEom(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  // RFC 6242 section 4.3: the delimiter must not appear in the message (well-formed XML cannot
  // contain it outside CDATA/comments; refuse rather than desynchronise the peer).
  if (body.indexOf(EOM) >= 0) {
    throw new FramingError('ERR_FRAMING_DELIMITER_IN_MESSAGE', 'message contains the end-of-message delimiter');
  }
  return Buffer.concat([body, EOM]);
}

export function encodeChunked(message: string | Buffer, maxChunk = 4294967295): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  if (body.length === 0) throw new FramingError('ERR_FRAMING_EMPTY_MESSAGE', 'a chunked message has at least one chunk');
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += maxChunk) {
    const part = body.subarray(off, Math.min(body.length, off + maxChunk));
    out.push(Buffer.from(`\n#${part.length}\n`, 'latin1'), part);
  }
  out.push(END_OF_CHUNKS);
  return Buffer.concat(out);
}

export function encodeFrame(mode: FramingMode, message: string | Buffer): Buffer {
  return mode === 'eom' ? encodeEom(message) : encodeChunked(message);
}
