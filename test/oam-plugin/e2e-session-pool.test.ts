/**
 * The whole flow (the built-in plugin's runner, the real NETCONF device driver, the reference PVE over RESTCONF,
 * simulated femtocells over SSH on loopback) with the driver's retry and session pool (issue 15):
 *  - a job ends verified though the first connections to its device are reset (a loopback proxy resets them):
 *    the driver retried within the step's deadline and sent the software-update once;
 *  - with one device session for the whole OAM (devices.max-open-sessions = 1), a device whose session was closed
 *    to make room for another device's software-update completes while the OAM has no session to it; its
 *    completion comes by RFC 5277 replay when the session is re-opened, and both jobs end verified.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import type { Completion } from '../../src/simulator/model.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createPveClient } from '../../src/pve/client.js';
import type { RestconfPveClient } from '../../src/pve/client.js';
import { silentLogger } from '../../src/log/logger.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { HSV_NS, createOamPlugin } from '../../src/oam-plugin/index.js';
import { extendDigest } from '../../src/oam/measure.js';
import { recordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const RESETS = 3;
let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let pveClient: RestconfPveClient;
let driver: NetconfDeviceDriver;
let handle: PluginHandle;
let proxy: Server;
const proxied = { resets: 0, accepted: 0 };
const sockets = new Set<Socket>();
let imageUri: string;
let imageRim: string;
const registry = recordingRegistry();
const { rpcs, notes } = registry;

/** a TCP front of one device that resets its first RESETS connections and forwards the others */
async function resettingProxy(port: number): Promise<Server> {
  const s = createServer((sock) => {
    sock.on('error', () => undefined);
    if (proxied.resets < RESETS) {
      proxied.resets++;
      sock.resetAndDestroy();
      return;
    }
    proxied.accepted++;
    const up = createConnection({ host: '127.0.0.1', port });
    up.on('error', () => sock.destroy());
    sock.on('close', () => up.destroy());
    up.on('close', () => sock.destroy());
    for (const x of [sock, up]) {
      sockets.add(x);
      x.on('close', () => sockets.delete(x));
    }
    sock.pipe(up).pipe(sock);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-pool-'));
  const image = Buffer.from('henb firmware 3.0.0 '.repeat(2000));
  await writeFile(join(dir, 'image.bin'), image);
  imageUri = pathToFileURL(join(dir, 'image.bin')).href;
  imageRim = createHash('sha256').update(image).digest('hex');
  // healthy devices install in 3 s, the slow one in 8 s: it keeps the only session while the other completes
  fleet = await startFleet({ profiles: { healthy: 2, slow: 1 }, installMs: 3000, slowInstallMs: 8000, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 5000 });
  pveClient = createPveClient({ url: pveSvc.url, ca: pveSvc.ca, timeoutMs: 10_000 });
  const first = fleet.devices.find((d) => d.henbId === 'healthy-1')!;
  proxy = await resettingProxy(first.port);
  const proxyPort = (proxy.address() as { port: number }).port;
  driver = createDeviceDriver({
    devices: fleet.devices.map((d) => ({
      henbId: d.henbId, host: d.host, port: d.henbId === 'healthy-1' ? proxyPort : d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256,
    })),
    connectTimeoutMs: 5000, rpcTimeoutMs: 10_000, maxOpenSessions: 1, idleTimeoutMs: 200,
    backoff: { initialMs: 50, maxMs: 400 },
  });
  const plugin = createOamPlugin({
    pve: pveClient, devices: driver, pveJwks: pveSvc.jwks, inventory: fleet.devices.map((d) => d.henbId),
    policies: { selfCheck: true, onMismatch: ['alarm'], stepTimeoutSec: 60, pveTimeoutSec: 20 },
  });
  handle = await plugin.activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'oam'), config: { software: { 'file-root': dir } }, signal: new AbortController().signal });
}, 60_000);

afterAll(async () => {
  await handle?.close();
  await driver?.close();
  pveClient?.close();
  await pveSvc?.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

async function update(henbId: string): Promise<string> {
  const out = (await rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '3.0.0'))),
  { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger })) as XmlElement[];
  return childText(out[0]!, HSV_NS, 'job-id')!;
}
const result = (jobId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'job-id') === jobId);
const accepted = (jobId: string): boolean =>
  notes.some((n) => n.name === 'software-update-progress' && childText(n, HSV_NS, 'job-id') === jobId && childText(n, HSV_NS, 'step') === '7');

describe('the flow with the retrying, pooled device driver', () => {
  it('a job ends verified though the first connections to the device are reset; the update was sent once', async () => {
    const cell = fleet.cell('healthy-1')!;
    const before = cell.tim();
    const installs: Completion[] = [];
    const off = cell.onCompletion((c) => installs.push(c));
    try {
      const jobId = await update('healthy-1');
      await until(() => result(jobId) !== undefined, 'the result', 40_000);
      expect(childText(result(jobId)!, HSV_NS, 'status')).toBe('verified');
      expect(childText(result(jobId)!, HSV_NS, 'reported-tim')).toBe(extendDigest(before, imageRim));
      // the driver's first attempts were reset; the fourth connection carried the job
      expect(proxied).toEqual({ resets: RESETS, accepted: 1 });
      expect(installs.filter((c) => c.kind === 'update')).toHaveLength(1);
      // the job is over: the session is closed once idle
      await until(() => fleet.sessionCount('healthy-1') === 0 && !driver.connected('healthy-1'), 'the session closed after the job');
    } finally {
      off();
    }
  }, 60_000);

  it('one session for two devices: the completion sent while no session was open comes by replay; both verified', async () => {
    const [a, b] = ['healthy-2', 'slow-1'];
    let connectedAtCompletion: boolean | undefined;
    const off = fleet.cell(a)!.onCompletion(() => { connectedAtCompletion = driver.connected(a); });
    try {
      const jobA = await update(a);
      await until(() => accepted(jobA), `${a} accepting the update`, 30_000);
      const jobB = await update(b);
      await until(() => accepted(jobB), `${b} accepting the update`, 30_000);
      // the only session went to b's software-update: a's, which only awaited its completion, was closed for it
      expect(driver.connected(a)).toBe(false);
      await until(() => result(jobA) !== undefined && result(jobB) !== undefined, 'both results', 60_000);
      expect(connectedAtCompletion).toBe(false);
      expect(childText(result(jobA)!, HSV_NS, 'status')).toBe('verified');
      expect(childText(result(jobB)!, HSV_NS, 'status')).toBe('verified');
      expect(driver.sessionCounts().open).toBeLessThanOrEqual(1);
    } finally {
      off();
    }
  }, 90_000);
});
