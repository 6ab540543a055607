/**
 * The shared saxes parser must stay a "fast properties" object in V8: saxes stores handlers with keyed
 * stores, and past six of them V8 turns the parser into a dictionary object, which made every parse
 * about 5x slower (see src/netconf/xml/parse.ts). This checks the shape, not the speed.
 */
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import { SaxesParser } from 'saxes';

setFlagsFromString('--allow-natives-syntax');
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

describe('xml parse: the shared parser object', () => {
  it('keeps fast properties after its handlers are registered and documents are parsed', async () => {
    const parsers = new Set<SaxesParser>();
    const on = SaxesParser.prototype.on;
    const spy = vi.spyOn(SaxesParser.prototype, 'on').mockImplementation(function (this: SaxesParser, ...args: Parameters<typeof on>) {
      parsers.add(this);
      return on.apply(this, args);
    });
    const { parseXml } = await import('../../../src/netconf/xml/parse.js');
    try {
      parseXml('<?xml version="1.0"?><?pi x?><r xmlns="urn:r" xmlns:p="urn:p" p:a="1"><![CDATA[t]]><c>1</c></r>');
      expect(() => parseXml('<a><b></a>')).toThrow();
      parseXml('<r xmlns="urn:r"/>');
    } finally {
      spy.mockRestore();
    }
    expect(parsers.size).toBeGreaterThan(0);
    for (const p of parsers) expect(hasFastProperties(p)).toBe(true);
    // the sanity of the probe itself: a parser with every handler is a dictionary object
    const slow = new SaxesParser({ xmlns: true });
    for (const ev of ['text', 'opentag', 'closetag', 'cdata', 'doctype', 'processinginstruction', 'error', 'comment'] as const) slow.on(ev, () => undefined);
    expect(hasFastProperties(slow)).toBe(false);
  });
});
