/**
 * Interop: yangcli (yuma123, a client we did not write) in batch mode connects to our server, finds our
 * modules in ietf-yang-library's /modules-state, loads them through get-schema (it has no local copy of
 * them) and runs get. yangcli exits 0 even when the
 * session fails, so its output is what we check. A missing /usr/bin/yangcli fails the test.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadModuleFile } from '../../src/netconf/server/monitoring.js';
import { ETM_MACS } from '../../src/netconf/server/index.js';
import { el, leaf } from '../../src/netconf/xml/index.js';
import { PASSWORD, USER, useTestServers } from '../helpers/netconf-server.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const OURS = ['henb-sw-verify', 'henb-sw-verify-device', 'henb-sw-verify-pve'];

describe('yangcli drives our server', () => {
  const servers = useTestServers('hsv-yangcli-');

  it('connects, loads our modules via get-schema, and runs get', async () => {
    // Debian 12's yangcli uses libssh2 1.10, which has no ETM MAC and no AEAD cipher: it needs the
    // encrypt-and-MAC hmac-sha2-256 that the server offers only when configured (docs/security.md)
    const { server, dir } = servers.start({ standard: true, ssh: { macs: [...ETM_MACS, 'hmac-sha2-256'] } });
    const home = join(dir, 'home');
    mkdirSync(home);
    for (const m of OURS) server.registry.addModule(loadModuleFile(join(ROOT, 'yang', `${m}.yang`)));
    const PLUG = 'urn:example:yangcli-plugin';
    server.registry.addState(PLUG, 'plugin-state', () => el(PLUG, 'plugin-state', leaf(PLUG, 'marker', 'from-the-test-plugin')));
    const { port } = await server.listen('127.0.0.1', 0);

    const { stdout, stderr } = await run('/usr/bin/yangcli', [
      '--server=127.0.0.1', `--ncport=${port}`, `--user=${USER}`, `--password=${PASSWORD}`,
      '--batch-mode', '--display-mode=xml', '--log-level=debug',
      `--run-script=${join(import.meta.dirname, 'helpers/yangcli_script.txt')}`,
    ], { env: { ...process.env, HOME: home }, timeout: 45_000, maxBuffer: 16 * 1024 * 1024 });
    const out = stdout + stderr;

    expect(out).toContain('NETCONF session established for admin on 127.0.0.1');
    // our modules are YANG 1.1: announced through ietf-yang-library, not the hello (RFC 7950 5.6.4);
    // yangcli reads /modules-state and then fetches each one with get-schema
    expect(out).toContain('Sending yang-library /modules-state <get> autoload request.');
    for (const m of OURS) {
      const revision = loadModuleFile(join(ROOT, 'yang', `${m}.yang`)).revision;
      expect(out).toContain(`${m}@${revision}`);
      expect(out).toContain(`Module '${m}' not available, will try <get-schema>`);
      expect(out).toContain(`Got autoload reply for '${m}' r'${revision}'`);
    }
    expect(out).not.toMatch(/autoload.*(failed|error)/i);
    // the three replies: sget (subtree filter), get-schema, get
    const replies = out.split('<rpc-reply').slice(1);
    expect(replies.length).toBe(3);
    expect(replies[0]).toContain('<identifier>henb-sw-verify-device</identifier>');
    expect(replies[0]).not.toContain('<sessions>');
    expect(replies[1]).toContain('module henb-sw-verify-pve {');
    expect(replies[2]).toContain('<netconf-state');
    expect(replies[2]).toContain('from-the-test-plugin');
    expect(out).not.toContain('<rpc-error>');
  });
});
