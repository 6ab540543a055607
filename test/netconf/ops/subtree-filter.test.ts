import { describe, expect, it } from 'vitest';
import { parseXml, serializeXml, elements } from '../../../src/netconf/xml/index.js';
import { applySubtreeFilter, filterMayMatchTop } from '../../../src/netconf/server/subtree-filter.js';

const T = 'http://example.com/schema/1.2/config';

// RFC 6241 section 6.4 example data (abridged to what the examples select); case names carry the
// RFC 6241 section numbers (6.4.1 is "no filter", the caller's choice: see get.test.ts)
const DATA = `<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><top xmlns="${T}">
  <users>
    <user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name>
      <company-info><dept>1</dept><id>1</id></company-info></user>
    <user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name>
      <company-info><dept>2</dept><id>2</id></company-info></user>
    <user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name>
      <company-info><dept>2</dept><id>3</id></company-info></user>
  </users>
  <groups><group><name>admin</name></group></groups>
</top>
<top xmlns="http://example.com/schema/1.2/stats">
  <interfaces>
    <interface ifName="eth0"><ifInOctets>45621</ifInOctets><ifOutOctets>774344</ifOutOctets></interface>
    <interface ifName="eth1"><ifInOctets>1</ifInOctets><ifOutOctets>2</ifOutOctets></interface>
  </interfaces>
</top></data>`;

function run(filter: string): string {
  const data = elements(parseXml(DATA));
  const f = parseXml(`<filter xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" type="subtree">${filter}</filter>`);
  return applySubtreeFilter(data, f).map((e) => serializeXml(e)).join('');
}
const norm = (s: string): string => elements(parseXml(`<x>${s}</x>`)).map((e) => serializeXml(e)).join('');

const cases: Array<{ name: string; filter: string; expected: string }> = [
  { name: '6.4.2 empty filter selects nothing', filter: '', expected: '' },
  {
    name: '6.4.3 entire users subtree', filter: `<top xmlns="${T}"><users/></top>`,
    expected: `<top xmlns="${T}"><users>
      <user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name><company-info><dept>1</dept><id>1</id></company-info></user>
      <user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name><company-info><dept>2</dept><id>2</id></company-info></user>
      <user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name><company-info><dept>2</dept><id>3</id></company-info></user>
      </users></top>`,
  },
  {
    name: '6.4.4 all user names', filter: `<top xmlns="${T}"><users><user><name/></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>root</name></user><user><name>fred</name></user><user><name>barney</name></user></users></top>`,
  },
  {
    name: '6.4.5 one specific user entry (content match selects the whole entry)',
    filter: `<top xmlns="${T}"><users><user><name>fred</name></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name><company-info><dept>2</dept><id>2</id></company-info></user></users></top>`,
  },
  {
    name: '6.4.6 specific elements from a specific entry',
    filter: `<top xmlns="${T}"><users><user><name>fred</name><type/><full-name/></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>fred</name><type>admin</type><full-name>Fred Flintstone</full-name></user></users></top>`,
  },
  {
    name: '6.4.7 multiple subtrees',
    filter: `<top xmlns="${T}"><users>
      <user><name>root</name><company-info/></user>
      <user><name>fred</name><company-info><id/></company-info></user>
      <user><name>barney</name><type>superuser</type><company-info><dept/></company-info></user>
    </users></top>`,
    expected: `<top xmlns="${T}"><users>
      <user><name>root</name><company-info><dept>1</dept><id>1</id></company-info></user>
      <user><name>fred</name><company-info><id>2</id></company-info></user></users></top>`,
  },
  {
    name: '6.4.8 elements with attribute naming',
    filter: `<top xmlns="http://example.com/schema/1.2/stats"><interfaces><interface ifName="eth0"/></interfaces></top>`,
    expected: `<top xmlns="http://example.com/schema/1.2/stats"><interfaces><interface ifName="eth0"><ifInOctets>45621</ifInOctets><ifOutOctets>774344</ifOutOctets></interface></interfaces></top>`,
  },
  {
    name: 'namespace selection: another namespace selects nothing',
    filter: `<top xmlns="urn:other"><users/></top>`, expected: '',
  },
  {
    name: 'namespace wildcard: xmlns="" matches every namespace',
    filter: `<top xmlns=""><interfaces><interface ifName="eth1"><ifInOctets/></interface></interfaces></top>`,
    expected: `<top xmlns="http://example.com/schema/1.2/stats"><interfaces><interface ifName="eth1"><ifInOctets>1</ifInOctets></interface></interfaces></top>`,
  },
  {
    name: 'several content match siblings are ANDed',
    filter: `<top xmlns="${T}"><users><user><type>admin</type><full-name>Barney Rubble</full-name></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name><company-info><dept>2</dept><id>3</id></company-info></user></users></top>`,
  },
  {
    name: 'content match plus missing selection sibling keeps the matched content',
    filter: `<top xmlns="${T}"><users><user><name>fred</name><nickname/></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>fred</name></user></users></top>`,
  },
  {
    name: 'content match that matches nothing', filter: `<top xmlns="${T}"><users><user><name>wilma</name></user></users></top>`,
    expected: '',
  },
  {
    name: '6.2.5 one false content match among siblings selects none of the siblings',
    filter: `<top xmlns="${T}"><users><user><name>fred</name><type>superuser</type><full-name/></user></users></top>`,
    expected: '',
  },
  {
    name: '6.2.5 content match true, containment sibling whose nested criteria fail: the content match alone',
    filter: `<top xmlns="${T}"><users><user><name>fred</name><company-info><dept>9</dept></company-info></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>fred</name></user></users></top>`,
  },
  {
    name: '6.2.5 leading and trailing whitespace of a content match is ignored',
    filter: `<top xmlns="${T}"><users><user><name>  fred\n </name><type/></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>fred</name><type>admin</type></user></users></top>`,
  },
  {
    name: '6.2.4 a whitespace-only element is a selection node, not a content match',
    filter: `<top xmlns="${T}"><groups> </groups></top>`,
    expected: `<top xmlns="${T}"><groups><group><name>admin</name></group></groups></top>`,
  },
  {
    name: 'several sibling selections of the same list: each entry once, with what its filter asks',
    filter: `<top xmlns="${T}"><users>
      <user><name>barney</name><type/></user>
      <user><name>root</name></user>
      <user><name>barney</name><full-name/></user>
    </users></top>`,
    expected: `<top xmlns="${T}"><users>
      <user><name>root</name><type>superuser</type><full-name>Charlie Root</full-name><company-info><dept>1</dept><id>1</id></company-info></user>
      <user><name>barney</name><type>admin</type><full-name>Barney Rubble</full-name></user></users></top>`,
  },
  {
    name: '6.1 data selected twice is not duplicated',
    filter: `<top xmlns="${T}"><groups/></top><top xmlns="${T}"><groups/><users><user><name>fred</name><type/></user></users></top>`,
    expected: `<top xmlns="${T}"><users><user><name>fred</name><type>admin</type></user></users><groups><group><name>admin</name></group></groups></top>`,
  },
  {
    name: '6.2.1 a filter node in no namespace matches every namespace (both tops)',
    filter: `<top xmlns=""/>`,
    expected: DATA.replace(/^<data[^>]*>/, '').replace(/<\/data>$/, ''),
  },
  {
    name: '6.2.1 namespace wildcard below a qualified node',
    filter: `<top xmlns="${T}"><groups xmlns=""/></top>`,
    expected: `<top xmlns="${T}"><groups><group><name>admin</name></group></groups></top>`,
  },
  {
    name: '6.2.2 a node without the filter attribute is not selected',
    filter: `<top xmlns="http://example.com/schema/1.2/stats"><interfaces><interface ifType="ethernet"/></interfaces></top>`,
    expected: '',
  },
  {
    name: '6.2.2 the attribute value must match',
    filter: `<top xmlns="http://example.com/schema/1.2/stats"><interfaces><interface ifName="eth9"/></interfaces></top>`,
    expected: '',
  },
  {
    name: '6.2.3 a containment node whose child selects nothing selects nothing',
    filter: `<top xmlns="${T}"><users><nobody/></users></top>`,
    expected: '',
  },
];

describe('applySubtreeFilter (RFC 6241 section 6.4)', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(run(c.filter)).toBe(norm(c.expected));
    });
  }

  it('does not share nodes with the input', () => {
    const data = elements(parseXml(DATA));
    const f = parseXml(`<filter><top xmlns="${T}"><groups/></top></filter>`);
    const out = applySubtreeFilter(data, f);
    (out[0]!.children as unknown[]).length = 0;
    expect(serializeXml(data[0]!)).toContain('<groups>');
  });

  it('a partly selected list entry keeps its key leaves (RFC 7950 7.8.5), in data order; other nodes get nothing extra', () => {
    const X = 'urn:test:keys';
    const data = elements(parseXml(`<r><top xmlns="${X}"><cfg><mode>a</mode><name>not-a-key</name></cfg>` +
      `<entry><id>1</id><sub>s1</sub><val>x</val><inner><k>k1</k><z>z1</z></inner></entry>` +
      `<entry><id>2</id><sub>s2</sub><val>y</val></entry></top></r>`));
    const keysOf = (p: Array<{ ns: string; name: string }>): string[] | undefined => {
      const at = p.map((x) => x.name).join('/');
      return at === 'top/entry' ? ['id', 'sub'] : at === 'top/entry/inner' ? ['k'] : undefined;
    };
    const run2 = (f: string): string => applySubtreeFilter(data, parseXml(`<filter>${f}</filter>`), keysOf).map((e) => serializeXml(e)).join('');
    // selection of a non-key leaf: each entry comes with id and sub
    expect(run2(`<top xmlns="${X}"><entry><val/></entry></top>`)).toBe(
      `<top xmlns="${X}"><entry><id>1</id><sub>s1</sub><val>x</val></entry><entry><id>2</id><sub>s2</sub><val>y</val></entry></top>`);
    // nested list: both levels keep their keys
    expect(run2(`<top xmlns="${X}"><entry><inner><z/></inner></entry></top>`)).toBe(
      `<top xmlns="${X}"><entry><id>1</id><sub>s1</sub><inner><k>k1</k><z>z1</z></inner></entry></top>`);
    // a content match together with a selection: the matched entry only, keys once
    expect(run2(`<top xmlns="${X}"><entry><id>2</id><val/></entry></top>`)).toBe(
      `<top xmlns="${X}"><entry><id>2</id><sub>s2</sub><val>y</val></entry></top>`);
    // a container that is not a list gets no extra leaves, even one named like a key
    expect(run2(`<top xmlns="${X}"><cfg><mode/></cfg></top>`)).toBe(`<top xmlns="${X}"><cfg><mode>a</mode></cfg></top>`);
    // without key information the filter returns exactly what was selected
    expect(applySubtreeFilter(data, parseXml(`<filter><top xmlns="${X}"><entry><val/></entry></top></filter>`)).map((e) => serializeXml(e)).join('')).toBe(
      `<top xmlns="${X}"><entry><val>x</val></entry><entry><val>y</val></entry></top>`);
  });

  it('filterMayMatchTop tells which top nodes a filter can reach', () => {
    const f = parseXml(`<filter><top xmlns="${T}"/><x xmlns=""/></filter>`);
    expect(filterMayMatchTop(f, T, 'top')).toBe(true);
    expect(filterMayMatchTop(f, 'urn:y', 'top')).toBe(false);
    expect(filterMayMatchTop(f, 'urn:y', 'x')).toBe(true);
  });
});
