/**
 * Interop: two OAM plugin instances on one PostgreSQL database (a throwaway cluster from
 * scripts/postgres-peer-start.sh) working the same fleet of simulated femtocells (NETCONF/SSH) with the reference
 * PVE (RESTCONF): no job runs twice. What the devices saw is counted at the devices (every software-update RPC
 * that reached a simulated femtocell); what the instances did is read from the store (jobs, their audit
 * records with the owner of each step).
 *
 * - Both instances are asked to update every device at once (an NMS that retried through a load balancer):
 *   each device gets exactly one job and one software-update RPC; the other instance's request is refused with
 *   henb-busy; each job's history shows one owner, the instance that answered `started`.
 * - An instance stops in order while its jobs wait for the devices' completions: the other instance takes the
 *   released jobs (lease rules), ends them verified from the completions (RFC 5277 replay covers the gap), and
 *   never sends the software-update again; each job's history shows the first owner, then the second, once.
 * A missing PostgreSQL fails this suite with the script's message (never a skip).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';
import { createDeviceDriver } from '../../src/device/index.js';
import type { NetconfDeviceDriver } from '../../src/device/index.js';
import { createPveClient, startPve } from '../../src/pve/index.js';
import type { PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { childText, childrenNamed, el, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HSV_NS, createOamPlugin } from '../../src/oam-plugin/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { endPostgresFile, startPostgresPeer } from '../helpers/peers.js';
import type { PostgresPeer } from '../helpers/peers.js';
import { recordingRegistry } from '../helpers/registry.js';
import type { RecordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const PEERS_DIR = '/tmp/hsv-interop-postgres-shared-fleet';
const HEALTHY = 16;
const SLOW = 4;

interface Instance {
  id: string;
  registry: RecordingRegistry;
  driver: NetconfDeviceDriver;
  pve: RestconfPveClient;
  handle: PluginHandle;
  closed: boolean;
}

let dir: string;
let cluster: PostgresPeer | undefined;
let url: string;
let password: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let db: Store;
let imageUri: string;
const instances: Instance[] = [];
/** software-update RPCs that reached each simulated device */
const updatesAt = new Map<string, number>();

/** one OAM instance: its own driver, PVE client and registry, the shared database; leases of 3 s (renewed every second) */
async function instance(id: string): Promise<Instance> {
  const registry = recordingRegistry();
  const driver = createDeviceDriver({
    devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })),
    connectTimeoutMs: 5000, rpcTimeoutMs: 10_000,
  });
  const pve = createPveClient({ url: pveSvc.url, ca: pveSvc.ca, timeoutMs: 30_000 });
  const plugin = createOamPlugin({
    pve, devices: driver, pveJwks: pveSvc.jwks, inventory: fleet.devices.map((d) => d.henbId),
    policies: { selfCheck: true, onMismatch: ['alarm'], stepTimeoutSec: 60, pveTimeoutSec: 30 },
  });
  const handle = await plugin.activate({
    apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, id), signal: new AbortController().signal,
    config: { store: { driver: 'postgres', url, password, 'instance-id': id, lease: 3 }, software: { 'file-root': dir } },
  });
  const i = { id, registry, driver, pve, handle, closed: false };
  instances.push(i);
  return i;
}

async function stop(i: Instance): Promise<void> {
  if (i.closed) return;
  i.closed = true;
  await i.handle.close();
  await i.driver.close();
  i.pve.close();
}

/** software-update naming `ids`; returns henb-id -> job-id of the jobs this instance started, and its refusals */
async function update(i: Instance, ids: string[]): Promise<{ started: Map<string, string>; refused: Map<string, string> }> {
  const out = await i.registry.rpcs.get('software-update')!(el(HSV_NS, 'software-update',
    ids.map((id) => leaf(HSV_NS, 'henb-id', id)),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '2.0.0'))),
  { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger }) as XmlElement[];
  const jobs = out.flatMap((e) => (e.name === 'job' ? [e] : childrenNamed(e, HSV_NS, 'job')));
  const started = new Map<string, string>();
  const refused = new Map<string, string>();
  for (const j of jobs) {
    const henbId = childText(j, HSV_NS, 'henb-id')!;
    if (childText(j, HSV_NS, 'status') === 'started') started.set(henbId, childText(j, HSV_NS, 'job-id')!);
    else refused.set(henbId, childText(j, HSV_NS, 'reason') ?? '');
  }
  return { started, refused };
}

/** the owner recorded with each of a job's steps in the audit log (job-created, job-transition), in order */
async function ownersOf(jobId: string): Promise<string[]> {
  const recs = (await db.listAudit({ limit: 100_000 })).filter((r) => r.object === `job/${jobId}`);
  return recs.map((r) => (JSON.parse(r.details) as { owner?: string }).owner ?? '(none)');
}

async function updateSentSteps(jobId: string): Promise<number> {
  const recs = (await db.listAudit({ limit: 100_000 })).filter((r) => r.object === `job/${jobId}`);
  return recs.filter((r) => (JSON.parse(r.details) as { updateSent?: boolean }).updateSent === true).length;
}

/** consecutive duplicates removed: [a, a, b, b] -> [a, b] */
const runs = (xs: string[]): string[] => xs.filter((x, k) => k === 0 || xs[k - 1] !== x);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pg-shared-'));
  cluster = await startPostgresPeer(PEERS_DIR);
  ({ url, password } = cluster.credentials());
  await writeFile(join(dir, 'image-2.0.0.bin'), Buffer.from('henb firmware 2.0.0 '.repeat(1000)));
  imageUri = pathToFileURL(join(dir, 'image-2.0.0.bin')).href;
  // healthy: install for 300 ms; slow: install for 6 s (long enough to stop an instance while they install)
  fleet = await startFleet({ profiles: { healthy: HEALTHY, slow: SLOW }, installMs: 300, slowInstallMs: 6000, dataDir: join(dir, 'fleet') });
  for (const d of fleet.devices) {
    const cell = fleet.cell(d.henbId)!;
    const original = cell.startUpdate.bind(cell);
    updatesAt.set(d.henbId, 0);
    cell.startUpdate = (req) => {
      updatesAt.set(d.henbId, (updatesAt.get(d.henbId) ?? 0) + 1);
      return original(req);
    };
  }
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 10_000 });
  db = await openStore({ driver: 'postgres', url, password });
}, 120_000);

afterAll(() => endPostgresFile([
  async () => { for (const i of instances) await stop(i); }, () => db?.close(), () => pveSvc?.close(), () => fleet?.close(),
], cluster, dir), 60_000);

describe('two OAM instances on PostgreSQL working one fleet: no job runs twice', () => {
  it('both asked to update every device at once: one job and one software-update RPC per device, each job with one owner', async () => {
    const [a, b] = [await instance('oam-a'), await instance('oam-b')];
    const ids = fleet.devices.filter((d) => d.profile === 'healthy').map((d) => d.henbId);
    // opposite orders, so that both instances start jobs while the other asks for the same devices
    const [ra, rb] = await Promise.all([update(a, ids), update(b, [...ids].reverse())]);
    const jobOf = new Map<string, { jobId: string; owner: string }>();
    for (const [r, owner] of [[ra, 'oam-a'], [rb, 'oam-b']] as const) {
      for (const [henbId, jobId] of r.started) {
        expect(jobOf.has(henbId), `${henbId} started on both instances`).toBe(false);
        jobOf.set(henbId, { jobId, owner });
      }
      for (const reason of r.refused.values()) expect(reason).toContain('henb-busy');
    }
    expect([...jobOf.keys()].sort()).toEqual([...ids].sort());
    expect(ra.started.size + ra.refused.size).toBe(ids.length);
    expect(rb.started.size + rb.refused.size).toBe(ids.length);

    await until(async () => {
      const jobs = await Promise.all([...jobOf.values()].map((j) => db.getJob(j.jobId)));
      return jobs.every((j) => j?.terminal === true);
    }, 'every job finished', 90_000);
    for (const [henbId, { jobId, owner }] of jobOf) {
      const job = await db.getJob(jobId);
      expect([henbId, job?.state]).toEqual([henbId, 'verified']);
      expect((await db.listJobs({ henbId })).map((j) => j.jobId)).toEqual([jobId]);
      expect(updatesAt.get(henbId), `software-update RPCs that reached ${henbId}`).toBe(1);
      const owners = await ownersOf(jobId);
      expect(owners.length).toBeGreaterThan(3);
      expect(new Set(owners), `owners of ${jobId}`).toEqual(new Set([owner]));
      expect(await updateSentSteps(jobId)).toBe(1);
    }
  }, 150_000);

  it('an instance stopped while its jobs install: the other takes them over, ends them verified, and never sends the update again', async () => {
    const [a, b] = instances as [Instance, Instance];
    const slow = fleet.devices.filter((d) => d.profile === 'slow').map((d) => d.henbId);
    const r = await update(a, slow);
    expect([...r.started.keys()].sort()).toEqual([...slow].sort());
    const jobIds = [...r.started.values()];
    await until(async () => (await Promise.all(jobIds.map((j) => db.getJob(j)))).every((j) => j?.state === 'awaiting-completion'),
      'the updates sent (awaiting-completion)', 60_000);
    for (const id of slow) expect(updatesAt.get(id)).toBe(1);
    // an orderly stop releases a's leases: b claims the jobs at its next lease tick (every second with lease 3 s)
    await stop(a);
    await until(async () => (await Promise.all(jobIds.map((j) => db.getJob(j)))).every((j) => j?.owner === 'oam-b'), 'b owning the jobs', 30_000);
    await until(async () => (await Promise.all(jobIds.map((j) => db.getJob(j)))).every((j) => j?.terminal === true), 'the jobs finished on b', 60_000);
    for (const [henbId, jobId] of r.started) {
      expect((await db.getJob(jobId))?.state).toBe('verified');
      expect(updatesAt.get(henbId), `software-update RPCs that reached ${henbId}`).toBe(1);
      expect(await updateSentSteps(jobId)).toBe(1);
      // one owner at a time: a while it ran, then b to the end
      expect(runs(await ownersOf(jobId))).toEqual(['oam-a', 'oam-b']);
    }
    // b never drove a's earlier jobs a second time either
    for (const d of fleet.devices.filter((x) => x.profile === 'healthy')) expect(updatesAt.get(d.henbId)).toBe(1);
    expect(b.closed).toBe(false);
  }, 150_000);
});
