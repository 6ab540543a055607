/**
 * Interop: the built-in OAM plugin configured with `store: {driver: postgres}` (as `serve` reads it from the
 * config file) runs the nine steps against simulated femtocells over NETCONF/SSH and the reference PVE over
 * RESTCONF, with everything it keeps in a real PostgreSQL (a throwaway cluster from
 * scripts/postgres-peer-start.sh). A second Store instance on the same database, as a second OAM instance
 * would have, sees the stored RIMs, jobs and results; a restarted plugin finds them again.
 * A missing PostgreSQL fails this suite with the script's message (never a skip).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createPveClient } from '../../src/pve/client.js';
import type { RestconfPveClient } from '../../src/pve/client.js';
import { silentLogger } from '../../src/log/logger.js';
import { childText, childrenNamed, el, leaf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { createOamPlugin } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { extendDigest } from '../../src/oam/measure.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { endPostgresFile, startPostgresPeer } from '../helpers/peers.js';
import type { PostgresPeer } from '../helpers/peers.js';
import { recordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const PEERS_DIR = '/tmp/hsv-interop-postgres-flow';

let dir: string;
let cluster: PostgresPeer | undefined;
let url: string;
let password: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let pveClient: RestconfPveClient;
let driver: NetconfDeviceDriver;
let handle: PluginHandle | undefined;
let other: Store | undefined;
let imageUri: string;
let imageRim: string;
const initialTim = new Map<string, string>();

const registry = recordingRegistry();
const { rpcs, states, notes } = registry;

const storeConfig = (): OamPluginConfig['store'] => ({ driver: 'postgres', url, password, 'instance-id': 'oam-a', lease: 30 });

async function activatePlugin(): Promise<PluginHandle> {
  rpcs.clear();
  states.clear();
  const plugin = createOamPlugin({
    pve: pveClient, devices: driver, pveJwks: pveSvc.jwks, inventory: fleet.devices.map((d) => d.henbId),
    policies: { selfCheck: true, onMismatch: ['alarm', 'rollback'], stepTimeoutSec: 30, pveTimeoutSec: 10 },
  });
  return plugin.activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'oam'), config: { store: storeConfig(), software: { 'file-root': dir } }, signal: new AbortController().signal });
}

async function call(name: string, ...children: XmlElement[]): Promise<XmlElement[] | 'ok'> {
  return rpcs.get(name)!(el(HSV_NS, name, ...children), { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
}

const resultFor = (henbId: string): XmlElement | undefined =>
  notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pg-flow-'));
  cluster = await startPostgresPeer(PEERS_DIR);
  // the password goes into the plugin config as its own (resolved) secret, the URL without it
  ({ url, password } = cluster.credentials());
  expect(url).toMatch(/^postgres:\/\/hsv@127\.0\.0\.1:\d+\/hsv$/);

  const image = Buffer.from('henb firmware 2.0.0 '.repeat(5000));
  await writeFile(join(dir, 'image-2.0.0.bin'), image);
  imageUri = pathToFileURL(join(dir, 'image-2.0.0.bin')).href;
  imageRim = createHash('sha256').update(image).digest('hex');
  fleet = await startFleet({ profiles: { healthy: 1, 'bad-install': 1 }, installMs: 50, rollbackMs: 10, dataDir: join(dir, 'fleet') });
  for (const d of fleet.devices) initialTim.set(d.henbId, fleet.cell(d.henbId)!.tim());
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  pveClient = createPveClient({ url: pveSvc.url, ca: pveSvc.ca, timeoutMs: 8000 });
  driver = createDeviceDriver({ devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })), connectTimeoutMs: 3000, rpcTimeoutMs: 5000 });
  handle = await activatePlugin();
  other = await openStore({ driver: 'postgres', url, password });
}, 90_000);

afterAll(() => endPostgresFile([
  () => handle?.close(), () => other?.close(), () => driver?.close(), () => pveClient?.close(), () => pveSvc?.close(), () => fleet?.close(),
], cluster, dir), 60_000);

describe('the OAM plugin on PostgreSQL (store.driver: postgres)', () => {
  it('verified and mismatch end as with SQLite, and a second instance reads the same RIMs, jobs and results', async () => {
    const ids = fleet.devices.map((d) => d.henbId);
    const out = (await call('software-update', ...ids.map((id) => leaf(HSV_NS, 'henb-id', id)),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '2.0.0'), leaf(HSV_NS, 'sha256', imageRim)))) as XmlElement[];
    expect(out.map((j) => childText(j, HSV_NS, 'status'))).toEqual(ids.map(() => 'started'));
    await until(() => ids.every((id) => resultFor(id) !== undefined), 'a result for every H(e)NB', 30_000);
    expect(childText(resultFor('healthy-1')!, HSV_NS, 'status')).toBe('verified');
    expect(childText(resultFor('bad-install-1')!, HSV_NS, 'status')).toBe('mismatch');

    // what another OAM instance sees in the shared database
    const expected = extendDigest(initialTim.get('healthy-1')!, imageRim);
    expect(await other!.getHenb('healthy-1')).toMatchObject({ rim: expected, state: 'trusted', softwareVersion: '2.0.0' });
    expect(await other!.getHenb('bad-install-1')).toMatchObject({ rim: initialTim.get('bad-install-1'), state: 'quarantined' });
    // the mismatch's rollback is checked with fresh PVE evidence (issue 10 item 5) before its job ends
    await until(async () => (await other!.listActiveJobs()).length === 0, 'no active job left (rollback check done)', 30_000);
    const jobs = await other!.listJobs({ henbId: 'healthy-1' });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ terminal: true, updateSent: true, owner: 'oam-a' }); // store.instance-id
    const results = await other!.getResults(jobs[0]!.jobId);
    expect(results.map((r) => r.earStatus)).toContain('affirming');
    // and the SQLite file was never created: the data directory holds the keys only
    expect(await readdir(join(dir, 'oam'))).toEqual(['keys']);
  }, 60_000);

  it('a restarted plugin finds the stored state again', async () => {
    await handle!.close();
    handle = await activatePlugin();
    const henbs = childrenNamed((await states.get('henbs')!())!, HSV_NS, 'henb');
    const h = henbs.find((x) => childText(x, HSV_NS, 'henb-id') === 'healthy-1')!;
    expect(childText(h, HSV_NS, 'rim')).toBe(extendDigest(initialTim.get('healthy-1')!, imageRim));
    expect(childText(h, HSV_NS, 'software-version')).toBe('2.0.0');
    // /hsv:jobs names the instance that drove each job (store.instance-id)
    const jobs = childrenNamed((await states.get('jobs')!())!, HSV_NS, 'job');
    expect(jobs.map((j) => childText(j, HSV_NS, 'instance'))).toEqual(jobs.map(() => 'oam-a'));
  }, 30_000);

  it('a wrong password fails activation with ERR_STORE_OPEN, without the password in the message', async () => {
    const plugin = createOamPlugin({ pve: pveClient, devices: driver, pveJwks: pveSvc.jwks, inventory: [] });
    const err = await plugin.activate({
      apiVersion: HOST_API_VERSION, registry: { ...registry, addRpc: () => undefined, addState: () => undefined }, log: silentLogger,
      dataDir: join(dir, 'oam-bad'), config: { store: { driver: 'postgres', url, password: 'not-the-password-x1' } }, signal: new AbortController().signal,
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_STORE_OPEN' });
    expect(String((err as Error).message)).not.toContain('not-the-password-x1');
    expect(String((err as Error).message)).toContain('hsv@127.0.0.1');
  }, 30_000);
});

