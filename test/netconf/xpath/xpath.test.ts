import { describe, expect, it } from 'vitest';
import { compileXPath, XPathError } from '../../../src/netconf/xpath/index.js';
import type { ListKeys, Value, XNode } from '../../../src/netconf/xpath/index.js';
import { parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';

const S = 'urn:example:s';
const J = 'urn:example:j';
const NS = { s: S, j: J };

const doc = parseXml(`<data>
  <henbs xmlns="${S}">
    <henb><henb-id>a</henb-id><status>trusted</status>
      <slot><n>1</n><active>true</active></slot><slot><n>2</n></slot>
    </henb>
    <henb><henb-id>b</henb-id><status>quarantined</status><tim xml:lang="en-GB">ff</tim></henb>
    <henb><henb-id>c</henb-id><status>trusted</status><count>3</count></henb>
  </henbs>
  <jobs xmlns="${J}"><job id="7" kind="x"><state>done</state></job><job id="8"><state>running</state></job></jobs>
</data>`);
const top = doc.children.filter((c): c is XmlElement => typeof c !== 'string');

/** a readable name for a node: its path with prefixes s/j and positions among same-named siblings */
function label(n: XNode): string {
  if (n.kind === 'root') return '/';
  const prefix = (ns: string): string => (ns === S ? 's:' : ns === J ? 'j:' : '');
  const up = n.parent && n.parent.kind !== 'root' ? label(n.parent) : '';
  if (n.kind === 'attribute') return `${up}/@${n.localName}`;
  if (n.kind === 'namespace') return `${up}/namespace::${n.localName}`;
  if (n.kind === 'text') return `${up}/text()`;
  const same = n.parent!.children().filter((c) => c.kind === 'element' && c.localName === n.localName && c.ns === n.ns);
  const pos = same.length > 1 ? `[${same.indexOf(n) + 1}]` : '';
  return `${up}/${prefix(n.ns)}${n.localName}${pos}`;
}

function run(expr: string, options: { unprefixed?: 'none' | 'any' } = {}): Value | string[] {
  const v = compileXPath(expr, { namespaces: NS, ...options }).evaluate(top);
  return Array.isArray(v) ? v.map(label) : v;
}

const H = '/s:henbs/s:henb';

describe('XPath 1.0: node sets (table)', () => {
  const table: Array<[string, Value | string[]]> = [
    // location paths, abbreviated and not
    ['/s:henbs', ['/s:henbs']],
    ['/s:henbs/s:henb/s:henb-id', [`${H}[1]/s:henb-id`, `${H}[2]/s:henb-id`, `${H}[3]/s:henb-id`]],
    ['/child::s:henbs/child::s:henb[2]/child::s:status', [`${H}[2]/s:status`]],
    ['s:henbs/s:henb[last()]/s:henb-id', [`${H}[3]/s:henb-id`]],
    ["/s:henbs/s:henb[s:status='trusted']/s:henb-id", [`${H}[1]/s:henb-id`, `${H}[3]/s:henb-id`]],
    ["/s:henbs/s:henb[s:henb-id='b' or s:count > 2]/s:henb-id", [`${H}[2]/s:henb-id`, `${H}[3]/s:henb-id`]],
    ['//s:n', [`${H}[1]/s:slot[1]/s:n`, `${H}[1]/s:slot[2]/s:n`]],
    ['//s:slot[s:active]/s:n', [`${H}[1]/s:slot[1]/s:n`]],
    ['//s:slot[not(s:active)]', [`${H}[1]/s:slot[2]`]],
    ['/s:henbs/s:henb[position() = 2]/s:*', [`${H}[2]/s:henb-id`, `${H}[2]/s:status`, `${H}[2]/s:tim`]],
    ['/s:henbs/s:henb[2]/*', [`${H}[2]/s:henb-id`, `${H}[2]/s:status`, `${H}[2]/s:tim`]],
    ['/j:jobs/j:job/@id', ['/j:jobs/j:job[1]/@id', '/j:jobs/j:job[2]/@id']],
    ['/j:jobs/j:job[@id=8]/j:state', ['/j:jobs/j:job[2]/j:state']],
    ['/j:jobs/j:job/attribute::*', ['/j:jobs/j:job[1]/@id', '/j:jobs/j:job[1]/@kind', '/j:jobs/j:job[2]/@id']],
    ['/j:jobs/j:job[1]/j:state/text()', ['/j:jobs/j:job[1]/j:state/text()']],
    ['/s:henbs | /j:jobs', ['/s:henbs', '/j:jobs']],
    ['/j:jobs | /s:henbs/s:henb[1] | /s:henbs', ['/s:henbs', `${H}[1]`, '/j:jobs']],
    ['/', ['/']],
    ['/s:nothing', []],
    ['/j:henbs', []],
    ['/henbs', []], // XPath 1.0: an unprefixed name is in no namespace
    // axes
    [`${H}[2]/parent::*`, ['/s:henbs']],
    [`${H}[2]/s:status/..`, [`${H}[2]`]],
    [`${H}[2]/s:status/ancestor::*`, ['/s:henbs', `${H}[2]`]],
    [`${H}[2]/s:status/ancestor-or-self::node()`, ['/', '/s:henbs', `${H}[2]`, `${H}[2]/s:status`]],
    [`${H}[2]/following-sibling::s:henb/s:henb-id`, [`${H}[3]/s:henb-id`]],
    [`${H}[2]/preceding-sibling::*/s:henb-id`, [`${H}[1]/s:henb-id`]],
    [`${H}[2]/s:status/following::s:henb-id`, [`${H}[3]/s:henb-id`]],
    [`${H}[2]/s:status/preceding::s:n`, [`${H}[1]/s:slot[1]/s:n`, `${H}[1]/s:slot[2]/s:n`]],
    [`${H}[1]/descendant::s:active`, [`${H}[1]/s:slot[1]/s:active`]],
    [`${H}[1]/s:slot[1]/descendant-or-self::*`, [`${H}[1]/s:slot[1]`, `${H}[1]/s:slot[1]/s:n`, `${H}[1]/s:slot[1]/s:active`]],
    [`${H}[1]/self::s:henb/s:henb-id`, [`${H}[1]/s:henb-id`]],
    [`${H}[1]/self::j:henb`, []],
    ['/j:jobs/j:job[1]/@kind/following::j:state', ['/j:jobs/j:job[1]/j:state', '/j:jobs/j:job[2]/j:state']],
    ['/j:jobs/namespace::xml', ['/j:jobs/namespace::xml']],
    // reverse axes count positions nearest first (2.4)
    [`${H}[3]/preceding-sibling::s:henb[1]/s:henb-id`, [`${H}[2]/s:henb-id`]],
    [`${H}[2]/s:status/ancestor::*[1]`, [`${H}[2]`]],
    [`(${H}/s:henb-id)[2]`, [`${H}[2]/s:henb-id`]],
    [`(${H}/s:henb-id)[last()]/..`, [`${H}[3]`]],
    // functions and values
    [`count(${H})`, 3],
    ['count(//s:slot) + count(//j:job) * 10', 22],
    [`string(${H}[2]/s:status)`, 'quarantined'],
    [`${H}[2]/s:status = 'quarantined'`, true],
    [`${H}/s:status != 'trusted'`, true],
    [`${H}/s:status = 'unknown'`, false],
    [`name(${H}[1])`, 'henb'],
    [`local-name(/j:jobs/j:job/@id)`, 'id'],
    [`namespace-uri(${H}[1])`, S],
    [`concat(${H}[1]/s:henb-id, '-', ${H}[3]/s:henb-id)`, 'a-c'],
    [`starts-with(${H}[2]/s:status, 'quar')`, true],
    [`contains(${H}[2]/s:status, 'rant')`, true],
    [`substring-before('2026-12-03', '-')`, '2026'],
    [`substring-after('2026-12-03', '-')`, '12-03'],
    [`substring('12345', 1.5, 2.6)`, '234'],
    [`substring('12345', 0, 3)`, '12'],
    [`substring('12345', 0 div 0, 3)`, ''],
    [`substring('12345', -42, 1 div 0)`, '12345'],
    [`string-length('héllo')`, 5],
    [`normalize-space('  a \n b  ')`, 'a b'],
    [`translate('bar', 'abc', 'ABC')`, 'BAr'],
    [`translate('--aaa--', 'abc-', 'ABC')`, 'AAA'],
    [`boolean(${H}[9])`, false],
    [`not(true()) or false()`, false],
    [`lang('en')`, false],
    [`count(${H}[lang('en')])`, 0],
    [`count(${H}/s:tim[lang('en')])`, 1],
    [`number('  12.5 ')`, 12.5],
    [`number('1e3')`, NaN],
    [`sum(/j:jobs/j:job/@id)`, 15],
    [`floor(-1.5)`, -2],
    [`ceiling(1.2)`, 2],
    [`round(2.5)`, 3],
    [`round(-2.5)`, -2],
    [`7 mod 3`, 1],
    [`-7 mod 3`, -1],
    [`7 div 2`, 3.5],
    [`1 div 0`, Infinity],
    [`string(1 div 0)`, 'Infinity'],
    [`string(0 div 0)`, 'NaN'],
    [`string(1000000 * 1000000 * 1000000 * 1000000)`, '1000000000000000000000000'],
    [`string(0.000001 div 10)`, '0.0000001'],
    [`string(-3)`, '-3'],
    [`--3`, 3],
    [`1 < 2 = true()`, true],
    [`'10' > '9'`, true],
    [`count(id('a'))`, 0],
    [`/j:jobs/j:job/@id > 7`, true],
    [`/j:jobs/j:job/@id > 8`, false],
    [`count(/j:jobs/j:job[j:state = ${H}/s:status])`, 0],
    [`count(//*)`, 22],
    [`count(//text())`, 13],
    [`count(//node())`, 35],
    [`div div div`, NaN],
    [`count(/s:henbs/s:henb[s:slot/s:n = 2])`, 1],
  ];
  for (const [expr, want] of table) {
    it(expr, () => {
      const got = run(expr);
      if (typeof want === 'number' && Number.isNaN(want)) expect(got).toBeNaN();
      else expect(got).toEqual(want);
    });
  }

  it('an unprefixed name matches any namespace when so configured (as subtree filtering xmlns="")', () => {
    expect(run('/henbs/henb[status="quarantined"]/henb-id', { unprefixed: 'any' })).toEqual([`${H}[2]/s:henb-id`]);
    expect(run('/jobs/job/@id', { unprefixed: 'any' })).toEqual(['/j:jobs/j:job[1]/@id', '/j:jobs/j:job[2]/@id']);
  });
});

describe('XPath 1.0: the selected data (RFC 6241 8.9)', () => {
  const keysOf: ListKeys = (path) => {
    const names = path.map((p) => p.name).join('/');
    return names === 'henbs/henb' ? ['henb-id'] : names === 'henbs/henb/slot' ? ['n'] : names === 'jobs/job' ? [] : undefined;
  };
  const sel = (expr: string): string => compileXPath(expr, { namespaces: NS }).select(top, keysOf).map((e) => serializeXml(e)).join('');

  it('keeps ancestors and list keys of a partly selected entry', () => {
    expect(sel(`${H}[s:status='quarantined']/s:status`)).toBe(
      `<henbs xmlns="${S}"><henb><henb-id>b</henb-id><status>quarantined</status></henb></henbs>`);
    expect(sel('//s:active')).toBe(
      `<henbs xmlns="${S}"><henb><henb-id>a</henb-id><slot><n>1</n><active>true</active></slot></henb></henbs>`);
  });

  it('a selected node brings its whole subtree; nested selections appear once; data order is kept', () => {
    expect(sel(`/j:jobs | ${H}[3] | ${H}[3]/s:count`)).toBe(
      `<henbs xmlns="${S}"><henb><henb-id>c</henb-id><status>trusted</status><count>3</count></henb></henbs>` +
      `<jobs xmlns="${J}"><job id="7" kind="x"><state>done</state></job><job id="8"><state>running</state></job></jobs>`);
  });

  it('a text or attribute node selects its element; the root selects everything', () => {
    expect(sel('/j:jobs/j:job/@kind')).toBe(`<jobs xmlns="${J}"><job id="7" kind="x"><state>done</state></job></jobs>`);
    expect(sel(`${H}[1]/s:henb-id/text()`)).toBe(`<henbs xmlns="${S}"><henb><henb-id>a</henb-id></henb></henbs>`);
    expect(sel('/')).toBe(top.map((e) => serializeXml(e)).join(''));
    expect(sel('/s:none')).toBe('');
  });

  it('a result that is not a node-set is an error naming the expression', () => {
    expect(() => sel('count(//*)')).toThrow(/"count\(\/\/\*\)" gives a number, not a node-set/);
  });

  it('tells which top-level nodes an expression can reach', () => {
    const reach = (e: string, ns: string, name: string): boolean => compileXPath(e, { namespaces: NS }).mayReachTop(ns, name);
    expect(reach('/s:henbs/s:henb', S, 'henbs')).toBe(true);
    expect(reach('/s:henbs/s:henb', J, 'jobs')).toBe(false);
    expect(reach('/s:henbs[/j:jobs]', J, 'jobs')).toBe(true);
    expect(reach('/s:henbs | /j:jobs/j:job', J, 'jobs')).toBe(true);
    expect(reach('//s:henb', J, 'jobs')).toBe(true);
    expect(reach('/s:henbs/s:henb[../../j:jobs]', J, 'jobs')).toBe(true);
    expect(reach('/s:henbs/following-sibling::*', J, 'jobs')).toBe(true);
    expect(reach('string()', J, 'jobs')).toBe(true);
    expect(reach('s:henbs', J, 'jobs')).toBe(false);
  });
});

describe('XPath 1.0: errors and limits', () => {
  const fails = (expr: string, code: string, msg: RegExp, limits = {}): void => {
    let err: unknown;
    try {
      compileXPath(expr, { namespaces: NS, limits }).evaluate(top);
    } catch (e) {
      err = e;
    }
    expect(err, expr).toBeInstanceOf(XPathError);
    expect((err as XPathError).code, expr).toBe(code);
    expect((err as XPathError).message, expr).toMatch(msg);
    expect((err as XPathError).message, expr).toContain(JSON.stringify(expr.length > 120 ? `${expr.slice(0, 117)}...` : expr));
  };
  const table: Array<[string, string, RegExp]> = [
    ['', 'ERR_XPATH_SYNTAX', /empty expression/],
    ['/s:henbs/', 'ERR_XPATH_SYNTAX', /a node test expected|ends too early/],
    ['/x:henbs', 'ERR_XPATH_SYNTAX', /prefix "x" is not declared/],
    ['/s:henbs[', 'ERR_XPATH_SYNTAX', /./],
    ['/s:henbs]', 'ERR_XPATH_SYNTAX', /unexpected "\]"/],
    ['foo()', 'ERR_XPATH_SYNTAX', /unknown function foo\(\)/],
    ['count()', 'ERR_XPATH_SYNTAX', /count\(\) takes 1 argument, not 0/],
    ['concat("a")', 'ERR_XPATH_SYNTAX', /at least 2/],
    ['$x', 'ERR_XPATH_SYNTAX', /variable \$x is not bound/],
    ["'abc", 'ERR_XPATH_SYNTAX', /unterminated string literal/],
    ['/s:henbs # 1', 'ERR_XPATH_SYNTAX', /unexpected character "#"/],
    ['bogus::node()', 'ERR_XPATH_SYNTAX', /unknown axis "bogus"/],
    ['1 2', 'ERR_XPATH_SYNTAX', /an operator expected|unexpected "2"/],
    ['/s:henbs foo /s:x', 'ERR_XPATH_SYNTAX', /an operator expected, found "foo"/],
    ['count(1)', 'ERR_XPATH_EVAL', /count\(\) needs a node-set/],
    ['1 | /s:henbs', 'ERR_XPATH_EVAL', /not a node-set/],
    ['"a"/s:b', 'ERR_XPATH_EVAL', /not a node-set/],
  ];
  for (const [expr, code, msg] of table) it(`${JSON.stringify(expr)} -> ${code}`, () => fails(expr, code, msg));

  it('hostile expressions stop at the limits: length, nesting, steps, node-set size', () => {
    fails(`/s:a${'/s:b'.repeat(2000)}`, 'ERR_XPATH_LIMIT', /longer than 4096 characters/);
    fails(`${'('.repeat(40)}1${')'.repeat(40)}`, 'ERR_XPATH_LIMIT', /nests deeper than 32/);
    fails(`${'-'.repeat(40)}1`, 'ERR_XPATH_LIMIT', /nests deeper than 32/);
    fails('/s:henbs[s:henb[s:slot[s:n[1[2[3[4[5[6[7[8[9[10[11[12[13[14[15[16[17[18[19[20[21[22[23[24[25[26[27[28[29[30[31[32[33]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', 'ERR_XPATH_LIMIT', /nests deeper/);
    fails('//*[//*[//*[//*[//*]]]]', 'ERR_XPATH_LIMIT', /more than 1000000 evaluation steps/);
    fails('//node()', 'ERR_XPATH_LIMIT', /selects more than 10 nodes/, { maxNodeSet: 10 });
    fails('count(//*)', 'ERR_XPATH_LIMIT', /more than 20 evaluation steps/, { maxSteps: 20 });
    // within the limits the same kind of expression runs
    expect(compileXPath('count(//*[//*])', { namespaces: NS }).evaluate(top)).toBe(22);
  });

  it('a deep tree does not grow the stack (descendants are walked iteratively)', () => {
    let deep: XmlElement = { ns: S, name: 'leaf', attrs: [], children: ['x'] };
    for (let i = 0; i < 20_000; i++) deep = { ns: S, name: 'n', attrs: [], children: [deep] };
    expect(compileXPath('count(//s:leaf)', { namespaces: NS }).evaluate([deep])).toBe(1);
  });
});
