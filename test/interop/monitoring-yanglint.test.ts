/**
 * Interop: what our standard operations put on the wire is valid for libyang (yanglint, the reference):
 * the RFC 6022 netconf-state, RFC 8525 yang-library (and the deprecated RFC 7895 modules-state of the
 * same module) and RFC 5277 netconf/streams state (with a replay log that has aged events out) from a
 * real get over SSH, and the replayComplete, yang-library-update and yang-library-change notifications. A missing /usr/bin/yanglint
 * fails the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { child, el, elements, leaf, serializeXml } from '../../src/netconf/xml/index.js';
import { IETF_YANG_DIR as IETF, PASSWORD, USER, useTestServers } from '../helpers/netconf-server.js';

const NMDA = join(import.meta.dirname, '../../yang-library');
const LIB = join(NMDA, 'ietf-yang-library@2019-01-04.yang');
// implemented by the server (the datastore names are its identities): yanglint must implement it too
const DATASTORES = join(NMDA, 'ietf-datastores@2018-02-14.yang');

const run = promisify(execFile);
const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';

async function yanglint(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('/usr/bin/yanglint', args, { timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e; // not installed: fail
    return { code: err.code, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

describe('yanglint accepts our monitoring and notification data', () => {
  const servers = useTestServers('hsv-mon-yl-');
  let clients: NetconfClient[] = [];
  afterEach(() => {
    // before the server closes (afterEach hooks run last registered first)
    for (const c of clients) c.destroy();
    clients = [];
  });

  it('netconf-state, yang-library, modules-state, netconf/streams (with an aged replay log) and replayComplete are valid instance data', async () => {
    // a replay log that keeps one event, so retention ages events out (replayLogAgedTime)
    const { server, dir, std } = servers.start({ standard: { eventLog: { maxEvents: 1 } } });
    server.registry.addStream({ name: 'henb', description: 'H(e)NB events', replaySupport: true });
    const t = Date.now() - 10_000;
    for (let i = 0; i < 3; i++) await server.registry.notify('henb', el('urn:example:ev', 'ev', leaf('urn:example:ev', 'n', i)), new Date(t + i * 1000));
    await (await std!.eventLog())!.prune();
    const { port } = await server.listen('127.0.0.1', 0);
    const connect = async (): Promise<NetconfClient> => {
      const c = await connectNetconf({ host: '127.0.0.1', port, username: USER, password: PASSWORD, hostKeySha256: server.hostKeyFingerprints[0]!, rpcTimeoutMs: 10_000 });
      clients.push(c);
      return c;
    };
    const a = await connect();
    const b = await connect();
    await a.rpc(`<lock xmlns="${NC}"><target><running/></target></lock>`);
    const notes = b.notifications()[Symbol.asyncIterator]();
    await b.rpc(`<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><startTime>2000-01-01T00:00:00Z</startTime></create-subscription>`);
    const replayed = (await notes.next()).value as NonNullable<Awaited<ReturnType<typeof notes.next>>['value']>;
    expect(serializeXml(replayed)).toContain('<n>2</n>'); // the one event the log kept
    const replayComplete = (await notes.next()).value as NonNullable<Awaited<ReturnType<typeof notes.next>>['value']>;

    const reply = await b.rpc(`<get xmlns="${NC}"/>`);
    const data = elements(child(reply, NC, 'data')!);
    expect(data.map((e) => e.name).sort()).toEqual(['modules-state', 'netconf', 'netconf-state', 'yang-library']);
    const stateFile = join(dir, 'state.xml');
    writeFileSync(stateFile, data.map((e) => serializeXml(e)).join('\n'));
    const mods = [join(IETF, 'ietf-netconf-monitoring@2010-10-04.yang'), join(IETF, 'nc-notifications@2008-07-14.yang'), LIB, DATASTORES];
    const st = await yanglint(['-p', IETF, '-p', NMDA, '-t', 'data', ...mods, stateFile]);
    expect(st.out).toBe('');
    expect(st.code).toBe(0);
    // the state says what it should (so the check above validated real content)
    const xml = data.map((e) => serializeXml(e)).join('');
    expect(xml).toContain(`<locked-by-session>${a.sessionId}</locked-by-session>`);
    expect(xml).toContain('<name>henb</name>');
    // RFC 5277 section 4 (the XSD the nc-notifications module converts): present once events were aged out
    expect(xml).toContain(`<replayLogAgedTime>${new Date(t + 1000).toISOString()}</replayLogAgedTime>`);
    expect(xml).toMatch(/<module><name>ietf-yang-types<\/name><revision>2013-07-15<\/revision><namespace>[^<]+<\/namespace><conformance-type>import<\/conformance-type><\/module>/);
    expect(xml).toMatch(/<module-set-id>[0-9a-f]{32}<\/module-set-id>/);
    expect(xml).toMatch(/<content-id>[0-9a-f]{32}<\/content-id>/);
    expect(xml).toContain('<datastore><name>ds:operational</name><schema>complete</schema></datastore>');

    const noteFile = join(dir, 'note.xml');
    writeFileSync(noteFile, serializeXml(replayComplete));
    expect(serializeXml(replayComplete)).toContain('replayComplete');
    const nt = await yanglint(['-p', IETF, '-t', 'nc-notif', join(IETF, 'nc-notifications@2008-07-14.yang'), noteFile]);
    expect(nt.out).toBe('');
    expect(nt.code).toBe(0);

    // a module registered while serving: yang-library-update (RFC 8525) and yang-library-change (RFC 7895), whose
    // leafrefs point at /yang-library/content-id and /modules-state/module-set-id (given to yanglint as the
    // operational data they reference)
    server.registry.addModule({ name: 'added-later', revision: '2026-11-28', namespace: 'urn:example:added-later', prefix: 'al', text: 'module added-later {\n  yang-version 1.1;\n}\n' });
    const update = (await notes.next()).value as NonNullable<Awaited<ReturnType<typeof notes.next>>['value']>;
    expect(serializeXml(update)).toContain('yang-library-update');
    const change = (await notes.next()).value as NonNullable<Awaited<ReturnType<typeof notes.next>>['value']>;
    expect(serializeXml(change)).toContain('yang-library-change');
    const after = await b.rpc(`<get xmlns="${NC}"><filter type="subtree"><modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/><yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/></filter></get>`);
    const opFile = join(dir, 'library.xml');
    writeFileSync(opFile, elements(child(after, NC, 'data')!).map((e) => serializeXml(e)).join('\n'));
    for (const [note, leafName] of [[update, 'content-id'], [change, 'module-set-id']] as const) {
      const noteFile2 = join(dir, `${leafName}.xml`);
      writeFileSync(noteFile2, serializeXml(note));
      const ok = await yanglint(['-p', IETF, '-p', NMDA, '-t', 'nc-notif', '-O', opFile, LIB, DATASTORES, noteFile2]);
      expect(ok.out, leafName).toBe('');
      expect(ok.code).toBe(0);
      // and the leafref is really checked: an id that the library does not hold is refused
      writeFileSync(noteFile2, serializeXml(note).replace(new RegExp(`<${leafName}>[0-9a-f]+<`), `<${leafName}>0000<`));
      const bad = await yanglint(['-p', IETF, '-p', NMDA, '-t', 'nc-notif', '-O', opFile, LIB, DATASTORES, noteFile2]);
      expect(bad.code, leafName).not.toBe(0);
    }
  });
});
