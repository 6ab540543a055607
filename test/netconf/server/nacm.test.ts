/**
 * NACM (RFC 8341) over SSH: a table of operation x rule x default, run against our server with the
 * standard operations, the YANG validator (the real modules plus a fixture module with unmarked,
 * default-deny-write and default-deny-all nodes, rpcs and notifications), and users whose groups come
 * from the transport (config `users[].groups`). The administrator configures /nacm through edit-config
 * for each row; the user `tester` (group testers) then tries the operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetconfServer, generateEd25519KeyPair, markRecoverySession, registerStandardOperations, NACM_NS } from '../../../src/netconf/server/index.js';
import type { NacmDenial, NetconfServer, StandardOperations } from '../../../src/netconf/server/index.js';
import { connectNetconf } from '../../../src/netconf/client/index.js';
import type { NetconfClient } from '../../../src/netconf/client/index.js';
import { NetconfError } from '../../../src/netconf/rpc-error.js';
import { duplexPair } from '../../../src/netconf/session/index.js';
import { child, childText, elements, parseXml, serializeXml } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { compileTexts } from '../../../src/yang/index.js';
import { rpcError } from '../../helpers/rpc-errors.js';
import { CLIENT_HELLO_11, NS as BASE, RawPeer } from '../session/helpers.js';

const ROOT = join(import.meta.dirname, '../../..');
const T = 'urn:test:nacm';
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const NOTIF = 'urn:ietf:params:xml:ns:netconf:notification:1.0';
const PW = 'nacm-test-pw';

const FIXTURE = `module nacm-test {
  yang-version 1.1;
  namespace "${T}";
  prefix t;
  import ietf-netconf-acm { prefix nacm; }
  revision 2026-12-03;
  container plain {
    leaf a { type string; }
    list item { key name; leaf name { type string; } leaf v { type string; } }
  }
  container guarded { nacm:default-deny-write; leaf a { type string; } }
  container secret { nacm:default-deny-all; leaf a { type string; } }
  rpc ping;
  rpc danger { nacm:default-deny-all; }
  notification tick { leaf n { type uint32; } }
  notification tock { leaf n { type uint32; } }
  notification secret-tick { nacm:default-deny-all; leaf n { type uint32; } }
}`;

/** user -> groups, as config `users[].groups` gives them */
const GROUPS: Record<string, string[]> = {
  admin: ['admin'], tester: ['testers'], fresh: [], noc: ['noc'], op: ['operator'],
  'HENB-1': ['devices'], relay: ['devices', 'henb:HENB-2', 'henb:HENB-3'],
};

let server: NetconfServer;
let std: StandardOperations;
let dir: string;
let port: number;
const clients: NetconfClient[] = [];
const calls: string[] = [];
const denials: NacmDenial[] = [];

async function connect(username: string): Promise<NetconfClient> {
  const c = await connectNetconf({ host: '127.0.0.1', port, username, password: PW, hostKeySha256: server.hostKeyFingerprints[0]!, rpcTimeoutMs: 10_000 });
  clients.push(c);
  return c;
}

let admin: NetconfClient;

beforeAll(async () => {
  const files = [
    ...readdirSync(join(ROOT, 'yang')).filter((f) => f.endsWith('.yang')).map((f) => join(ROOT, 'yang', f)),
    ...readdirSync(join(ROOT, 'yang', 'ietf')).filter((f) => f.endsWith('.yang')).map((f) => join(ROOT, 'yang', 'ietf', f)),
  ].map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  const loaded = compileTexts([...files, { file: 'nacm-test.yang', text: FIXTURE }]);
  dir = mkdtempSync(join(tmpdir(), 'hsv-nacm-'));
  server = createNetconfServer({
    hostKeys: [generateEd25519KeyPair().private],
    auth: { users: Object.keys(GROUPS).map((username) => ({ username, password: PW })) },
    validator: loaded.validator,
    dataDir: dir,
    limits: { closeGraceMs: 200 },
    operations: [(reg) => {
      std = registerStandardOperations(reg, {
        ietfYangDir: join(ROOT, 'yang', 'ietf'),
        nacm: {
          externalGroups: (u) => GROUPS[u] ?? [],
          boundRpcs: [{ ns: HSV, rpc: 'completion-tim', leaf: 'henb-id', group: 'devices' }],
          onDenial: (d) => denials.push(d),
        },
      });
    }],
  });
  for (const m of loaded.modules) if (m.name.startsWith('henb-sw-verify') || m.name === 'nacm-test') server.registry.addModule(m);
  server.registry.addRpc(T, 'ping', async (_op, ctx) => { calls.push(`ping:${ctx.username}`); return 'ok'; });
  server.registry.addRpc(T, 'danger', async (_op, ctx) => { calls.push(`danger:${ctx.username}`); return 'ok'; });
  for (const rpc of ['software-update', 'integrity-request', 'completion-tim']) {
    server.registry.addRpc(HSV, rpc, async (_op, ctx) => { calls.push(`${rpc}:${ctx.username}`); return 'ok'; });
  }
  ({ port } = await server.listen('127.0.0.1', 0));
  admin = await connect('admin');
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.close();
  std?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const nacmXml = (body: string): string => `<nacm xmlns="${NACM_NS}" xmlns:nc="${BASE}" nc:operation="replace">
  <rule-list><name>admin</name><group>admin</group>
    <rule><name>permit-all</name><module-name>*</module-name><access-operations>*</access-operations><action>permit</action></rule>
  </rule-list>${body}</nacm>`;

/** /nacm with the given globals (e.g. `<write-default>permit</write-default>`) and testers' rules */
async function configure(globals: string, rules: string): Promise<void> {
  const list = rules ? `<rule-list><name>testers</name><group>testers</group>${rules}</rule-list>` : '';
  await admin.rpc(`<edit-config><target><running/></target><config>${nacmXml(globals + list)}</config></edit-config>`);
}

const rule = (name: string, body: string, action: 'permit' | 'deny', ops = '*'): string =>
  `<rule><name>${name}</name><module-name>nacm-test</module-name>${body}<access-operations>${ops}</access-operations><action>${action}</action></rule>`;

async function seedPlain(): Promise<void> {
  await admin.rpc(`<edit-config><target><running/></target><config>
    <plain xmlns="${T}" xmlns:nc="${BASE}" nc:operation="replace"><a>one</a><item><name>x</name><v>1</v></item></plain>
    <guarded xmlns="${T}" xmlns:nc="${BASE}" nc:operation="replace"><a>g</a></guarded>
    <secret xmlns="${T}" xmlns:nc="${BASE}" nc:operation="replace"><a>s</a></secret></config></edit-config>`);
}

function topNames(reply: XmlElement): string[] {
  const data = child(reply, BASE, 'data') ?? child(reply, 'urn:ietf:params:xml:ns:yang:ietf-netconf-nmda', 'data')!;
  return elements(data).filter((e) => e.ns === T).map((e) => e.name).sort();
}

async function outcome(p: Promise<XmlElement>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!(e instanceof NetconfError)) throw e;
    const err = e.errors[0]!;
    return `${err.tag}/${err.type}`;
  }
}

const edit = (xml: string): string => `<edit-config><target><running/></target><config>${xml}</config></edit-config>`;
const NMDA = 'urn:ietf:params:xml:ns:yang:ietf-netconf-nmda';
const DS = 'urn:ietf:params:xml:ns:yang:ietf-datastores';
/** get-data's reply is <data> in the ietf-netconf-nmda namespace: given back as the base <data> for topNames */
const getData = (ds: string, more = ''): string => `<get-data xmlns="${NMDA}" xmlns:ds="${DS}"><datastore>ds:${ds}</datastore>${more}</get-data>`;

describe('RFC 8341 3.4.5 read: get-config is pruned (operation x rule x default)', () => {
  const rows: Array<[string, string, string, string[]]> = [
    ['no rule, read-default permit', '', '', ['guarded', 'plain']],
    ['no rule, read-default deny', '<read-default>deny</read-default>', '', []],
    ['module rule permits read (default-deny-all yields)', '<read-default>deny</read-default>', rule('r', '', 'permit', 'read'), ['guarded', 'plain', 'secret']],
    ['path rule denies /t:plain', '', rule('r', '<path xmlns:t="urn:test:nacm">/t:plain</path>', 'deny', 'read'), ['guarded']],
    ['path rule permits /t:secret only', '<read-default>deny</read-default>', rule('r', '<path xmlns:t="urn:test:nacm">/t:secret</path>', 'permit', 'read'), ['secret']],
    ['a rule for another operation does not match', '', rule('r', '', 'deny', 'create update delete'), ['guarded', 'plain']],
  ];
  it.each(rows)('%s', async (_name, globals, rules, visible) => {
    await seedPlain();
    await configure(globals, rules);
    const tester = await connect('tester');
    expect(topNames(await tester.rpc('<get-config><source><running/></source></get-config>'))).toEqual(visible);
    expect(topNames(await tester.rpc('<get/>'))).toEqual(visible);
    // RFC 8526 get-data reads the same way, from every datastore
    for (const ds of ['running', 'intended', 'operational']) {
      expect(topNames(await tester.rpc(getData(ds))), ds).toEqual(visible);
    }
    tester.destroy();
  });

  it('prunes inside a subtree: a path rule on a list entry hides that entry only', async () => {
    await seedPlain();
    await admin.rpc(edit(`<plain xmlns="${T}"><item><name>y</name><v>2</v></item></plain>`));
    await configure('', rule('r', `<path xmlns:t="${T}">/t:plain/t:item[t:name='x']</path>`, 'deny', 'read'));
    const tester = await connect('tester');
    const data = child(await tester.rpc('<get-config><source><running/></source></get-config>'), BASE, 'data')!;
    const plain = child(data, T, 'plain')!;
    expect(elements(plain).filter((e) => e.name === 'item').map((i) => childText(i, T, 'name'))).toEqual(['y']);
    expect(childText(plain, T, 'a')).toBe('one');
    // a content-match filter cannot probe the hidden entry
    const probe = await tester.rpc(`<get-config><source><running/></source><filter><plain xmlns="${T}"><item><name>x</name></item></plain></filter></get-config>`);
    expect(topNames(probe)).toEqual([]);
    // nor can an XPath filter (RFC 6241 8.9)
    const xprobe = await tester.rpc(`<get-config><source><running/></source><filter type="xpath" xmlns:t="${T}" select="/t:plain/t:item[t:v='1']"/></get-config>`);
    expect(topNames(xprobe)).toEqual([]);
    const xseen = await tester.rpc(`<get-config><source><running/></source><filter type="xpath" xmlns:t="${T}" select="/t:plain/t:item[t:v='2']"/></get-config>`);
    expect(topNames(xseen)).toEqual(['plain']);
    tester.destroy();
  });
});

describe('RFC 8341 3.4.5 write: edit-config (operation x rule x default)', () => {
  const create = (node: string): string => edit(`<${node} xmlns="${T}" xmlns:nc="${BASE}" nc:operation="replace"><a>new</a></${node}>`);
  const rows: Array<[string, string, string, string, string]> = [
    // [name, globals, rules, request, expected]
    ['no rule, write-default deny: plain', '', '', create('plain'), 'access-denied/application'],
    ['no rule, write-default permit: plain', '<write-default>permit</write-default>', '', create('plain'), 'ok'],
    ['no rule, write-default permit: default-deny-write', '<write-default>permit</write-default>', '', create('guarded'), 'access-denied/application'],
    ['no rule, write-default permit: default-deny-all', '<write-default>permit</write-default>', '', create('secret'), 'access-denied/application'],
    ['module rule permits writes: default-deny-write yields', '', rule('w', '', 'permit', 'create update delete'), create('guarded'), 'ok'],
    ['module rule permits writes: default-deny-all yields', '', rule('w', '', 'permit', 'create update delete'), create('secret'), 'ok'],
    ['path rule denies, write-default permit', '<write-default>permit</write-default>', rule('w', `<path xmlns:t="${T}">/t:plain</path>`, 'deny', 'update'), edit(`<plain xmlns="${T}"><a>changed</a></plain>`), 'access-denied/application'],
    ['update permitted, delete not', '', rule('w', '', 'permit', 'update'), edit(`<plain xmlns="${T}"><a>changed</a></plain>`), 'ok'],
    ['update permitted, delete not: delete', '', rule('w', '', 'permit', 'update'), edit(`<plain xmlns="${T}"><a xmlns:nc="${BASE}" nc:operation="delete"/></plain>`), 'access-denied/application'],
    ['create permitted, update not: new list entry', '', rule('w', '', 'permit', 'create'), edit(`<plain xmlns="${T}"><item><name>z</name><v>9</v></item></plain>`), 'ok'],
    ['create permitted, update not: changed leaf', '', rule('w', '', 'permit', 'create'), edit(`<plain xmlns="${T}"><item><name>x</name><v>9</v></item></plain>`), 'access-denied/application'],
    ['a merge that changes nothing needs no access', '', '', edit(`<plain xmlns="${T}"><a>one</a></plain>`), 'ok'],
    ['test-only is checked too', '', '', `<edit-config><target><running/></target><test-option>test-only</test-option><config><plain xmlns="${T}"><a>x</a></plain></config></edit-config>`, 'access-denied/application'],
    ['copy-config is checked too', '<write-default>permit</write-default>', '', `<copy-config><target><running/></target><source><config><plain xmlns="${T}"><a>x</a></plain></config></source></copy-config>`, 'access-denied/application'],
  ];
  it.each(rows)('%s', async (_name, globals, rules, request, expected) => {
    await seedPlain();
    await configure(globals, rules);
    const before = serializeXml(std.datastore.getRunning());
    const deniedBefore = std.nacm!.counters.deniedDataWrites;
    const tester = await connect('tester');
    expect(await outcome(tester.rpc(request))).toBe(expected);
    if (expected !== 'ok') {
      expect(serializeXml(std.datastore.getRunning())).toBe(before); // nothing changed
      expect(std.nacm!.counters.deniedDataWrites).toBe(deniedBefore + 1);
    }
    tester.destroy();
  });

  it('names the denied node in error-path (a list entry by its key)', async () => {
    await seedPlain();
    await configure('<write-default>permit</write-default>', rule('w', `<path xmlns:t="${T}">/t:plain/t:item</path>`, 'deny', 'update'));
    const tester = await connect('tester');
    const e = await rpcError(tester.rpc(edit(`<plain xmlns="${T}"><item><name>x</name><v>5</v></item></plain>`)));
    expect(e.errors[0]).toMatchObject({ type: 'application', tag: 'access-denied', path: "/t:plain/t:item[t:name='x']/t:v" });
    expect(e.errors[0]!.pathNs?.['t']).toBe(T);
    tester.destroy();
  });
});

describe('RFC 8341 3.4.4 operations (operation x rule x default)', () => {
  const rows: Array<[string, string, string, string, string]> = [
    ['no rule, exec-default permit: rpc', '', '', `<ping xmlns="${T}"/>`, 'ok'],
    ['no rule, exec-default deny: rpc', '<exec-default>deny</exec-default>', '', `<ping xmlns="${T}"/>`, 'access-denied/protocol'],
    ['no rule, exec-default permit: default-deny-all rpc', '', '', `<danger xmlns="${T}"/>`, 'access-denied/protocol'],
    ['rpc rule permits a default-deny-all rpc', '', rule('x', '<rpc-name>danger</rpc-name>', 'permit', 'exec'), `<danger xmlns="${T}"/>`, 'ok'],
    ['rpc rule denies, exec-default permit', '', rule('x', '<rpc-name>ping</rpc-name>', 'deny', 'exec'), `<ping xmlns="${T}"/>`, 'access-denied/protocol'],
    ['rpc rule for another rpc does not match', '', rule('x', '<rpc-name>danger</rpc-name>', 'deny', 'exec'), `<ping xmlns="${T}"/>`, 'ok'],
    ['a rule without exec does not match', '<exec-default>deny</exec-default>', rule('x', '', 'permit', 'read'), `<ping xmlns="${T}"/>`, 'access-denied/protocol'],
    ['rule-list order: first match wins', '', rule('a', '<rpc-name>*</rpc-name>', 'deny', 'exec') + rule('b', '<rpc-name>ping</rpc-name>', 'permit', 'exec'), `<ping xmlns="${T}"/>`, 'access-denied/protocol'],
    ['kill-session is default-deny-all', '', '', '<kill-session><session-id>1</session-id></kill-session>', 'access-denied/protocol'],
    ['delete-config is default-deny-all', '', '', '<delete-config><target><startup/></target></delete-config>', 'access-denied/protocol'],
    ['close-session is always permitted', '<exec-default>deny</exec-default>', rule('x', '', 'deny', '*'), '<close-session/>', 'ok'],
    ['get under exec-default deny', '<exec-default>deny</exec-default>', '', '<get/>', 'access-denied/protocol'],
    ['enable-nacm false permits everything', '<enable-nacm>false</enable-nacm>', '', `<danger xmlns="${T}"/>`, 'ok'],
  ];
  it.each(rows)('%s', async (_name, globals, rules, request, expected) => {
    await configure(globals, rules);
    const deniedBefore = std.nacm!.counters.deniedOperations;
    const tester = await connect('tester');
    const n = calls.length;
    expect(await outcome(tester.rpc(request))).toBe(expected);
    if (expected !== 'ok') {
      expect(calls.length).toBe(n); // the handler never ran
      expect(std.nacm!.counters.deniedOperations).toBe(deniedBefore + 1);
    }
    tester.destroy();
  });

  it('access-denied for an operation names it in error-path; the observer is told', async () => {
    await configure('', '');
    const tester = await connect('tester');
    const seen = denials.length;
    const e = await rpcError(tester.rpc(`<danger xmlns="${T}"/>`));
    expect(e.errors[0]).toMatchObject({ type: 'protocol', tag: 'access-denied', path: '/nc:rpc/x:danger', pathNs: { nc: BASE, x: T } });
    expect(denials.slice(seen)).toEqual([{ kind: 'operation', username: 'tester', sessionId: expect.any(Number) as number, what: `${T} danger` }]);
    tester.destroy();
  });
});

describe('RFC 8341 3.4.6 notifications, per subscriber, live and replayed', () => {
  async function received(c: NetconfClient, until: (e: XmlElement) => boolean): Promise<string[]> {
    const out: string[] = [];
    for await (const n of c.notifications()) {
      const ev = elements(n).find((e) => e.name !== 'eventTime')!;
      out.push(ev.name);
      if (until(ev)) break;
    }
    return out;
  }

  it('drops what the subscriber may not read; the admin gets everything; replay is filtered the same way', async () => {
    await configure('', rule('n', '<notification-name>tick</notification-name>', 'deny', 'read'));
    const start = new Date(Date.now() - 1000).toISOString();
    const tester = await connect('tester');
    const adminSub = await connect('admin');
    await tester.rpc(`<create-subscription xmlns="${NOTIF}"/>`);
    await adminSub.rpc(`<create-subscription xmlns="${NOTIF}"/>`);
    const dropped = std.nacm!.counters.deniedNotifications;
    for (const name of ['tick', 'secret-tick', 'tock']) await server.registry.notify('NETCONF', parseXml(`<${name} xmlns="${T}"><n>1</n></${name}>`));
    expect(await received(tester, (e) => e.name === 'tock')).toEqual(['tock']);
    expect(await received(adminSub, (e) => e.name === 'tock')).toEqual(['tick', 'secret-tick', 'tock']);
    expect(std.nacm!.counters.deniedNotifications).toBe(dropped + 2);
    // replay: the same events, the same decisions; replayComplete is never filtered
    const again = await connect('tester');
    await again.rpc(`<create-subscription xmlns="${NOTIF}"><startTime>${start}</startTime></create-subscription>`);
    expect(await received(again, (e) => e.name === 'replayComplete')).toEqual(['tock', 'replayComplete']);
    for (const c of [tester, adminSub, again]) c.destroy();
  });
});

describe('roles (examples/nacm) and the built-in administrator', () => {
  const examples = ['noc', 'operator', 'devices'].map((f) => readFileSync(join(ROOT, 'examples', 'nacm', `${f}.xml`), 'utf8'));

  beforeAll(async () => {
    await configure('', '');
    for (const x of examples) await admin.rpc(edit(x));
  });

  const update = `<software-update xmlns="${HSV}"><henb-id>HENB-1</henb-id><software><uri>https://sw.example/fw.bin</uri></software></software-update>`;
  const completion = (henb: string): string => `<completion-tim xmlns="${HSV}"><job-id>job-1</job-id><henb-id>${henb}</henb-id><tim>${'a'.repeat(64)}</tim></completion-tim>`;
  const inventory = edit(`<inventory xmlns="${HSV}"><henb><henb-id>HENB-9</henb-id><address>192.0.2.9</address></henb></inventory>`);
  const R: Record<string, string> = {
    get: '<get/>', 'edit inventory': inventory, 'edit pve': edit(`<pve xmlns="${HSV}"><timeout>5</timeout></pve>`),
    'kill-session': '<kill-session><session-id>1</session-id></kill-session>', lock: '<lock><target><running/></target></lock>',
    'software-update': update, 'integrity-request': `<integrity-request xmlns="${HSV}"><henb-id>HENB-1</henb-id></integrity-request>`,
    'create-subscription': `<create-subscription xmlns="${NOTIF}"/>`,
    'completion-tim HENB-1': completion('HENB-1'), 'completion-tim HENB-2': completion('HENB-2'), 'completion-tim HENB-4': completion('HENB-4'),
  };
  const rows: Array<[string, string, string]> = [
    ['fresh', 'get', 'ok'],
    ['fresh', 'edit inventory', 'access-denied/application'],
    ['fresh', 'kill-session', 'access-denied/protocol'],
    ['fresh', 'software-update', 'access-denied/protocol'],
    ['fresh', 'completion-tim HENB-1', 'access-denied/protocol'],
    ['noc', 'get', 'ok'],
    ['noc', 'create-subscription', 'ok'],
    ['noc', 'edit inventory', 'access-denied/application'],
    ['noc', 'lock', 'access-denied/protocol'],
    ['noc', 'software-update', 'access-denied/protocol'],
    ['op', 'software-update', 'ok'],
    ['op', 'integrity-request', 'ok'],
    ['op', 'get', 'ok'],
    ['op', 'create-subscription', 'ok'],
    ['op', 'completion-tim HENB-1', 'access-denied/protocol'],
    ['op', 'edit inventory', 'access-denied/application'],
    ['op', 'edit pve', 'access-denied/application'],
    ['op', 'kill-session', 'access-denied/protocol'],
    ['op', 'lock', 'access-denied/protocol'],
    ['HENB-1', 'completion-tim HENB-1', 'ok'],
    ['HENB-1', 'completion-tim HENB-2', 'access-denied/application'],
    ['HENB-1', 'get', 'access-denied/protocol'],
    ['HENB-1', 'software-update', 'access-denied/protocol'],
    ['relay', 'completion-tim HENB-2', 'ok'],
    ['relay', 'completion-tim HENB-4', 'access-denied/application'],
    ['admin', 'edit inventory', 'ok'],
    ['admin', 'software-update', 'ok'],
    ['admin', 'completion-tim HENB-4', 'ok'],
  ];
  it.each(rows)('%s: %s -> %s', async (user, request, expected) => {
    const c = await connect(user);
    const n = calls.length;
    expect(await outcome(c.rpc(R[request]!))).toBe(expected);
    if (expected !== 'ok') expect(calls.length).toBe(n);
    c.destroy();
  });

  it('a user with no group reads, but not /nacm (default-deny-all); the administrator reads the counters', async () => {
    const fresh = await connect('fresh');
    const data = child(await fresh.rpc('<get/>'), BASE, 'data')!;
    expect(child(data, NACM_NS, 'nacm')).toBeUndefined();
    fresh.destroy();
    const nacm = child(child(await admin.rpc(`<get><filter><nacm xmlns="${NACM_NS}"/></filter></get>`), BASE, 'data')!, NACM_NS, 'nacm')!;
    for (const c of ['denied-operations', 'denied-data-writes', 'denied-notifications']) expect(Number(childText(nacm, NACM_NS, c))).toBeGreaterThan(0);
    expect(elements(nacm).filter((e) => e.name === 'rule-list').map((r) => childText(r, NACM_NS, 'name'))).toEqual(['admin', 'noc', 'operator', 'devices']);
  });

  it('the administrator kills a session a user without group has locked running with', async () => {
    const fresh = await connect('fresh');
    await fresh.rpc('<lock><target><running/></target></lock>');
    const id = server.sessions().find((s) => s.username === 'fresh')!.id;
    await admin.rpc(`<kill-session><session-id>${id}</session-id></kill-session>`);
    await admin.rpc(edit(`<plain xmlns="${T}"><a>after</a></plain>`));
  });
});

describe('the recovery session (RFC 8341 3.4.4 step 2)', () => {
  it('bypasses access control; an SSH login never is one', async () => {
    await configure('<exec-default>deny</exec-default><read-default>deny</read-default>', '');
    const [a, b] = duplexPair();
    const h = server.acceptStream(a, { username: 'fresh' })!;
    markRecoverySession(h);
    const peer = new RawPeer(b, { chunked: true });
    peer.sendEom(CLIENT_HELLO_11);
    await peer.message(1);
    peer.sendChunked(`<rpc xmlns="${BASE}" message-id="1"><get-config><source><running/></source><filter><nacm xmlns="${NACM_NS}"/></filter></get-config></rpc>`);
    await peer.waitFor(() => peer.messages.length > 1);
    const reply = parseXml(peer.messages[1]!);
    expect(child(reply, BASE, 'rpc-error')).toBeUndefined();
    expect(serializeXml(child(child(reply, BASE, 'data')!, NACM_NS, 'nacm')!)).toContain('permit-all');
    peer.sendChunked(`<rpc xmlns="${BASE}" message-id="2"><close-session/></rpc>`);
    const fresh = await connect('fresh');
    expect(await outcome(fresh.rpc('<get/>'))).toBe('access-denied/protocol');
    fresh.destroy();
    await configure('', '');
  });
});

describe('RFC 8341 with RFC 8526 edit-data: the same write rules as edit-config', () => {
  const editData = (xml: string): string => `<edit-data xmlns="${NMDA}" xmlns:ds="${DS}"><datastore>ds:running</datastore><config>${xml}</config></edit-data>`;
  it('write-default deny refuses edit-data; a module rule permits it; default-deny-write holds', async () => {
    await seedPlain();
    await configure('', '');
    const tester = await connect('tester');
    expect(await outcome(tester.rpc(editData(`<plain xmlns="${T}"><a>via-edit-data</a></plain>`)))).toBe('access-denied/application');
    await configure('<write-default>permit</write-default>', '');
    expect(await outcome(tester.rpc(editData(`<plain xmlns="${T}"><a>via-edit-data</a></plain>`)))).toBe('ok');
    expect(await outcome(tester.rpc(editData(`<guarded xmlns="${T}"><a>x</a></guarded>`)))).toBe('access-denied/application');
    const plain = child(child(await admin.rpc(getData('running', `<subtree-filter><plain xmlns="${T}"/></subtree-filter>`)), NMDA, 'data')!, T, 'plain')!;
    expect(childText(plain, T, 'a')).toBe('via-edit-data');
    tester.destroy();
  });

  it('a content-match subtree-filter or xpath-filter of get-data cannot probe a hidden entry', async () => {
    await seedPlain();
    await configure('', rule('r', `<path xmlns:t="${T}">/t:plain/t:item[t:name='x']</path>`, 'deny', 'read'));
    const tester = await connect('tester');
    expect(topNames(await tester.rpc(getData('operational', `<subtree-filter><plain xmlns="${T}"><item><name>x</name></item></plain></subtree-filter>`)))).toEqual([]);
    expect(topNames(await tester.rpc(getData('running', `<xpath-filter xmlns:t="${T}">/t:plain/t:item[t:v='1']</xpath-filter>`)))).toEqual([]);
    expect(topNames(await admin.rpc(getData('running', `<xpath-filter xmlns:t="${T}">/t:plain/t:item[t:v='1']</xpath-filter>`)))).toEqual(['plain']);
    tester.destroy();
  });
});
