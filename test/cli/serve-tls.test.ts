/**
 * `serve` with a `tls:` section: NETCONF over TLS beside SSH, users mapped by cert-to-name keep the
 * groups of `users[]`; --check reads the TLS files; config errors name the key.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { connectNetconfTls } from '../../src/netconf/client/index.js';
import { until } from '../helpers/until.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { Issued, TestPki } from '../helpers/tls-pki.js';

let dir: string;
let pki: TestPki;
let noc: Issued;
beforeAll(() => {
  pki = createTestPki();
  noc = pki.issue('noc', { san: 'email:noc@example.net' });
});
afterAll(() => pki.cleanup());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-serve-tls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configText(extra = ''): string {
  return [
    'listen: 127.0.0.1:0',
    'data-dir: data',
    'users:',
    '  - { name: noc@example.net, groups: [admin] }',
    'tls:',
    '  listen: 127.0.0.1:0',
    `  cert: ${pki.server.certFile}`,
    `  key: ${pki.server.keyFile}`,
    `  ca: ${pki.ca.certFile}`,
    '  cert-to-name:',
    `    - { fingerprint: "${pki.ca.sha256}", map-type: san-rfc822-name }`,
    extra,
  ].join('\n') + '\n';
}

describe('serve with tls:', () => {
  it('serves NETCONF over TLS beside SSH; the ready line names both; the mapped user is served', async () => {
    const file = join(dir, 'c.yaml');
    await writeFile(file, configText());
    const ac = new AbortController();
    const stdout = new BufferWritable();
    const done = runCli(['serve', '--config', file, '--log-level', 'silent'], { stdout, stderr: new BufferWritable(), env: {}, signal: ac.signal });
    await until(() => stdout.text().includes('\n'), 'the ready line');
    const m = /^henb-sw-verify: listening on 127\.0\.0\.1:\d+ \(ssh host key SHA256:\S+, ssh-ed25519 \S+\); NETCONF over TLS on 127\.0\.0\.1:(\d+)\n$/.exec(stdout.text());
    expect(m, stdout.text()).not.toBeNull();
    const c = await connectNetconfTls({ host: '127.0.0.1', port: Number(m![1]), cert: noc.cert, key: noc.key, ca: pki.ca.cert });
    // write access: the group admin from users[] applies to the TLS login too
    const reply = await c.rpc('<edit-config><target><running/></target><config><nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm"><read-default>permit</read-default></nacm></config></edit-config>');
    expect(reply.name).toBe('rpc-reply');
    await c.close();
    ac.abort();
    expect(await done).toBe(0);
  });

  it('--check reads the TLS files: a key that does not belong to the certificate is exit 2 naming tls.key', async () => {
    const other = pki.issue('other');
    const file = join(dir, 'c.yaml');
    await writeFile(file, configText().replace(pki.server.keyFile, other.keyFile));
    const err = new BufferWritable();
    expect(await runCli(['serve', '--config', file, '--check'], { stdout: new BufferWritable(), stderr: err, env: {}, signal: new AbortController().signal })).toBe(2);
    expect(err.text()).toContain('tls.key');
    expect(err.text()).toContain('does not belong to the certificate');
  });

  it('a cert-to-name entry with map-type specified and no name, or a bad fingerprint, is a config error naming the path', async () => {
    const file = join(dir, 'c.yaml');
    await writeFile(file, configText(`    - { fingerprint: "${pki.ca.sha256}", map-type: specified }\n    - { fingerprint: "12:34", map-type: san-any }`));
    const err = new BufferWritable();
    expect(await runCli(['serve', '--config', file, '--check'], { stdout: new BufferWritable(), stderr: err, env: {}, signal: new AbortController().signal })).toBe(2);
    expect(err.text()).toContain('tls.cert-to-name[1]');
    expect(err.text()).toContain('tls.cert-to-name[2].fingerprint');
  });
});
