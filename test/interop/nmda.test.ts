/**
 * Interop: NMDA (RFC 8526, RFC 8525) on the real OAM server (`demo --listen`: the plugin's /hsv:henbs and
 * jobs, NACM, the standard operations) with clients and a validator we did not write:
 * - python3-ncclient sends get-data and edit-data with dispatch (0.6.13 has no get_data of its own) and
 *   parses the replies and the rpc-errors;
 * - yanglint (libyang 2) validates what get-data returned: running as configuration (`-t config`),
 *   operational with or:origin annotations as complete data (`-t data`, mandatory nodes included);
 * - yangcli (yuma123) loads ietf-netconf-nmda from the server's YANG library (get-schema) and runs
 *   get-data as a command of that module.
 * A missing peer fails the test.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { child, elements, isElement, parseXml, serializeXml } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { useServingDemo } from '../helpers/demo.js';
import type { ServingDemo } from '../helpers/demo.js';
import { runNcclient } from './helpers/ncclient.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const IETF = join(ROOT, 'yang/ietf');
const NMDA_DIR = join(ROOT, 'yang-library');
const PW = 'nmda-interop-pw';
const NM = 'urn:ietf:params:xml:ns:yang:ietf-netconf-nmda';
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

interface RpcErr { tag: string; type: string; severity: string; path: string | null; message: string | null; info: string | null }
interface Step { step: string; error?: RpcErr | null; xml?: string; capabilities?: string[]; [k: string]: unknown }

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

/** the children of get-data's <data> (ietf-netconf-nmda namespace) in an rpc-reply */
function dataOf(replyXml: string): XmlElement[] {
  const reply = parseXml(replyXml);
  const data = child(reply, NM, 'data');
  expect(data, replyXml.slice(0, 300)).toBeDefined();
  return elements(data!);
}

/** every module the OAM server implements that its operational data uses, for yanglint */
const MODULES = [
  ...readdirSync(join(ROOT, 'yang')).filter((f) => f.endsWith('.yang')).map((f) => join(ROOT, 'yang', f)),
  join(IETF, 'ietf-netconf-monitoring@2010-10-04.yang'), join(IETF, 'nc-notifications@2008-07-14.yang'), join(IETF, 'ietf-netconf-acm@2018-02-14.yang'),
  join(NMDA_DIR, 'ietf-yang-library@2019-01-04.yang'), join(NMDA_DIR, 'ietf-datastores@2018-02-14.yang'), join(NMDA_DIR, 'ietf-origin@2018-02-14.yang'),
];

describe('NMDA get-data / edit-data with ncclient, yanglint and yangcli', () => {
  let demo!: ServingDemo;
  useServingDemo('healthy=1,compromised=1', PW, 'hsv-nmda-', (d) => { demo = d; });

  it('ncclient: get-data on running and operational, edit-data, filters, origin; yanglint validates the replies', async () => {
    const { steps, code, stderr } = await runNcclient<Step>('ncclient_nmda.py', demo.ready.port, [demo.ready.software], undefined, { user: 'admin', password: PW });
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    const step = (name: string): Step => {
      const s = steps.get(name);
      expect(s, name).toBeDefined();
      return s!;
    };
    const caps = step('connected').capabilities!;
    expect(caps.some((c) => /^urn:ietf:params:netconf:capability:yang-library:1\.1\?revision=2019-01-04&content-id=[0-9a-f]{32}$/.test(c))).toBe(true);
    expect(caps.some((c) => /^urn:ietf:params:netconf:capability:yang-library:1\.0\?revision=2019-01-04&module-set-id=[0-9a-f]{32}$/.test(c))).toBe(true);
    for (const s of ['software-update', 'edit', 'running', 'operational', 'hsv-state', 'sessions', 'library', 'defaults']) expect(step(s).error, s).toBeNull();

    // running: what edit-data wrote (and the inventory the demo seeded), valid configuration
    const dir = demo.dir;
    const running = dataOf(step('running').xml!);
    const runningXml = running.map((e) => serializeXml(e)).join('\n');
    expect(runningXml).toContain('<token-lifetime>3600</token-lifetime>');
    expect(runningXml).toContain('<henb-id>healthy-1</henb-id>');
    writeFileSync(join(dir, 'running.xml'), runningXml);
    const rc = await yanglint(['-p', IETF, '-p', NMDA_DIR, '-t', 'config', ...MODULES, join(dir, 'running.xml')]);
    expect(rc.out).toBe('');
    expect(rc.code).toBe(0);

    // operational: configuration with or:origin, state of the plugin and of the server, complete and valid
    const op = dataOf(step('operational').xml!);
    const names = op.map((e) => e.name);
    for (const n of ['inventory', 'policies', 'henbs', 'jobs', 'netconf-state', 'yang-library', 'modules-state', 'nacm']) expect(names, n).toContain(n);
    const opXml = op.map((e) => serializeXml(e)).join('\n');
    expect(opXml).toMatch(/<policies xmlns="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"[^>]* or:origin="or:intended"/);
    expect(opXml).toMatch(/<self-check or:origin="or:default">true<\/self-check>/);
    writeFileSync(join(dir, 'operational.xml'), opXml);
    const oc = await yanglint(['-p', IETF, '-p', NMDA_DIR, '-t', 'data', ...MODULES, join(dir, 'operational.xml')]);
    expect(oc.out).toBe('');
    expect(oc.code).toBe(0);
    // and yanglint really checks the annotation: an origin that is not an ietf-origin identity is refused
    writeFileSync(join(dir, 'bad-origin.xml'), opXml.replace('or:origin="or:default"', 'or:origin="or:nowhere"'));
    expect((await yanglint(['-p', IETF, '-p', NMDA_DIR, '-t', 'data', ...MODULES, join(dir, 'bad-origin.xml')])).code).not.toBe(0);

    // config-filter false: the plugin's state (the H(e)NBs of the fleet, the job of the software-update)
    const state = dataOf(step('hsv-state').xml!).map((e) => serializeXml(e)).join('');
    expect(state).toContain('<henb-id>healthy-1</henb-id>');
    expect(state).toContain('<henb-id>compromised-1</henb-id>');
    expect(state).toMatch(/<jobs xmlns="[^"]+"[^>]*><job><job-id>[^<]+<\/job-id>/);
    expect(dataOf(step('sessions').xml!).map((e) => serializeXml(e)).join('')).toMatch(/<session><session-id>\d+<\/session-id><username>admin<\/username><\/session>/);
    const lib = dataOf(step('library').xml!);
    writeFileSync(join(dir, 'library.xml'), lib.map((e) => serializeXml(e)).join('\n'));
    const lc = await yanglint(['-p', IETF, '-p', NMDA_DIR, '-t', 'get', ...MODULES, join(dir, 'library.xml')]);
    expect(lc.out).toBe('');
    expect(lc.code).toBe(0);
    // origin-filter default + max-depth 2: the default leaves of /hsv:policies, not the token-lifetime set above
    const defaults = dataOf(step('defaults').xml!).map((e) => serializeXml(e)).join('');
    expect(defaults).toContain('<self-check or:origin="or:default">true</self-check>');
    expect(defaults).not.toContain('token-lifetime');
    const pol = child(parseXml(step('defaults').xml!), NM, 'data')!.children.find((c): c is XmlElement => isElement(c) && c.name === 'policies' && c.ns === HSV)!;
    expect(elements(pol).every((e) => !e.children.some(isElement))).toBe(true);

    // errors as RFC 8526 says, parsed by ncclient
    expect(step('unknown-datastore').error).toMatchObject({ tag: 'invalid-value', type: 'protocol', severity: 'error' });
    expect(step('unknown-datastore').error!.message).toContain('no startup datastore');
    expect(step('unknown-datastore').error!.info).toContain('<bad-element>datastore</bad-element>');
    expect(step('edit-operational').error).toMatchObject({ tag: 'invalid-value', type: 'protocol' });
    expect(step('edit-operational').error!.message).toContain('not writable');
    expect(step('origin-on-running').error).toMatchObject({ tag: 'invalid-value' });
    expect(steps.has('closed')).toBe(true);
  });

  it('yangcli loads ietf-netconf-nmda through get-schema and runs get-data', async () => {
    const home = join(demo.dir, 'yangcli-home');
    mkdirSync(home, { recursive: true });
    const script = join(demo.dir, 'yangcli-nmda.txt');
    writeFileSync(script, [
      `get-data datastore=ds:operational xpath-filter=/netconf-state/sessions/session/username`,
      `get-data datastore=ds:running config-filter=true`,
      `get-data datastore=ds:startup`,
      '',
    ].join('\n'));
    const { stdout, stderr } = await run('/usr/bin/yangcli', [
      '--server=127.0.0.1', `--ncport=${demo.ready.port}`, '--user=admin', `--password=${PW}`,
      '--batch-mode', '--display-mode=xml', '--log-level=debug', `--run-script=${script}`,
    ], { env: { ...process.env, HOME: home }, timeout: 45_000, maxBuffer: 16 * 1024 * 1024 });
    const out = stdout + stderr;
    expect(out).toContain('NETCONF session established for admin on 127.0.0.1');
    // the module comes from our server's library, not yangcli's own copy
    expect(out).toMatch(/Got autoload reply for 'ietf-yang-library' r'2019-01-04'/);
    expect(out).toMatch(/load_module called for 'ietf-netconf-nmda'/);
    const squash = (x: string): string => x.replace(/>\s+</g, '><');
    const replies = out.split('<rpc-reply').slice(1).map(squash);
    expect(replies.length).toBe(3);
    expect(replies[0]).toMatch(/<data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"><netconf-state[^>]*><sessions><session><session-id>\d+<\/session-id><username>admin<\/username><\/session>/);
    expect(replies[1]).toContain('<henb-id>healthy-1</henb-id>');
    expect(replies[1]).not.toContain('<henbs');
    expect(replies[2]).toContain('<error-tag>invalid-value</error-tag>');
  });
});
