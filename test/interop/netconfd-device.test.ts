/**
 * Interop: the device driver's SSH connector (src/device/connect.ts) against netconfd (yuma123) behind OpenSSH's
 * netconf subsystem (scripts/netconfd-peer-start.sh, a free loopback port): the login without ssh2's opening 'none'
 * request (password, then a key), and the relay flow's order on one session (issue 15): an rpc and
 * create-subscription written together, their replies in order, then an rpc on the subscribed session (:interleave)
 * and a notification of what it started. A missing netconfd/sshd fails this suite with the script's message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectDevice } from '../../src/device/connect.js';
import type { DeviceSession, DeviceTarget } from '../../src/device/connect.js';
import { child, childText, el, elements, NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS, parseXml } from '../../src/netconf/xml/index.js';
import { startNetconfdPeer } from '../helpers/peers.js';
import type { NetconfdPeer } from '../helpers/peers.js';

const N = NETCONF_BASE_NS;
const TOASTER = 'http://netconfcentral.org/ns/toaster';
const PEERS_DIR = '/tmp/hsv-interop-netconfd-device';
let peer: NetconfdPeer | undefined;
let target: DeviceTarget;
const sessions: DeviceSession[] = [];

async function connect(over: Partial<DeviceTarget> = {}): Promise<DeviceSession> {
  const s = await connectDevice({ ...target, ...over }, { timeoutMs: 20_000 });
  sessions.push(s);
  return s;
}

const xml = (text: string): ReturnType<typeof parseXml> => parseXml(Buffer.from(text));

beforeAll(async () => {
  peer = await startNetconfdPeer(PEERS_DIR);
  target = { host: '127.0.0.1', port: peer.port, username: 'ncuser', password: 'ncpass', hostKeySha256: peer.hostKeySha256 };
});

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  peer?.stop();
});

describe('the device connector against netconfd', () => {
  it('logs in with the password, and with a key (no none request first)', async () => {
    const s = await connect();
    expect(s.serverCapabilities).toEqual(expect.arrayContaining(['urn:ietf:params:netconf:base:1.1']));
    await s.close();
    const k = await connect({ password: undefined, privateKey: readFileSync(join(PEERS_DIR, 'keys', 'client_key'), 'utf8') });
    expect(k.closed).toBe(false);
    await k.close();
  });

  it('an rpc and create-subscription in one write, then an rpc on the subscribed session and its notification', async () => {
    const s = await connect();
    await s.rpc(xml(`<edit-config xmlns="${N}"><target><candidate/></target><config><toaster xmlns="${TOASTER}"/></config></edit-config>`));
    await s.rpc(el(N, 'commit'));
    // as the driver's integrity-measurement and its subscription: sent in the same tick, not awaited in between
    const first = s.rpc(xml(`<get-config xmlns="${N}"><source><running/></source></get-config>`));
    const sub = s.rpc(el(NETCONF_NOTIFICATION_NS, 'create-subscription'));
    expect(child(await first, N, 'data')).toBeDefined();
    expect(child(await sub, N, 'ok')).toBeDefined();
    // as the software-update on the subscribed session, and its completion
    expect(child(await s.rpc(xml(`<make-toast xmlns="${TOASTER}"><toasterDoneness>5</toasterDoneness></make-toast>`)), N, 'ok')).toBeDefined();
    await s.rpc(xml(`<cancel-toast xmlns="${TOASTER}"/>`));
    let status: string | undefined;
    for await (const n of s.notifications()) {
      const done = elements(n).find((x) => x.ns === TOASTER && x.name === 'toastDone');
      if (done) {
        status = childText(done, TOASTER, 'toastStatus');
        break;
      }
    }
    expect(status).toBe('cancelled');
  });
});
