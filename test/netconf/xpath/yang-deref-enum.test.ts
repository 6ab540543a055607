/**
 * RFC 7950 10.3.1 deref() and 10.5.1 enum-value() in XPath filters: the XPath layer asks the server's
 * YangFunctions (src/netconf/server/nmda.ts yangFunctionsOf) for the schema of the argument node, found by its
 * element names in a compiled module. A table of expressions over one data tree with expected node sets.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compileTexts } from '../../../src/yang/index.js';
import type { LoadedYang } from '../../../src/yang/index.js';
import { yangFunctionsOf } from '../../../src/netconf/server/nmda.js';
import { compileXPath } from '../../../src/netconf/xpath/index.js';
import type { XNode, YangFunctions } from '../../../src/netconf/xpath/index.js';
import { parseXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';

const NS = 'urn:example:xd';
const OTHER = 'urn:example:xd-types';

// the types module: a typedef'd enumeration and a leafref path written with this module's own prefix
const TYPES = `module xd-types {
  yang-version 1.1;
  namespace "${OTHER}";
  prefix t;
  typedef colour {
    type enumeration {
      enum red;
      enum green { value 10; }
      enum blue;
      enum black { value -2; }
      enum white;
    }
  }
}`;

const MAIN = `module xd {
  yang-version 1.1;
  namespace "${NS}";
  prefix x;
  import xd-types { prefix xt; }
  container interfaces {
    list interface {
      key name;
      leaf name { type string; }
      leaf colour { type xt:colour; }
      leaf bright { type xt:colour { enum green; enum white; } }
      leaf mtu { type uint16; }
      leaf-list tag { type enumeration { enum a; enum b { value 7; } } }
    }
  }
  container routes {
    list route {
      key id;
      leaf id { type uint8; }
      leaf via { type leafref { path "/x:interfaces/x:interface/x:name"; } }
      leaf via-rel { type leafref { path "../../../interfaces/interface/name"; } }
      leaf via-mtu {
        type leafref { path "/interfaces/interface[name = current()/../via]/mtu"; }
      }
      leaf target { type instance-identifier; }
      leaf mode { type union { type uint8; type enumeration { enum auto { value 3; } enum off; } } }
      choice kind {
        case a { leaf weight { type enumeration { enum light; enum heavy; } } }
      }
      leaf note { type string; }
      leaf paint { type leafref { path "/x:interfaces/x:interface/x:colour"; } }
    }
  }
}`;

const DATA = `<data xmlns="${NS}" xmlns:q="${NS}">
  <interfaces>
    <interface><name>eth0</name><colour>green</colour><bright>white</bright><mtu>1500</mtu><tag>a</tag><tag>b</tag></interface>
    <interface><name>eth1</name><colour>black</colour><bright>green</bright><mtu>9000</mtu></interface>
    <interface><name>eth2</name><colour>red</colour><mtu>1500</mtu></interface>
  </interfaces>
  <routes>
    <route><id>1</id><via>eth1</via><via-rel>eth1</via-rel><via-mtu>9000</via-mtu><target>/q:interfaces/q:interface[q:name='eth2']/q:mtu</target><mode>auto</mode><weight>heavy</weight><note>eth0</note><paint>green</paint></route>
    <route><id>2</id><via>eth9</via><via-rel>eth0</via-rel><via-mtu>1500</via-mtu><target>/q:interfaces/q:interface[q:name='nope']</target><mode>3</mode><weight>light</weight></route>
  </routes>
</data>`;

let yang: LoadedYang;
let fns: YangFunctions;
let top: XmlElement[];

beforeAll(() => {
  yang = compileTexts([{ file: 'xd-types.yang', text: TYPES }, { file: 'xd.yang', text: MAIN }]);
  fns = yangFunctionsOf(yang.validator);
  top = parseXml(Buffer.from(DATA)).children.filter((c): c is XmlElement => typeof c !== 'string');
});

/** evaluate with the YANG functions; a node-set as "name=value" of each node (element: its local name and text) */
function run(expr: string): unknown {
  const v = compileXPath(expr, { namespaces: { x: NS }, yang: fns }).evaluate(top);
  if (!Array.isArray(v)) return v;
  return (v as XNode[]).map((n) => `${n.localName}=${n.stringValue().trim().replace(/\s+/g, ' ')}`);
}

describe('enum-value() (RFC 7950 10.5.1)', () => {
  const table: Array<[string, unknown]> = [
    // implicit values: first 0, then one above the highest so far (green is 10: blue 11, black -2, white 12)
    ['enum-value(/x:interfaces/x:interface[x:name="eth0"]/x:colour)', 10],
    ['enum-value(/x:interfaces/x:interface[x:name="eth1"]/x:colour)', -2],
    ['enum-value(/x:interfaces/x:interface[x:name="eth2"]/x:colour)', 0],
    // a restricted enumeration keeps its base's values
    ['enum-value(/x:interfaces/x:interface[x:name="eth0"]/x:bright)', 12],
    ['enum-value(/x:interfaces/x:interface[x:name="eth1"]/x:bright)', 10],
    // the first node of the set; a leaf-list
    ['enum-value(/x:interfaces/x:interface/x:colour)', 10],
    ['enum-value(/x:interfaces/x:interface[x:name="eth0"]/x:tag[2])', 7],
    // comparisons in predicates
    ['/x:interfaces/x:interface[enum-value(x:colour) > 5]/x:name', ['name=eth0']],
    ['/x:interfaces/x:interface[enum-value(x:colour) < 1]/x:name', ['name=eth1', 'name=eth2']],
    ['count(/x:interfaces/x:interface[enum-value(x:colour) = 10])', 1],
    // the node's declared type decides, as in libyang: a union holding an enumeration is not one, nor is a
    // leafref to an enumeration (test/interop/xpath-yang-functions.test.ts compares with yanglint)
    ['enum-value(/x:routes/x:route[x:id=1]/x:mode)', NaN],
    ['enum-value(/x:routes/x:route[x:id=2]/x:mode)', NaN],
    ['enum-value(/x:routes/x:route[x:id=1]/x:paint)', NaN],
    ['enum-value(deref(/x:routes/x:route[x:id=1]/x:paint))', 10],
    // inside a choice
    ['enum-value(/x:routes/x:route[x:id=1]/x:weight)', 1],
    // not an enumeration, not a node, an empty set: NaN
    ['enum-value(/x:interfaces/x:interface[x:name="eth0"]/x:mtu)', NaN],
    ['enum-value(/x:interfaces)', NaN],
    ['enum-value(/x:nothing)', NaN],
  ];
  for (const [expr, want] of table) {
    it(expr, () => {
      expect(run(expr)).toEqual(want);
    });
  }
});

describe('deref() (RFC 7950 10.3.1)', () => {
  const table: Array<[string, unknown]> = [
    // an absolute leafref: the interface entry's name with that value
    ['deref(/x:routes/x:route[x:id=1]/x:via)', ['name=eth1']],
    ['deref(/x:routes/x:route[x:id=1]/x:via)/../x:mtu', ['mtu=9000']],
    // a relative path, with unprefixed names in the module's namespace
    ['deref(/x:routes/x:route[x:id=2]/x:via-rel)/../x:colour', ['colour=green']],
    // a path with a predicate using current(): the mtu of the interface named by the sibling via
    ['deref(/x:routes/x:route[x:id=1]/x:via-mtu)', ['mtu=9000']],
    // a value no target has (require-instance false): empty, as RFC 7950 10.3.1 says (libyang reports an error)
    ['deref(/x:routes/x:route[x:id=2]/x:via)', []],
    // a leafref to a non-key leaf: every node with the value (eth0's colour)
    ['deref(/x:routes/x:route[x:id=1]/x:paint)/../x:name', ['name=eth0']],
    // in a filter predicate: routes whose interface is green
    ['/x:routes/x:route[deref(x:via-rel)/../x:colour = "green"]/x:id', ['id=2']],
    ['/x:routes/x:route[enum-value(deref(x:via)/../x:colour) < 0]/x:id', ['id=1']],
    // an instance-identifier: the node it names (prefixes as declared where the value is), or nothing
    ['deref(/x:routes/x:route[x:id=1]/x:target)', ['mtu=1500']],
    ['deref(/x:routes/x:route[x:id=1]/x:target)/../x:name', ['name=eth2']],
    ['deref(/x:routes/x:route[x:id=2]/x:target)', []],
    // any other type, not an element, nothing: empty
    ['deref(/x:routes/x:route[x:id=1]/x:note)', []],
    ['deref(/x:routes)', []],
    ['deref(/x:nothing)', []],
  ];
  for (const [expr, want] of table) {
    it(expr, () => {
      expect(run(expr)).toEqual(want);
    });
  }

  it('deref needs a node-set, and is a syntax error without the YANG functions (get\'s core library)', () => {
    expect(() => run('deref("x")')).toThrow(/node-set/);
    expect(() => compileXPath('deref(/x:routes)', { namespaces: { x: NS } })).toThrow(/unknown function deref/);
    expect(() => compileXPath('enum-value(/x:routes)', { namespaces: { x: NS } })).toThrow(/unknown function enum-value/);
  });

  it('a filter using deref reaches every top-level node (the state providers it may need are all asked)', () => {
    expect(compileXPath('/x:routes/x:route[deref(x:via)]', { namespaces: { x: NS }, yang: fns }).mayReachTop('urn:other', 'thing')).toBe(true);
  });
});
