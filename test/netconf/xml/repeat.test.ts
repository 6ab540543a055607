/**
 * Repeated messages (src/netconf/xml/repeat.ts): a Buffer that repeats the last one the fast scanner took, but for one
 * attribute value on its root, gets a copy of that tree with the new value instead of a parse. Every answer must be
 * the parse's (the same tree, or the same error), whatever differs and wherever; every tree handed out is the
 * caller's own; and a repeat must really be answered from the kept tree (the optimisation is not silently off).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_PARSE_LIMITS, parseWithSaxes, parseXml } from '../../../src/netconf/xml/parse.js';
import type { ParseLimits } from '../../../src/netconf/xml/parse.js';
import { MAX_REPEAT_BYTES, forgetRepeat, repeated } from '../../../src/netconf/xml/repeat.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';

const N = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const DEFAULT = DEFAULT_PARSE_LIMITS;

function view(e: XmlElement): unknown {
  const ctx: Array<[string, string]> = [];
  for (const p in e.nsContext) ctx.push([p, e.nsContext[p]!]);
  return { ns: e.ns, name: e.name, attrs: e.attrs.map((a) => [a.ns, a.name, a.value]), ctx, children: e.children.map((c) => (typeof c === 'string' ? c : view(c))) };
}

function outcome(parse: () => XmlElement): unknown {
  try {
    return { tree: view(parse()) };
  } catch (e) {
    return { error: (e as Error).message, code: (e as { code?: string }).code };
  }
}

/** `base` parsed as received three times (its tree is then kept), then `next`: the answer is saxes' for `next` */
function afterRepeats(base: string, next: string, limits?: ParseLimits): void {
  for (let i = 0; i < 3; i++) expect(outcome(() => parseXml(Buffer.from(base), limits)), base).toEqual(outcome(() => parseWithSaxes(base, limits)));
  expect(outcome(() => parseXml(Buffer.from(next), limits)), `${base} then ${next}`).toEqual(outcome(() => parseWithSaxes(next, limits)));
}

const getConfig = (id: string, q = '"'): string => `<rpc xmlns=${q}${N}${q} message-id=${q}${id}${q}><get-config><source><running/></source></get-config></rpc>`;
const ncclient = (id: string): string => `<?xml version="1.0" encoding="UTF-8"?><nc:rpc xmlns:nc="${N}" message-id="${id}"><nc:get-config><nc:source><nc:running/></nc:source></nc:get-config></nc:rpc>`;

beforeEach(() => forgetRepeat());

describe('xml parse: repeated messages', () => {
  it('answers a repeat from the kept tree (message-id longer, shorter, the same, empty; first or last attribute)', () => {
    for (const [a, b] of <Array<[string, string]>>[['7', '8'], ['99', '100'], ['1000', '999'], ['5', '5'], ['12', ''], ['', '3'], ['urn:uuid:1', 'urn:uuid:2']]) {
      for (const make of [getConfig, ncclient, (id: string) => getConfig(id, "'"), (id: string) => `<rpc message-id="${id}" xmlns="${N}" x="y"><close-session/></rpc>`]) {
        forgetRepeat();
        parseXml(Buffer.from(make(a)));
        parseXml(Buffer.from(make(a)));
        const again = repeated(Buffer.from(make(b)), DEFAULT);
        expect(again, make(b)).toBeDefined();
        expect(view(again!)).toEqual(view(parseWithSaxes(make(b))));
        afterRepeats(make(a), make(b));
      }
    }
  });

  it('parses a message that differs elsewhere, or whose new value the scanner would not take', () => {
    const base = getConfig('101');
    const others = [
      // values outside the scanner's subset: an entity, '<', the quote, the other quote, tab, newline, non-ASCII, NUL
      getConfig('1&amp;2'), getConfig('1<2'), getConfig('1"2'), `<rpc xmlns="${N}" message-id="1'2"><get-config><source><running/></source></get-config></rpc>`,
      getConfig('1\t2'), getConfig('1\n2'), getConfig('1é2'), getConfig('1\u00002'), getConfig('1&2'),
      // the namespace declaration, the names, the body, the attribute's name, a second attribute, whitespace
      getConfig('101').replace(N, 'urn:other'), getConfig('101').replace(N, ''), getConfig('102').replace('get-config>', 'get-confix>'),
      getConfig('101').replace('running', 'candidate'), getConfig('101').replace('message-id', 'message-ix'),
      getConfig('101').replace('message-id', 'xmlns:m'), getConfig('101').replace('"101"', '"101" x="1"'),
      getConfig('101').replace('<rpc ', '<rpc  '), getConfig('102').replace('</rpc>', '</rpc> '), getConfig('102') + '<a/>',
      getConfig('102').slice(0, -1), '<rpc/>', '', ' ', getConfig('1').replace('message-id="1"', 'message-id="1" message-id="2"'),
      // the quotes, the '=' and the space around the value changed or gone
      getConfig('101').replace('="101"', '=x101"'), getConfig('101').replace('="101"', '=101"'), getConfig('101').replace('="101"', '="101x'),
      getConfig('101').replace('="101"', '="101'), getConfig('101').replace('="101"', "='101'"), getConfig('101').replace('="101"', '="101\''),
      getConfig('101').replace('="101"', 'x"101"'), getConfig('101').replace('="101"', ' ="101"'), getConfig('101').replace(' message-id', 'message-id'),
      getConfig('101').replace('="101"', '="101""'), getConfig('101').replace('="101"', '=""101"'),
      // the value running into the next attribute, or the end
      getConfig('101').replace('message-id="101"', 'message-id="1'), getConfig('101" y="2'),
    ];
    for (const next of others) afterRepeats(base, next);
    for (const next of others) afterRepeats(ncclient('101'), next);
  });

  it('keeps the limits: another limits object is parsed (and may fail) as before', () => {
    const small: ParseLimits = { maxAttributes: 1 };
    afterRepeats(getConfig('1'), getConfig('2'), undefined);
    expect(() => parseXml(Buffer.from(getConfig('3')), small)).toThrow(/more than 1 attributes/);
    afterRepeats(getConfig('1'), getConfig('2'), { maxDepth: 2 });
  });

  it('hands out trees of their own: changing one does not change the next', () => {
    const a = parseXml(Buffer.from(getConfig('1')));
    const b = parseXml(Buffer.from(getConfig('2')));
    const c = parseXml(Buffer.from(getConfig('3')));
    for (const t of [a, b, c]) {
      (t.children[0] as XmlElement).children.push('x');
      t.attrs.push({ ns: '', name: 'z', value: 'z' });
      (t.attrs as Array<{ value: string }>)[0]!.value = 'changed';
    }
    const d = parseXml(Buffer.from(getConfig('4')));
    expect(view(d)).toEqual(view(parseWithSaxes(getConfig('4'))));
    expect(d).not.toBe(c);
  });

  it('does not keep messages larger than MAX_REPEAT_BYTES', () => {
    const big = (id: string): string => getConfig(id).replace('<running/>', `<running/>${'<x/>'.repeat(MAX_REPEAT_BYTES / 4)}`);
    parseXml(Buffer.from(big('1')));
    parseXml(Buffer.from(big('1')));
    expect(repeated(Buffer.from(big('2')), DEFAULT)).toBeUndefined();
    afterRepeats(big('1'), big('2'));
  });

  it('gives the parse\'s answer after edits next to and inside a root attribute value (fast-check)', () => {
    const base = getConfig('4242');
    const at = base.indexOf('4242');
    const edit = fc.tuple(fc.integer({ min: at - 14, max: at + 8 }), fc.integer({ min: 0, max: 2 }),
      fc.constantFrom('', '1', '"', "'", '=', ' ', '<', '>', '&', 'é', '\t', '/'));
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 2 }), (edits) => {
      let next = base;
      for (const [i, del, ins] of edits) next = next.slice(0, i) + ins + next.slice(i + del);
      forgetRepeat();
      afterRepeats(base, next);
    }), { numRuns: 2000, seed: 1314 });
  });

  it('gives the parse\'s answer after any edit of a repeated message (fast-check)', () => {
    const bases = [getConfig('42'), ncclient('42'), `<rpc xmlns="${N}" xmlns:p="urn:p" message-id="42" p:a="v"><p:x>t &amp; u</p:x><get/></rpc>`,
      `<?xml version='1.0'?>\n<a b='1' c="2"><d e="3"/></a>`];
    const edit = fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 0, max: 3 }),
      fc.constantFrom('', '1', '99', '<', '>', '"', "'", '=', ' ', ':', '&', 'é', '\t', 'xmlns', 'x="1"'));
    fc.assert(fc.property(fc.constantFrom(...bases), fc.array(edit, { minLength: 1, maxLength: 2 }), (base, edits) => {
      let next = base;
      for (const [at, del, ins] of edits) {
        const i = Math.floor(at * (next.length + 1));
        next = next.slice(0, i) + ins + next.slice(i + del);
      }
      forgetRepeat();
      afterRepeats(base, next);
    }), { numRuns: 3000, seed: 1313 });
  });

  it('a message of the same length that differs elsewhere, after a new value, leaves no trace: the next repeat is the parse\'s', () => {
    // one root value of the same length is compared in one pass after its new value is written over the kept one
    const base = getConfig('101');
    parseXml(Buffer.from(base));
    parseXml(Buffer.from(base));
    for (const [other, next] of <Array<[string, string]>>[
      [getConfig('102').replace('running', 'runnin2'), getConfig('103')],
      [getConfig('104').replace('<source>', '<sourcX>'), getConfig('101')],
      [getConfig('1<5'), getConfig('106')],
    ]) {
      expect(outcome(() => parseXml(Buffer.from(other))), other).toEqual(outcome(() => parseWithSaxes(other)));
      const again = parseXml(Buffer.from(next));
      expect(view(again), next).toEqual(view(parseWithSaxes(next)));
    }
    const r1 = repeated(Buffer.from(getConfig('107')), DEFAULT);
    expect(r1).toBeDefined();
    expect(view(r1!)).toEqual(view(parseWithSaxes(getConfig('107'))));
  });

  it('gives message-ids back digit for digit (leading zeros, 15 and 16 digits, letters, zero)', () => {
    for (const id of ['007', '0', '9', '123456789012345', '1234567890123456', '999999999999999', '12a', 'a12', '-1', '1e3', '0x1']) {
      forgetRepeat();
      parseXml(Buffer.from(getConfig('55555')));
      parseXml(Buffer.from(getConfig('55556')));
      const again = repeated(Buffer.from(getConfig(id)), DEFAULT);
      expect(again, id).toBeDefined();
      expect(again!.attrs.find((a) => a.name === 'message-id')!.value).toBe(id);
    }
  });

  it('answers the repeats after a message-id grows or shrinks (9 -> 10, 99 -> 100, then down again) as the parse does', () => {
    const ids = ['7', '8', '9', '10', '11', '12', '99', '100', '101', '1', '2', '3'];
    for (const make of [getConfig, (id: string) => `<rpc a="x" message-id="${id}" xmlns="${N}" z="y"><close-session/></rpc>`, (id: string) => `<rpc message-id="${id}" z="q${id}" xmlns="${N}"><get/></rpc>`]) {
      forgetRepeat();
      for (const id of ids) expect(view(parseXml(Buffer.from(make(id)))), make(id)).toEqual(view(parseWithSaxes(make(id))));
    }
    // the kept message follows the length: a same-length repeat right after the change is answered from the tree
    forgetRepeat();
    for (const id of ['8', '9', '10']) parseXml(Buffer.from(getConfig(id)));
    const r = repeated(Buffer.from(getConfig('11')), DEFAULT);
    expect(r).toBeDefined();
    expect(view(r!)).toEqual(view(parseWithSaxes(getConfig('11'))));
  });
});
