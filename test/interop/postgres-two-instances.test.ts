/**
 * Interop: two OAM plugin instances on one PostgreSQL database (a throwaway cluster from
 * scripts/postgres-peer-start.sh), each with its own device driver and PVE client, against simulated femtocells
 * over NETCONF/SSH and the reference PVE over RESTCONF. An integrity-request is a job of its own kind, and the
 * database keeps one active software-update or integrity-check per H(e)NB across instances: an integrity-check on
 * one instance while the other updates the same H(e)NB is refused with henb-busy, and the other way round.
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
import { childText, el, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HOST_API_VERSION, NetconfError } from '../../src/plugin/contract.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HSV_NS, createOamPlugin } from '../../src/oam-plugin/index.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { endPostgresFile, startPostgresPeer } from '../helpers/peers.js';
import type { PostgresPeer } from '../helpers/peers.js';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { recordingRegistry } from '../helpers/registry.js';
import type { RecordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const PEERS_DIR = '/tmp/hsv-interop-postgres-two-instances';

interface Instance {
  registry: RecordingRegistry;
  driver: NetconfDeviceDriver;
  pve: RestconfPveClient;
  handle: PluginHandle;
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

/** one OAM instance: its own ports and registry, the shared database */
async function instance(id: string): Promise<Instance> {
  const registry = recordingRegistry();
  const driver = createDeviceDriver({
    devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })),
    connectTimeoutMs: 3000, rpcTimeoutMs: 5000,
  });
  const pve = createPveClient({ url: pveSvc.url, ca: pveSvc.ca, timeoutMs: 15_000 });
  const plugin = createOamPlugin({
    pve, devices: driver, pveJwks: pveSvc.jwks, inventory: fleet.devices.map((d) => d.henbId),
    policies: { selfCheck: true, onMismatch: ['alarm'], stepTimeoutSec: 30, pveTimeoutSec: 20 },
  });
  const handle = await plugin.activate({
    apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, id), signal: new AbortController().signal,
    config: { store: { driver: 'postgres', url, password, 'instance-id': id, lease: 30 }, software: { 'file-root': dir } },
  });
  const i = { registry, driver, pve, handle };
  instances.push(i);
  return i;
}

function call(i: Instance, name: string, ...children: XmlElement[]): Promise<XmlElement[] | 'ok'> {
  return i.registry.rpcs.get(name)!(el(HSV_NS, name, ...children), { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
}

const update = (i: Instance, henbId: string): Promise<XmlElement[] | 'ok'> =>
  call(i, 'software-update', leaf(HSV_NS, 'henb-id', henbId), el(HSV_NS, 'software', leaf(HSV_NS, 'uri', imageUri), leaf(HSV_NS, 'version', '2.0.0')));

async function rpcErrorOf(p: Promise<unknown>): Promise<NetconfError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(NetconfError);
  return err as NetconfError;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pg-two-'));
  cluster = await startPostgresPeer(PEERS_DIR);
  ({ url, password } = cluster.credentials());
  await writeFile(join(dir, 'image-2.0.0.bin'), Buffer.from('henb firmware 2.0.0 '.repeat(1000)));
  imageUri = pathToFileURL(join(dir, 'image-2.0.0.bin')).href;
  // slow: installs for minutes (its update stays awaiting-completion); unreachable: takes connections and never
  // answers, so the PVE's evidence collection (and the integrity-check) runs until the PVE's device timeout
  fleet = await startFleet({ profiles: { slow: 1, unreachable: 1 }, unreachableMode: 'blackhole', dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 4000 });
  db = await openStore({ driver: 'postgres', url, password });
}, 90_000);

afterAll(() => endPostgresFile([
  async () => {
    for (const i of instances) {
      await i.handle.close();
      await i.driver.close();
      i.pve.close();
    }
  },
  () => db?.close(), () => pveSvc?.close(), () => fleet?.close(),
], cluster, dir), 60_000);

describe('two OAM instances on PostgreSQL: one software-update or integrity-check per H(e)NB', () => {
  it('an integrity-check on instance A while instance B updates the H(e)NB is refused with henb-busy', async () => {
    const [a, b] = [await instance('oam-a'), await instance('oam-b')];
    const started = (await update(b, 'slow-1')) as XmlElement[];
    expect(childText(started[0]!, HSV_NS, 'status')).toBe('started');
    const jobId = childText(started[0]!, HSV_NS, 'job-id')!;
    await until(async () => (await db.getJob(jobId))?.state === 'awaiting-completion', 'the update installing', 30_000)
      .catch(async (err: unknown) => { throw new Error(`${String(err)}: ${JSON.stringify((await db.getJob(jobId))?.data)}`); });

    const busy = await rpcErrorOf(call(a, 'integrity-request', leaf(HSV_NS, 'henb-id', 'slow-1')));
    expect(busy.errors[0]).toMatchObject({ type: 'application', tag: 'in-use', appTag: 'henb-busy', path: '/hsv:integrity-request/hsv:henb-id' });
    expect((await db.listActiveJobs()).map((j) => [j.jobId, j.kind, j.owner])).toEqual([[jobId, 'software-update', 'oam-b']]);
    expect((await db.listJobs({ henbId: 'slow-1' })).map((j) => j.jobId)).toEqual([jobId]);
    expect((await db.getHenb('slow-1'))?.state).toBe('updating');
  }, 60_000);

  it('a software-update on instance B while instance A runs an integrity-check of the H(e)NB is refused with henb-busy', async () => {
    const [a, b] = instances;
    const checking = rpcErrorOf(call(a!, 'integrity-request', leaf(HSV_NS, 'henb-id', 'unreachable-1')));
    await until(async () => (await db.listActiveJobs()).some((j) => j.kind === 'integrity-check' && j.henbId === 'unreachable-1'), 'the check running', 10_000);
    const refused = (await update(b!, 'unreachable-1')) as XmlElement[];
    expect(childText(refused[0]!, HSV_NS, 'status')).toBe('refused');
    expect(childText(refused[0]!, HSV_NS, 'reason')).toContain('henb-busy');
    // the check ends with the PVE's answer (it could not reach the H(e)NB); then nothing is active for it
    const err = await checking;
    expect(err.errors[0]).toMatchObject({ tag: 'operation-failed', appTag: 'henb-unreachable' });
    expect((await db.listActiveJobs()).filter((j) => j.henbId === 'unreachable-1')).toEqual([]);
    const jobs = await db.listJobs({ henbId: 'unreachable-1' });
    expect(jobs.map((j) => [j.kind, j.owner, j.terminal])).toEqual([['integrity-check', 'oam-a', true]]);
  }, 60_000);

  it('both instances extend one audit chain; audit verify --config (the PostgreSQL store) proves it with both keys', async () => {
    // each instance signs the head with its own key when it closes
    for (const i of instances) await i.handle.close();
    await writeFile(join(dir, 'audit-config.yaml'), `store:\n  driver: postgres\n  url: ${url}\n  password: { env: PGPW }\n`);
    const out = new BufferWritable();
    const err = new BufferWritable();
    const code = await runCli(['audit', 'verify', '--data-dir', join(dir, 'cli'), '--config', join(dir, 'audit-config.yaml'),
      '--jwks', join(dir, 'oam-a', 'keys', 'jwks.json'), '--jwks', join(dir, 'oam-b', 'keys', 'jwks.json'), '--json'],
    { stdout: out, stderr: err, env: { PGPW: password }, tty: false });
    expect(code, err.text() + out.text()).toBe(0);
    const v = JSON.parse(out.text()) as { ok: boolean; records: number; heads: number; unsignedTail: number };
    expect(v).toMatchObject({ ok: true, unsignedTail: 0 });
    expect(v.heads).toBeGreaterThanOrEqual(2);
    const recs = await db.listAudit({ limit: 100_000 });
    expect(recs.map((r) => r.seq)).toEqual(recs.map((_, k) => k + 1));
    const owners = new Set(recs.filter((r) => r.action === 'job-created').map((r) => (JSON.parse(r.details) as { owner?: string }).owner));
    expect(owners).toEqual(new Set(['oam-a', 'oam-b']));
    const kids = new Set((await db.listAuditHeads()).map((h) => h.kid));
    expect(kids.size).toBe(2);
    // one JWKS only: the other instance's heads do not verify
    const one = new BufferWritable();
    expect(await runCli(['audit', 'verify', '--data-dir', join(dir, 'cli'), '--config', join(dir, 'audit-config.yaml'),
      '--jwks', join(dir, 'oam-a', 'keys', 'jwks.json')], { stdout: one, stderr: new BufferWritable(), env: { PGPW: password }, tty: false })).toBe(1);
    expect(one.text()).toMatch(/head-signature: .*no key with kid/);
  }, 60_000);
});
