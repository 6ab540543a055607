/**
 * Interop: deref() and enum-value() (RFC 7950 10.3.1, 10.5.1) against libyang. yanglint (Debian libyang2-tools)
 * has no XPath evaluation option in this version, but it evaluates `must` expressions, with these functions,
 * when it validates data: each expression E becomes `must "E"` on a list entry, and for each data document
 * (one entry) yanglint's verdict must equal our `boolean(/x:routes/x:route[E])` over the same document. The
 * expressions cover leafref paths (absolute, relative, with current() in a predicate), instance-identifiers,
 * enumerations (explicit, implicit, restricted values; inside a choice; a union and a leafref to an enumeration,
 * which are not "of type enumeration" for libyang, nor for us). Every reference in the documents resolves:
 * libyang fails deref() of a dangling leafref or instance-identifier (even with require-instance false) where
 * RFC 7950 10.3.1 says the result is empty, as ours is (test/netconf/xpath/yang-deref-enum.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTexts } from '../../src/yang/index.js';
import { yangFunctionsOf } from '../../src/netconf/server/nmda.js';
import { compileXPath } from '../../src/netconf/xpath/index.js';
import type { YangFunctions } from '../../src/netconf/xpath/index.js';
import { parseXml } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';

const NS = 'urn:example:xd';

const moduleWith = (must: string): string => `module xd {
  yang-version 1.1;
  namespace "${NS}";
  prefix x;
  typedef colour {
    type enumeration { enum red; enum green { value 10; } enum blue; enum black { value -2; } enum white; }
  }
  container interfaces {
    list interface {
      key name;
      leaf name { type string; }
      leaf colour { type colour; }
      leaf bright { type colour { enum green; enum white; } }
      leaf mtu { type uint16; }
    }
  }
  container routes {
    list route {
      key id;
      ${must === '' ? '' : `must "${must}";`}
      leaf id { type uint8; }
      leaf via { type leafref { path "/x:interfaces/x:interface/x:name"; require-instance false; } }
      leaf via-rel { type leafref { path "../../../interfaces/interface/name"; require-instance false; } }
      leaf via-mtu { type leafref { path "/interfaces/interface[name = current()/../via]/mtu"; require-instance false; } }
      leaf target { type instance-identifier { require-instance false; } }
      leaf mode { type union { type uint8; type enumeration { enum auto { value 3; } enum off; } } }
      choice kind { case a { leaf weight { type enumeration { enum light; enum heavy; } } } }
      leaf paint { type leafref { path "/x:interfaces/x:interface/x:colour"; } }
    }
  }
}`;

const INTERFACES = `<interfaces xmlns="${NS}">
  <interface><name>eth0</name><colour>green</colour><bright>white</bright><mtu>1500</mtu></interface>
  <interface><name>eth1</name><colour>black</colour><bright>green</bright><mtu>9000</mtu></interface>
  <interface><name>eth2</name><colour>red</colour><mtu>1500</mtu></interface>
</interfaces>`;

const ROUTES = [
  `<route><id>1</id><via>eth1</via><via-rel>eth1</via-rel><via-mtu>9000</via-mtu><target>/q:interfaces/q:interface[q:name='eth2']/q:mtu</target><mode>auto</mode><weight>heavy</weight><paint>green</paint></route>`,
  `<route><id>2</id><via>eth2</via><via-rel>eth0</via-rel><via-mtu>1500</via-mtu><target>/q:interfaces/q:interface[q:name='eth1']</target><mode>3</mode><weight>light</weight><paint>black</paint></route>`,
  `<route><id>3</id><via>eth0</via><via-rel>eth2</via-rel><via-mtu>1500</via-mtu><target>/q:interfaces/q:interface[q:name='eth0']/q:colour</target><mode>off</mode><weight>light</weight><paint>red</paint></route>`,
];
const documentOf = (route: string): string => `${INTERFACES}\n<routes xmlns="${NS}" xmlns:q="${NS}">${route}</routes>\n`;

const EXPRESSIONS = [
  `deref(x:via)/../x:colour = 'green'`,
  `enum-value(deref(x:via)/../x:colour) < 0`,
  `enum-value(deref(x:via)/../x:bright) = 12`,
  `deref(x:via-rel)/../x:mtu = 1500`,
  `deref(x:via-mtu) = 9000`,
  `deref(x:target) = 'green'`,
  `local-name(deref(x:target)) = 'colour'`,
  `enum-value(x:mode) = 3 or x:mode = 3`,
  `string(enum-value(x:mode)) = 'NaN' and x:id < 3`,
  `enum-value(x:paint) = 10 or x:id = 2`,
  `enum-value(deref(x:paint)) < 0`,
  `enum-value(x:weight) = 1`,
  `deref(x:paint)/../x:name = 'eth2'`,
];

function yanglint(dir: string, must: string, doc: string): Promise<boolean> {
  writeFileSync(join(dir, 'xd.yang'), moduleWith(must));
  writeFileSync(join(dir, 'data.xml'), doc);
  return new Promise((resolve, reject) => {
    execFile('yanglint', ['-t', 'config', join(dir, 'xd.yang'), join(dir, 'data.xml')], { timeout: 20_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve(true);
      if (/Must condition .* not satisfied/.test(stderr)) return resolve(false);
      reject(new Error(`yanglint failed otherwise: ${stderr}`));
    });
  });
}

let dir: string;
let fns: YangFunctions;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hsv-xpath-yang-'));
  fns = yangFunctionsOf(compileTexts([{ file: 'xd.yang', text: moduleWith('') }]).validator);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deref() and enum-value(): our evaluation agrees with libyang (yanglint must)', () => {
  it('the documents are valid without a must (so a verdict below is the must\'s)', async () => {
    for (const r of ROUTES) expect(await yanglint(dir, '', documentOf(r))).toBe(true);
  });

  for (const expr of EXPRESSIONS) {
    it(expr, async () => {
      const verdicts: Array<[number, boolean, boolean]> = [];
      for (const [i, r] of ROUTES.entries()) {
        const doc = documentOf(r);
        const top = parseXml(Buffer.from(`<data>${doc}</data>`)).children.filter((c): c is XmlElement => typeof c !== 'string');
        const ours = compileXPath(`boolean(/x:routes/x:route[${expr}])`, { namespaces: { x: NS }, yang: fns }).evaluate(top) as boolean;
        verdicts.push([i + 1, ours, await yanglint(dir, expr, doc)]);
      }
      expect(verdicts.map(([i, ours]) => [i, ours])).toEqual(verdicts.map(([i, , theirs]) => [i, theirs]));
      // each expression separates the documents (a verdict that never changes would show little)
      expect(new Set(verdicts.map((v) => v[2])).size, `${expr} does not discriminate`).toBe(2);
    });
  }
});
