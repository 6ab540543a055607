/**
 * Interop: yangcli (yuma123) sends XPath filters (:xpath, RFC 6241 8.9) with `xget`: it refuses to
 * without the capability. The session's own sessions list, our own YANG tree (henb-sw-verify /henbs,
 * from a state provider) and the YANG library each come back with their ancestors and list keys.
 * yangcli exits 0 even when the session fails, so its output is what we check; a missing
 * /usr/bin/yangcli fails the test.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { el, leaf } from '../../src/netconf/xml/index.js';
import { ETM_MACS } from '../../src/netconf/server/index.js';
import { loadYang } from '../../src/yang/index.js';
import { PASSWORD, USER, useTestServers } from '../helpers/netconf-server.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

describe('yangcli xget (XPath filters) against our server', () => {
  const servers = useTestServers('hsv-yangcli-xpath-');

  it('xget of /netconf-state/sessions, of our /henbs and of /modules-state returns the data', async () => {
    const yang = await loadYang(join(ROOT, 'yang'));
    const { server, dir } = servers.start({ standard: true, validator: yang.validator, ssh: { macs: [...ETM_MACS, 'hmac-sha2-256'] } }); // yangcli: libssh2 1.10, no ETM MAC
    const home = join(dir, 'home');
    mkdirSync(home);
    for (const m of yang.modules.filter((x) => x.name.startsWith('henb-sw-verify'))) server.registry.addModule(m);
    server.registry.addState(HSV, 'henbs', () => el(HSV, 'henbs',
      ['henb-1', 'henb-2', 'henb-3'].map((id, i) => el(HSV, 'henb', leaf(HSV, 'henb-id', id), leaf(HSV, 'software-version', `1.${i}`),
        leaf(HSV, 'state', i === 1 ? 'quarantined' : 'trusted')))));
    const { port } = await server.listen('127.0.0.1', 0);

    const { stdout, stderr } = await run('/usr/bin/yangcli', [
      '--server=127.0.0.1', `--ncport=${port}`, `--user=${USER}`, `--password=${PASSWORD}`,
      '--batch-mode', '--display-mode=xml', '--log-level=debug',
      `--run-script=${join(import.meta.dirname, 'helpers/yangcli_xpath_script.txt')}`,
    ], { env: { ...process.env, HOME: home }, timeout: 45_000, maxBuffer: 16 * 1024 * 1024 });
    const out = stdout + stderr;
    expect(out).toContain('NETCONF session established for admin on 127.0.0.1');
    expect(out).toMatch(/Server Protocol Capabilities[\s\S]*xpath:1\.0/);
    const squash = (x: string): string => x.replace(/>\s+</g, '><').replace(/\s+xmlns:ncm="[^"]*"/g, '');
    const replies = out.split('<rpc-reply').slice(1).map(squash);
    expect(replies.length).toBe(4);
    // /netconf-state/sessions: this session's entry, nothing else of netconf-state
    expect(replies[0]).toMatch(/<data><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions><session><session-id>\d+<\/session-id>.*<username>admin<\/username>.*<\/session><\/sessions><\/netconf-state><\/data>/);
    expect(replies[0]).not.toContain('<schemas>');
    // our tree: the selected leaf with its ancestors and its list entry's key
    expect(replies[1]).toContain(`<data><henbs xmlns="${HSV}"><henb><henb-id>henb-2</henb-id><state>quarantined</state></henb></henbs></data>`);
    expect(replies[2]).toContain('<data><modules-state xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"><module><name>henb-sw-verify</name><revision>2026-12-03</revision></module></modules-state></data>');
    // with-defaults (RFC 6243): yangcli reads the capability and sends report-all; running is empty,
    // so the reply is the configuration containers with YANG defaults (henb-sw-verify pve, policies)
    expect(out).toContain('Default with-defaults behavior: explicit');
    expect(replies[3]).toContain(`<pve xmlns="${HSV}"><transport>restconf</transport><timeout>30</timeout></pve>`);
    // on-mismatch: a YANG 1.1 leaf-list with two default entries, reported as report-all asks
    expect(replies[3]).toContain(`<policies xmlns="${HSV}"><self-check>true</self-check><on-mismatch>alarm</on-mismatch><on-mismatch>rollback</on-mismatch><step-timeout>300</step-timeout><token-lifetime>86400</token-lifetime></policies>`);
    expect(out).not.toContain('<rpc-error>');
  });
});
