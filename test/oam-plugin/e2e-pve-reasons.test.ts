/**
 * What the operator sees when the PVE says no (issue 14 item 3), end to end through the built-in activate (real
 * NETCONF devices, the reference RESTCONF PVE, SQLite): a refused update carries the PVE's own reason (the
 * component that is not a reference value), not only "not trusted"; an H(e)NB that the OAM knows but the PVE
 * does not is reported as such (ERR_PVE_UNKNOWN_HENB), never as "the PVE could not be asked".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createLogger } from '../../src/log/logger.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import type { NetconfRegistry, RpcHandler } from '../../src/netconf/server/registry.js';
import { childText, el, leaf, textOf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { activate, HSV_NS } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let handle: PluginHandle | undefined;
let rpcs: Map<string, RpcHandler>;
let notes: XmlElement[];
let logLines: string[];
let unknownToPve: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-pve-reasons-'));
  fleet = await startFleet({ profiles: { healthy: 2, compromised: 1 }, dataDir: join(dir, 'fleet') });
  unknownToPve = fleet.devices.find((d) => d.henbId.startsWith('healthy'))!.henbId;
  // the PVE's devices file lacks one H(e)NB that the OAM's inventory has
  pveSvc = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.filter((d) => d.henbId !== unknownToPve).map((d) => ({ ...d })), referenceValues: fleet.referenceValues, deviceTimeoutMs: 3000 });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
  await writeFile(join(dir, 'image.bin'), 'firmware 7.0.0');
  rpcs = new Map();
  notes = [];
  logLines = [];
  const config: OamPluginConfig = {
    henbs: fleet.devices.map((d) => ({ 'henb-id': d.henbId, address: d.host, port: d.port, username: d.username, password: d.password, 'ssh-host-key': d.hostKeySha256 })),
    pve: { endpoint: pveSvc.url, ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10 },
    policies: { 'on-mismatch': ['alarm'], 'step-timeout': 20 },
    software: { 'file-root': dir },
  };
  const registry: NetconfRegistry = {
    addRpc: (_ns, name, h) => { rpcs.set(name, h); }, addState: () => undefined, addStream: () => undefined, addModule: () => undefined,
    notify: async (_s, e) => { notes.push(e); }, getRunning: () => el(NETCONF_BASE_NS, 'data'), onConfigChange: () => undefined,
  };
  const log = createLogger({ level: 'info', write: (l) => void logLines.push(l) });
  handle = await activate({ apiVersion: HOST_API_VERSION, registry, log, dataDir: join(dir, 'oam'), config, signal: new AbortController().signal });
}, 60_000);

afterAll(async () => {
  await handle?.close();
  await pveSvc?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

function call(name: string, ...children: XmlElement[]): Promise<unknown> {
  return rpcs.get(name)!(el(HSV_NS, name, ...children), { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
}

async function updateResult(henbId: string): Promise<XmlElement> {
  await call('software-update', leaf(HSV_NS, 'henb-id', henbId), el(HSV_NS, 'software', leaf(HSV_NS, 'uri', `file://${join(dir, 'image.bin')}`), leaf(HSV_NS, 'version', '7.0.0')));
  const mine = (): XmlElement | undefined => notes.find((n) => n.name === 'software-update-result' && childText(n, HSV_NS, 'henb-id') === henbId);
  await until(() => mine() !== undefined, `the result for ${henbId}`);
  return mine()!;
}

describe('the PVE\'s reason reaches the operator', () => {
  it('a refused update names the component that is not a reference value', async () => {
    const res = await updateResult('compromised-1');
    expect(childText(res, HSV_NS, 'status')).toBe('refused');
    expect(childText(res, HSV_NS, 'reason')).toBe('PVE verdict contraindicated: component kernel is not a reference value; software-update not sent');
  }, 60_000);

  it('an integrity-request names it too', async () => {
    const out = (await call('integrity-request', leaf(HSV_NS, 'henb-id', 'compromised-1'))) as XmlElement[];
    expect(textOf(out.find((e) => e.name === 'ear-status')!)).toBe('contraindicated');
    expect(textOf(out.find((e) => e.name === 'reason')!)).toBe('component kernel is not a reference value');
  }, 60_000);
});

describe('an H(e)NB unknown to the PVE', () => {
  it('software-update: the result says the PVE does not know it (ERR_PVE_UNKNOWN_HENB), not that the PVE is unreachable', async () => {
    const res = await updateResult(unknownToPve);
    const reason = childText(res, HSV_NS, 'reason') ?? '';
    expect(childText(res, HSV_NS, 'status')).toBe('refused');
    expect(reason).toContain(`the PVE does not know H(e)NB ${unknownToPve} (ERR_PVE_UNKNOWN_HENB)`);
    expect(reason).toContain('devices file');
    expect(reason).not.toMatch(/unreachable|could not be asked|ERR_PVE_REJECTED/);
    expect(logLines.join('')).toContain('"msg":"the PVE does not know the H(e)NB"');
    expect(logLines.join('')).not.toMatch(/PVE (not reachable|unreachable)/);
  }, 60_000);

  it('integrity-request: operation-failed / unknown-henb naming the PVE', async () => {
    const err = await call('integrity-request', leaf(HSV_NS, 'henb-id', unknownToPve)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(NetconfError);
    const e = (err as NetconfError).errors[0];
    expect(e).toMatchObject({ tag: 'operation-failed', appTag: 'unknown-henb' });
    expect(e?.message).toContain(`the PVE does not know H(e)NB ${unknownToPve} (ERR_PVE_UNKNOWN_HENB)`);
  }, 60_000);
});
