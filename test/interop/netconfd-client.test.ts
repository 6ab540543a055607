/**
 * Interop: our NETCONF client (src/netconf/client) against netconfd (yuma123) behind OpenSSH's
 * netconf subsystem, started by scripts/netconfd-peer-start.sh on a free loopback port. A missing
 * netconfd/sshd fails this suite with the script's message (never a skip).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectNetconf, NetconfError } from '../../src/netconf/client/index.js';
import type { ConnectOptions, NetconfClient } from '../../src/netconf/client/index.js';
import { child, childText, elements, NETCONF_BASE_NS, serializeXml } from '../../src/netconf/xml/index.js';
import { startNetconfdPeer } from '../helpers/peers.js';
import type { NetconfdPeer } from '../helpers/peers.js';

const N = NETCONF_BASE_NS;
const TOASTER = 'http://netconfcentral.org/ns/toaster';
const PEERS_DIR = '/tmp/hsv-interop-netconfd-client';
let peer: NetconfdPeer | undefined;
let base: ConnectOptions;
const clients: NetconfClient[] = [];

async function connect(over: Partial<ConnectOptions> = {}): Promise<NetconfClient> {
  const c = await connectNetconf({ ...base, ...over });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  peer = await startNetconfdPeer(PEERS_DIR);
  base = {
    host: '127.0.0.1', port: peer.port, username: 'ncuser', password: 'ncpass',
    hostKeySha256: peer.hostKeySha256, rpcTimeoutMs: 20_000,
  };
});

afterAll(() => {
  for (const c of clients) c.destroy();
  peer?.stop();
});

describe('our client against netconfd', () => {
  it('exchanges hellos and negotiates base:1.1 chunked framing', async () => {
    const c = await connect();
    expect(c.base11).toBe(true);
    expect(c.sessionId).toBeGreaterThan(0);
    expect(c.serverCapabilities).toEqual(expect.arrayContaining(['urn:ietf:params:netconf:base:1.0', 'urn:ietf:params:netconf:base:1.1']));
    expect(c.serverCapabilities.some((x) => x.startsWith(`${TOASTER}?module=toaster`))).toBe(true);
  });

  it('authenticates with a public key (OpenSSH key made by ssh-keygen)', async () => {
    const c = await connect({ password: undefined, privateKey: readFileSync(join(PEERS_DIR, 'keys', 'client_key'), 'utf8') });
    expect(c.sessionId).toBeGreaterThan(0);
    await c.close();
  });

  it('refuses netconfd when the pinned host key does not match', async () => {
    await expect(connect({ hostKeySha256: 'SHA256:' + Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '') }))
      .rejects.toMatchObject({ code: 'ERR_NETCONF_CLIENT_HOST_KEY' });
  });

  it('get and get-config return <data>', async () => {
    const c = await connect();
    const cfg = await c.rpc('<get-config><source><running/></source></get-config>');
    expect(child(cfg, N, 'data')).toBeDefined();
    const st = await c.rpc(`<get><filter type="subtree"><netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions/></netconf-state></filter></get>`);
    expect(serializeXml(child(st, N, 'data')!)).toContain(`<session-id>${c.sessionId}</session-id>`);
  });

  it('turns netconfd rpc-errors into NetconfError with every field', async () => {
    const c = await connect();
    const e = await c.rpc('<no-such-operation/>').then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(NetconfError);
    const first = (e as NetconfError).errors[0]!;
    expect(first.severity).toBe('error');
    expect(['unknown-element', 'operation-not-supported']).toContain(first.tag);
    expect(first.message).toBeTruthy();
    // the session is still usable
    expect(child(await c.rpc('<get-config><source><running/></source></get-config>'), N, 'data')).toBeDefined();
  });

  it('works with end-of-message framing when only base:1.0 is offered', async () => {
    const c = await connect({ capabilities: ['urn:ietf:params:netconf:base:1.0'] });
    expect(c.base11).toBe(false);
    expect(child(await c.rpc('<get-config><source><running/></source></get-config>'), N, 'data')).toBeDefined();
  });

  it('pipelines requests (bounded in flight) and matches replies by message-id', async () => {
    const c = await connect({ maxInFlight: 32 });
    const rs = await Promise.all(Array.from({ length: 200 }, () => c.rpc('<get-config><source><running/></source></get-config>')));
    expect(rs.every((r) => child(r, N, 'data') !== undefined)).toBe(true);
  });

  it('toaster: make-toast and a toastDone notification after cancel-toast', async () => {
    const c = await connect();
    await c.rpc(`<edit-config><target><candidate/></target><config><toaster xmlns="${TOASTER}"/></config></edit-config>`);
    await c.rpc('<commit/>');
    await c.rpc('<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>');
    const r = await c.rpc(`<make-toast xmlns="${TOASTER}"><toasterDoneness>5</toasterDoneness></make-toast>`);
    expect(child(r, N, 'ok')).toBeDefined();
    await c.rpc(`<cancel-toast xmlns="${TOASTER}"/>`);
    let status: string | undefined;
    for await (const n of c.notifications()) {
      const done = elements(n).find((x) => x.ns === TOASTER && x.name === 'toastDone');
      if (done) {
        status = childText(done, TOASTER, 'toastStatus');
        break;
      }
    }
    expect(status).toBe('cancelled');
  });

  it('close() sends close-session and ends cleanly', async () => {
    const c = await connect();
    await c.close();
    expect(await c.done).toBeUndefined();
    expect(c.closed).toBe(true);
  });
});
