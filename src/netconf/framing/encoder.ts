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

/**
 * Frame a text message without encoding it yet: the framed text and its UTF-8 size. The framing bytes
 * are ASCII, so encoding the result gives exactly encodeFrame(mode, message); a caller that frames
 * several messages can join the texts and encode once (one allocation and one copy for a whole batch).
 * Same checks as encodeEom / encodeChunked (one chunk: a JS string is far below 4294967295 bytes).
 */
export function frameText(mode: FramingMode, message: string): { text: string; bytes: number } {
  const n = Buffer.byteLength(message, 'utf8');
  if (mode === 'eom') {
    if (message.includes(EOM_TEXT)) {
      throw new FramingError('ERR_FRAMING_DELIMITER_IN_MESSAGE', 'message contains the end-of-message delimiter');
    }
    return { text: message + EOM_TEXT, bytes: n + EOM_TEXT.length };
  }
  if (n === 0) throw new FramingError('ERR_FRAMING_EMPTY_MESSAGE', 'a chunked message has at least one chunk');
  const header = '\n#' + n + '\n';
  return { text: header + message + END_OF_CHUNKS_TEXT, bytes: header.length + n + END_OF_CHUNKS_TEXT.length };
}

const EOM_TEXT = ']]>]]>';
const END_OF_CHUNKS_TEXT = '\n##\n';

export function encodeFrame(mode: FramingMode, message: string | Buffer): Buffer {
  return mode === 'eom' ? encodeEom(message) : encodeChunked(message);
}
