/**
 * A completion sent while the OAM is down is not lost: the OAM (the built-in plugin's activate, with the real
 * NETCONF device driver, RESTCONF PVE client and SQLite store) goes down while a simulated femtocell installs;
 * the device completes and sends its notification with no OAM listening; a new OAM opens the same data
 * directory, resumes the job, and the driver's resume() has the device replay (RFC 5277 startTime) the
 * completion: the job ends verified and the device installed the update once.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import type { Completion } from '../../src/simulator/model.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { silentLogger } from '../../src/log/logger.js';
import type { NetconfRegistry, RpcHandler } from '../../src/netconf/server/registry.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { activate } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { extendDigest } from '../../src/oam/measure.js';
import { closeE2e } from '../helpers/oam-e2e.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
const handles: PluginHandle[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-replay-'));
  fleet = await startFleet({ profiles: { slow: 1 }, slowInstallMs: 1500, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
}, 60_000);

afterAll(() => closeE2e({ oams: handles, pve: pveSvc, fleet, dir }), 30_000);


/** one OAM "process": the built-in activate from a config, on the same data directory */
async function startOam(notes: XmlElement[], rpcs: Map<string, RpcHandler>): Promise<PluginHandle> {
  const d = fleet.devices[0]!;
  const config: OamPluginConfig = {
    henbs: [{ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 }],
    pve: { endpoint: pveSvc.url, ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10 },
    policies: { 'self-check': true, 'on-mismatch': ['alarm'], 'step-timeout': 20 },
    software: { 'file-root': dir },
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  const handle = await activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'oam'), config, signal: new AbortController().signal });
  handles.push(handle);
  return handle;
}

describe('OAM down while the device completes', () => {
  it('the restarted OAM gets the missed completion by replay and verifies the job; one install', async () => {
    const image = Buffer.from('firmware 4.0.0 '.repeat(1000));
    await writeFile(join(dir, 'image.bin'), image);
    const rim = createHash('sha256').update(image).digest('hex');
    const henbId = fleet.devices[0]!.henbId;
    const cell = fleet.cell(henbId)!;
    const before = cell.tim();
    const installs: Completion[] = [];
    cell.onCompletion((c) => installs.push(c));

    const notes1: XmlElement[] = [];
    const rpcs1 = new Map<string, RpcHandler>();
    const first = await startOam(notes1, rpcs1);
    const out = (await rpcs1.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
      el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(join(dir, 'image.bin')).href), leaf(HSV_NS, 'version', '4.0.0'))),
    { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger })) as XmlElement[];
    const jobId = childText(out[0]!, HSV_NS, 'job-id')!;
    expect(jobId).toBeTruthy();
    await until(() => notes1.some((n) => n.name === 'software-update-progress' && childText(n, HSV_NS, 'step') === '7'), 'the device accepting the update');
    await first.close();
    expect(installs).toEqual([]);

    // the device finishes and notifies while no OAM listens
    await until(() => installs.length > 0, 'the device completing while the OAM is down');
    expect(installs[0]).toMatchObject({ jobId, kind: 'update', status: 'completed' });

    const notes2: XmlElement[] = [];
    await startOam(notes2, new Map());
    await until(() => notes2.some((n) => n.name === 'software-update-result'), 'the result after the restart', 20_000);
    const results = notes2.filter((n) => n.name === 'software-update-result');
    expect(results).toHaveLength(1);
    expect(childText(results[0]!, HSV_NS, 'job-id')).toBe(jobId);
    expect(childText(results[0]!, HSV_NS, 'status')).toBe('verified');
    expect(childText(results[0]!, HSV_NS, 'reported-tim')).toBe(extendDigest(before, rim));
    expect(notes1.some((n) => n.name === 'software-update-result')).toBe(false);
    // installed once: the update was not sent again after the restart
    expect(installs.filter((c) => c.kind === 'update')).toHaveLength(1);
    expect(cell.tim()).toBe(extendDigest(before, rim));
  }, 60_000);
});
