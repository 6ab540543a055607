// /hsv:software/allow (henb-sw-verify@2026-12-03): the http(s) software sources, as the config's software.allow,
// edited and read back over NETCONF on a served OAM; the YANG pattern refuses an entry with white space, the
// length an empty one; the container is nacm:default-deny-write.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { child, elements, textOf } from '../../src/netconf/xml/index.js';
import { until } from '../helpers/until.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const env = { HENB_SW_VERIFY_ADMIN_PASSWORD: 'allow-admin-pw', FRESH_PW: 'allow-fresh-pw' };
let dir = '';
const stop = new AbortController();
let serving: Promise<number>;
let ready: { port: number; hostKey: string };
let admin: NetconfClient;

const connect = (username: string, password: string): Promise<NetconfClient> =>
  connectNetconf({ host: '127.0.0.1', port: ready.port, username, password, hostKeySha256: ready.hostKey, rpcTimeoutMs: 20_000 });
const edit = (c: NetconfClient, inner: string): Promise<unknown> =>
  c.rpc(`<edit-config><target><running/></target><config><software xmlns="${HSV}">${inner}</software></config></edit-config>`);

async function allowList(): Promise<string[]> {
  const reply = await admin.rpc(`<get-config><source><running/></source><filter type="subtree"><software xmlns="${HSV}"/></filter></get-config>`);
  const sw = elements(child(reply, NC, 'data')!).find((e) => e.ns === HSV && e.name === 'software');
  return sw ? elements(sw).filter((e) => e.name === 'allow').map((e) => textOf(e)) : [];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-allow-'));
  await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0
data-dir: ${join(dir, 'oam')}
logging: { level: error }
users:
  - name: fresh
    password: { env: FRESH_PW }
`);
  const out = new BufferWritable();
  serving = runCli(['serve', '--config', join(dir, 'config.yaml'), '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: stop.signal });
  await until(() => out.text().includes('\n'), 'the ready line');
  ready = JSON.parse(out.text()) as { port: number; hostKey: string };
  admin = await connect('admin', env.HENB_SW_VERIFY_ADMIN_PASSWORD);
}, 60_000);

afterAll(async () => {
  await admin?.close();
  stop.abort();
  expect(await serving).toBe(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('/hsv:software/allow', () => {
  it('edit-config sets hosts and URL prefixes; get-config returns them; delete removes one', async () => {
    expect(await allowList()).toEqual([]);
    await edit(admin, '<file-root>/srv/images</file-root><allow>images.example.net</allow><allow>https://cdn.example.net:8443/henb/</allow>');
    expect(await allowList()).toEqual(['images.example.net', 'https://cdn.example.net:8443/henb/']);
    await edit(admin, `<allow xmlns:nc="${NC}" nc:operation="delete">images.example.net</allow>`);
    expect(await allowList()).toEqual(['https://cdn.example.net:8443/henb/']);
  });

  it('an entry with white space or an empty one is invalid-value; nothing changes', async () => {
    await expect(edit(admin, '<allow>bad host</allow>')).rejects.toMatchObject({ errors: [expect.objectContaining({ tag: 'invalid-value' })] });
    await expect(edit(admin, '<allow></allow>')).rejects.toMatchObject({ errors: [expect.objectContaining({ tag: 'invalid-value' })] });
    expect(await allowList()).toEqual(['https://cdn.example.net:8443/henb/']);
  });

  it('a user without a group may not write it (nacm:default-deny-write)', async () => {
    const fresh = await connect('fresh', env.FRESH_PW);
    try {
      await expect(edit(fresh, '<allow>evil.example</allow>')).rejects.toMatchObject({ errors: [expect.objectContaining({ tag: 'access-denied' })] });
    } finally {
      await fresh.close();
    }
    expect(await allowList()).toEqual(['https://cdn.example.net:8443/henb/']);
  });
});
