import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseXml } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import type { RpcErrorInfo } from '../../src/netconf/rpc-error.js';
import type { LoadedYang } from '../../src/yang/index.js';
import { compileTexts } from '../../src/yang/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const F = 'urn:test:features';

let y: LoadedYang;
beforeAll(() => {
  const ietf = join(ROOT, 'yang/ietf');
  const files = readdirSync(ietf).map((f) => ({ file: f, text: readFileSync(join(ietf, f), 'utf8') }));
  files.push({ file: 'features.yang', text: readFileSync(join(import.meta.dirname, 'fixtures/features.yang'), 'utf8') });
  y = compileTexts(files);
});

const cfg = (inner: string): RpcErrorInfo[] => {
  const top = parseXml(`<data xmlns:f="${F}"><c xmlns="${F}">${inner}</c></data>`);
  return y.validator.validateConfig(top.children.filter((c): c is XmlElement => typeof c !== 'string'));
};
const BASE = '<b1>x</b1><l><k1>a</k1><k2>1</k2></l>';
const ok = (inner: string): void => expect(cfg(BASE + inner)).toEqual([]);
const bad = (inner: string, tag: string, path?: string): RpcErrorInfo => {
  const errs = cfg(BASE + inner);
  expect(errs.length, JSON.stringify(errs)).toBeGreaterThan(0);
  expect(errs[0]!.tag).toBe(tag);
  if (path !== undefined) expect(errs[0]!.path).toBe(path);
  return errs[0]!;
};

describe('types', () => {
  it('range restrictions accumulate through typedefs', () => {
    ok('<s>3</s>');
    ok('<s> +2 </s>');
    const e = bad('<s>4</s>', 'invalid-value', '/f:c/f:s');
    expect(e.pathNs).toEqual({ f: F });
    expect(e.message).toMatch(/range 0\.\.3/);
    bad('<s>x</s>', 'invalid-value');
    bad('<s>300</s>', 'invalid-value');
  });
  it('all patterns apply, invert-match inverts, schema error-app-tag and error-message are used', () => {
    ok('<code>abc</code>');
    const e = bad('<code>AB</code>', 'invalid-value');
    expect(e.appTag).toBe('bad-code');
    expect(e.message).toMatch(/a code is lowercase letters/);
    bad('<code>xab</code>', 'invalid-value');
    bad('<code>a</code>', 'invalid-value');
    bad('<code>abcde</code>', 'invalid-value');
  });
  it('decimal64 with fraction-digits and range', () => {
    ok('<dec>0.5</dec>');
    ok('<dec>10.25</dec>');
    ok('<dec>3</dec>');
    bad('<dec>10.26</dec>', 'invalid-value');
    bad('<dec>1.234</dec>', 'invalid-value');
    bad('<dec>abc</dec>', 'invalid-value');
  });
  it('bits, union, empty', () => {
    ok('<b>a b</b>');
    ok('<b></b>');
    bad('<b>c</b>', 'invalid-value');
    bad('<b>a a</b>', 'invalid-value');
    ok('<u>-3</u>');
    ok('<u>auto</u>');
    bad('<u>manual</u>', 'invalid-value');
    ok('<e/>');
    bad('<e>x</e>', 'invalid-value');
  });
  it('identityref resolves the prefix in the XML namespace context and checks derivation', () => {
    ok('<id>f:derived</id>');
    ok('<id xmlns:z="urn:test:features">z:derived</id>');
    bad('<id>f:other</id>', 'invalid-value');
    bad('<id>f:nope</id>', 'invalid-value');
    bad('<id>q:derived</id>', 'invalid-value');
  });
  it('inet:host (union of ietf-inet-types patterns)', () => {
    ok('<host>192.0.2.1</host>');
    ok('<host>2001:db8::1</host>');
    ok('<host>femto-1.example.net</host>');
    bad('<host>bad host!</host>', 'invalid-value');
  });
  it('leafref is typed as its target and requires an instance (RFC 7950 section 15.5)', () => {
    ok('<s>2</s><ref>2</ref>');
    ok('<s>2</s><ref> 02 </ref>');
    bad('<ref>9</ref>', 'invalid-value');
    const e = bad('<s>1</s><ref>2</ref>', 'data-missing', '/f:c/f:ref');
    expect(e.appTag).toBe('instance-required');
    bad('<ref>2</ref>', 'data-missing');
  });
  it('binary: strict base64, length in octets', () => {
    ok('<bin>AAA=</bin>');
    ok('<bin>AAAA</bin>');
    bad('<bin>AA==</bin>', 'invalid-value');
    bad('<bin>AAAAAA==</bin>', 'invalid-value');
    bad('<bin>AA=A</bin>', 'invalid-value');
    bad('<bin>AAA</bin>', 'invalid-value');
  });
});

describe('structure', () => {
  it('a mandatory choice needs one case; two cases conflict', () => {
    const e = cfg('<l><k1>a</k1><k2>1</k2></l>');
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ tag: 'data-missing', appTag: 'missing-choice', path: '/f:c' });
    expect(cfg('<a1>x</a1><a2>y</a2><l><k1>a</k1><k2>1</k2></l>')).toEqual([]);
    const two = cfg('<a1>x</a1><b1>y</b1><l><k1>a</k1><k2>1</k2></l>');
    expect(two[0]).toMatchObject({ tag: 'bad-element' });
  });
  it('list keys: missing key, duplicate key (compared by value), unique, min/max-elements', () => {
    const miss = cfg('<b1>x</b1><l><k1>a</k1></l>');
    expect(miss[0]).toMatchObject({ tag: 'missing-element', path: '/f:c/f:l[1]/f:k2' });
    const dup = cfg('<b1>x</b1><l><k1>a</k1><k2>1</k2></l><l><k2>01</k2><k1>a</k1></l>');
    expect(dup[0]).toMatchObject({ tag: 'operation-failed', appTag: 'data-not-unique', path: "/f:c/f:l[f:k1='a'][f:k2='01']" });
    const uniq = cfg('<b1>x</b1><l><k1>a</k1><k2>1</k2><v>same</v></l><l><k1>b</k1><k2>1</k2><v>same</v></l>');
    expect(uniq[0]).toMatchObject({ tag: 'operation-failed', appTag: 'data-not-unique' });
    expect(cfg('<b1>x</b1>')[0]).toMatchObject({ tag: 'operation-failed', appTag: 'too-few-elements', path: '/f:c/f:l' });
    const four = [1, 2, 3, 4].map((i) => `<l><k1>a</k1><k2>${i}</k2></l>`).join('');
    expect(cfg(`<b1>x</b1>${four}`)[0]).toMatchObject({ tag: 'operation-failed', appTag: 'too-many-elements' });
  });
  it('config leaf-lists: unique values, max-elements', () => {
    ok('<ll>a</ll><ll>b</ll>');
    expect(bad('<ll>a</ll><ll>a</ll>', 'operation-failed').path).toBe("/f:c/f:ll[.='a']");
    bad('<ll>a</ll><ll>b</ll><ll>c</ll>', 'operation-failed');
  });
  it('refine makes a grouping leaf optional; augment adds nodes', () => {
    ok('<gl>x</gl><gc><inner>true</inner></gc><aug>y</aug>');
  });
  it('state (config false) is not configuration', () => {
    const e = bad('<st><counter>1</counter></st>', 'unknown-element', '/f:c');
    expect(e.message).toMatch(/config false/);
  });
  it('unknown elements and namespaces, duplicates, text and elements in the wrong places', () => {
    const u = bad('<nope/>', 'unknown-element', '/f:c');
    expect(u.info?.[0]).toMatchObject({ name: 'bad-element', children: ['nope'] });
    const n = bad('<x xmlns="urn:other"/>', 'unknown-namespace', '/f:c');
    expect(n.info?.map((i) => i.name)).toEqual(['bad-element', 'bad-namespace']);
    bad('<s>1</s><s>1</s>', 'bad-element', '/f:c/f:s');
    bad('<s><x/></s>', 'bad-element', '/f:c/f:s');
    expect(cfg(`${BASE}stray`)[0]).toMatchObject({ tag: 'bad-element', path: '/f:c' });
  });
});

describe('operations', () => {
  it('rpc input: mandatory nodes from groupings, min-elements, anyxml takes anything', () => {
    const op = (s: string) => y.validator.validateRpcInput(parseXml(`<r xmlns="${F}">${s}</r>`));
    expect(op('<gl>x</gl><h>1</h><blob><any xmlns="urn:whatever"><thing/></any></blob>')).toEqual([]);
    expect(op('<h>1</h>')[0]).toMatchObject({ tag: 'missing-element', path: '/f:r/f:gl' });
    expect(op('<gl>x</gl>')[0]).toMatchObject({ tag: 'operation-failed', appTag: 'too-few-elements', path: '/f:r/f:h' });
    // non-config leaf-lists may repeat values (RFC 7950 section 7.7)
    expect(op('<gl>x</gl><h>1</h><h>1</h>')).toEqual([]);
  });
  it('rpc output and notifications', () => {
    expect(y.validator.validateRpcOutput(F, 'r', [parseXml(`<ok xmlns="${F}">true</ok>`)])).toEqual([]);
    expect(y.validator.validateRpcOutput(F, 'r', [])[0]).toMatchObject({ tag: 'missing-element', path: '/f:r/f:ok' });
    expect(y.validator.validateNotification(parseXml(`<n xmlns="${F}"><x>-5</x></n>`))).toEqual([]);
    expect(y.validator.validateNotification(parseXml(`<n xmlns="${F}"><x>6</x></n>`))[0]).toMatchObject({ tag: 'invalid-value', path: '/f:n/f:x' });
  });
  it('unknown operations', () => {
    expect(y.validator.hasRpc(F, 'r')).toBe(true);
    expect(y.validator.hasRpc(F, 'nope')).toBe(false);
    expect(y.validator.validateRpcInput(parseXml(`<nope xmlns="${F}"/>`))[0]!.tag).toBe('unknown-element');
    expect(y.validator.validateNotification(parseXml('<n xmlns="urn:other"/>'))[0]!.tag).toBe('unknown-namespace');
  });
  it('schema helpers: keysOf, listKeys, isLeafList', () => {
    expect(y.keysOf(F, '/c/l')).toEqual(['k1', 'k2']);
    expect(y.keysOf(F, ['c', 's'])).toBeUndefined();
    expect(y.validator.listKeys([{ ns: F, name: 'c' }, { ns: F, name: 'l' }])).toEqual(['k1', 'k2']);
    expect(y.validator.isLeafList([{ ns: F, name: 'c' }, { ns: F, name: 'll' }])).toBe(true);
    // nodes inside choices are found through them
    expect(y.validator.nodeAt([{ ns: F, name: 'c' }, { ns: F, name: 'a1' }])?.kind).toBe('leaf');
  });
});
