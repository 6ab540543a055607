import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, FramingError, encodeChunked, encodeEom, encodeFrame, frameText } from '../../../src/netconf/framing/index.js';
import type { FramingErrorCode, FramingLimits } from '../../../src/netconf/framing/index.js';

function decodeAll(input: string | Buffer, mode: 'eom' | 'chunked', limits?: FramingLimits, cuts: number[] = []): string[] {
  const d = new FrameDecoder(limits);
  if (mode === 'chunked') d.useChunked();
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: string[] = [];
  let prev = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
    d.push(bytes.subarray(prev, c));
    prev = c;
    for (let m = d.next(); m; m = d.next()) out.push(m.toString('latin1'));
  }
  d.end();
  return out;
}

function codeOf(f: () => unknown): FramingErrorCode | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof FramingError) return e.code;
    throw e;
  }
  return undefined;
}

describe('chunked framing (RFC 6242 section 4.2)', () => {
  const ok: Array<[string, string, string[]]> = [
    ['one chunk', '\n#4\nabcd\n##\n', ['abcd']],
    ['several chunks', '\n#3\nabc\n#1\nd\n##\n', ['abcd']],
    ['two messages', '\n#1\na\n##\n\n#2\nbc\n##\n', ['a', 'bc']],
    ['chunk data containing header-like bytes', '\n#5\n\n#2\nx\n##\n', ['\n#2\nx']],
    // the example of section 4.2, byte for byte: chunks split inside a tag and an attribute
    ['the RFC 6242 section 4.2 example',
      '\n#4\n<rpc\n#18\n message-id="102"\n\n#79\n     xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">\n  <close-session/>\n</rpc>\n##\n',
      ['<rpc message-id="102"\n     xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">\n  <close-session/>\n</rpc>']],
    ['a chunk-size with a zero after the first digit', '\n#10\n0123456789\n##\n', ['0123456789']],
  ];
  for (const [name, input, want] of ok) {
    it(`decodes: ${name}`, () => expect(decodeAll(input, 'chunked')).toEqual(want));
  }

  const bad: Array<[string, string, FramingErrorCode, FramingLimits?]> = [
    ['zero size', '\n#0\n\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['leading zero', '\n#01\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['non-digit', '\n#1a\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['negative', '\n#-1\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['empty size', '\n#\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['4294967296', '\n#4294967296\n', 'ERR_FRAMING_BAD_CHUNK_HEADER', { maxMessageBytes: 2 ** 40 }],
    ['11 digits', '\n#12345678901\n', 'ERR_FRAMING_BAD_CHUNK_HEADER', { maxMessageBytes: 2 ** 40 }],
    ['missing LF', '#1\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['CR LF instead of LF', '\r\n#1\r\na\r\n##\r\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['CR before the LF ending the size', '\n#1\r\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['a sign', '\n#+1\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['a space after the size', '\n#1 \na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['whitespace before a message', ' \n#1\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['whitespace between two messages', '\n#1\na\n##\n\n\n#1\nb\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['chunk data longer than its size', '\n#1\nab\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['end-of-chunks with extra hashes', '\n#1\na\n###\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['missing hash', '\n1\na\n##\n', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['bad end-of-chunks', '\n#1\na\n##x', 'ERR_FRAMING_BAD_CHUNK_HEADER'],
    ['end-of-chunks with no chunk', '\n##\n', 'ERR_FRAMING_EMPTY_MESSAGE'],
    ['chunk over the chunk limit', '\n#100\n', 'ERR_FRAMING_CHUNK_TOO_BIG', { maxChunkBytes: 99 }],
    ['message over the message limit', '\n#60\n' + 'x'.repeat(60) + '\n#60\n', 'ERR_FRAMING_MESSAGE_TOO_BIG', { maxMessageBytes: 100 }],
    ['4294967295 bounded by message limit', '\n#4294967295\n', 'ERR_FRAMING_CHUNK_TOO_BIG'],
    ['EOF inside a header', '\n#12', 'ERR_FRAMING_TRUNCATED'],
    ['EOF inside chunk data', '\n#12\nabc', 'ERR_FRAMING_TRUNCATED'],
    ['EOF before end-of-chunks', '\n#3\nabc', 'ERR_FRAMING_TRUNCATED'],
    ['EOF inside end-of-chunks', '\n#3\nabc\n#', 'ERR_FRAMING_TRUNCATED'],
  ];
  for (const [name, input, code, limits] of bad) {
    it(`rejects: ${name} -> ${code}`, () => {
      expect(codeOf(() => decodeAll(input, 'chunked', limits))).toBe(code);
    });
  }

  it('accepts a chunk-size of 4294967295 in the header when the limits allow it (it waits for the data)', () => {
    const d = new FrameDecoder({ maxMessageBytes: 2 ** 40 });
    d.useChunked();
    d.push(Buffer.from('\n#4294967295\nabc'));
    expect(d.next()).toBeUndefined();
    expect(d.buffered).toBe(3);
  });

  it('fails early on a bad header byte without waiting for more input', () => {
    const d = new FrameDecoder();
    d.useChunked();
    d.push(Buffer.from('\n#x'));
    expect(codeOf(() => d.next())).toBe('ERR_FRAMING_BAD_CHUNK_HEADER');
    // stays failed
    expect(codeOf(() => d.push(Buffer.from('\n')))).toBe('ERR_FRAMING_BAD_CHUNK_HEADER');
  });

  it('splits large messages into chunks when encoding', () => {
    const enc = encodeChunked('abcdefghij', 4).toString('latin1');
    expect(enc).toBe('\n#4\nabcd\n#4\nefgh\n#2\nij\n##\n');
    expect(decodeAll(enc, 'chunked')).toEqual(['abcdefghij']);
  });
});

describe('end-of-message framing (RFC 6242 section 4.3)', () => {
  it('decodes messages and tolerates trailing whitespace at EOF', () => {
    expect(decodeAll('<a/>]]>]]><b/>]]>]]>\n', 'eom')).toEqual(['<a/>', '<b/>']);
  });
  it('keeps a partial ]]>]] inside the payload', () => {
    expect(decodeAll('x]]>]]y]]>]]>', 'eom')).toEqual(['x]]>]]y']);
  });
  it('finds a delimiter split across reads', () => {
    for (let cut = 1; cut < 10; cut++) {
      expect(decodeAll('<a/>]]>]]>', 'eom', undefined, [cut])).toEqual(['<a/>']);
    }
  });
  it('EOF inside a message is truncated', () => {
    expect(codeOf(() => decodeAll('<a/>]]>]]', 'eom'))).toBe('ERR_FRAMING_TRUNCATED');
  });
  it('bounds a message without a delimiter', () => {
    const d = new FrameDecoder({ maxMessageBytes: 10 });
    d.push(Buffer.from('x'.repeat(20)));
    expect(codeOf(() => d.next())).toBe('ERR_FRAMING_MESSAGE_TOO_BIG');
  });
  it('refuses to encode a message containing the delimiter', () => {
    expect(codeOf(() => encodeEom('a]]>]]>b'))).toBe('ERR_FRAMING_DELIMITER_IN_MESSAGE');
  });
  it('switches to chunked between two messages in one read (hello + rpc)', () => {
    const d = new FrameDecoder();
    d.push(Buffer.from('<hello/>]]>]]>\n#5\n<rpc/\n#1\n>\n##\n'));
    expect(d.next()?.toString()).toBe('<hello/>');
    d.useChunked();
    expect(d.next()?.toString()).toBe('<rpc/>');
    expect(d.next()).toBeUndefined();
    d.end();
  });
});

describe('property: any split of the byte stream decodes the same messages', () => {
  const msgs = fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 8 });
  const cuts = fc.array(fc.nat(4000), { maxLength: 30 });
  it('chunked', () => {
    fc.assert(fc.property(msgs, cuts, fc.integer({ min: 1, max: 64 }), (ms, cs, maxChunk) => {
      const stream = Buffer.concat(ms.map((m) => encodeChunked(Buffer.from(m), maxChunk)));
      const got = decodeAll(stream, 'chunked', undefined, cs);
      expect(got).toEqual(ms.map((m) => Buffer.from(m).toString('latin1')));
    }), { numRuns: 300 });
  });
  it('end-of-message', () => {
    const text = fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !s.includes(']]>]]>') && !(s + ']]>]]>').slice(0, -6).endsWith(']') && s.trim() !== '');
    fc.assert(fc.property(fc.array(text, { minLength: 1, maxLength: 8 }), cuts, (ms, cs) => {
      const stream = Buffer.concat(ms.map((m) => encodeEom(m)));
      const got = decodeAll(stream, 'eom', undefined, cs).map((b) => Buffer.from(b, 'latin1').toString('utf8'));
      expect(got).toEqual(ms);
    }), { numRuns: 300 });
  });
  it('random bytes never crash the chunked decoder: a message, a FramingError or a wait', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), cuts, (bytes, cs) => {
      try {
        decodeAll(Buffer.from(bytes), 'chunked', { maxMessageBytes: 1000 }, cs);
      } catch (e) {
        expect(e).toBeInstanceOf(FramingError);
      }
    }), { numRuns: 500 });
  });
});

describe('frameText: framing a text message without encoding it', () => {
  it('encodes to exactly the bytes of encodeFrame, with the right size, for any text', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), fc.constantFrom('eom' as const, 'chunked' as const), (text, mode) => {
      fc.pre(!text.includes(']]>]]>'));
      const f = frameText(mode, text);
      const bytes = Buffer.from(f.text, 'utf8');
      expect(bytes.equals(encodeFrame(mode, text))).toBe(true);
      expect(f.bytes).toBe(bytes.length);
    }));
  });

  it('refuses what the encoders refuse, with the same codes', () => {
    expect(() => frameText('eom', 'a]]>]]>b')).toThrow(expect.objectContaining({ code: 'ERR_FRAMING_DELIMITER_IN_MESSAGE' }));
    expect(() => frameText('chunked', '')).toThrow(expect.objectContaining({ code: 'ERR_FRAMING_EMPTY_MESSAGE' }));
    expect(frameText('chunked', '\u00e9').text).toBe('\n#2\n\u00e9\n##\n');
  });
});
