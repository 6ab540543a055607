/**
 * Nothing lost to load (issue 15): the PVE's answer lost after it received the request. A proxy between the OAM and
 * the PVE resets the connection when the PVE is about to answer, the first time for the pre-update check (step 3)
 * and the first time for the completion appraisal (step 8). The OAM sends each request again with the same nonce and
 * body; the PVE answers the repeat with the first request's outcome. The job ends verified, and the PVE appraised
 * (and signed) once per step. Over RESTCONF/HTTPS and over NETCONF/SSH, and with relayed evidence (pve.evidence:
 * relay), where a PVE without the rule would refuse the repeat's nonce as reused.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { childText, el, leaf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { HSV_NS } from '../../src/oam-plugin/index.js';
import { verifyTokenCli } from '../../src/tokens/index.js';
import { startCutProxy } from '../helpers/cut-proxy.js';
import type { CutProxy } from '../helpers/cut-proxy.js';
import { activateOam, closeE2e } from '../helpers/oam-e2e.js';
import type { RecordingRegistry } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const PRE = 'integrity-request appraised';
const POST = 'completion appraised';
const REPEAT = 'integrity-request repeated: answered with the first one\'s outcome';

let dir: string;
let fleet: Fleet;
let pveSvc: PveHandle;
let proxy: CutProxy | undefined;
let handle: PluginHandle | undefined;
/** the PVE's log messages, in order */
let said: string[] = [];

/** the PVE's log: counted, and the proxy armed the first time each step's appraisal is done (its answer is next) */
const pveLog = createLogger({
  level: 'info',
  write: (line) => {
    const msg = (JSON.parse(line) as { msg: string }).msg;
    said.push(msg);
    if ((msg === PRE || msg === POST) && said.filter((m) => m === msg).length === 1) proxy?.arm();
  },
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-e2e-pve-reset-'));
  fleet = await startFleet({ profiles: { healthy: 3 }, dataDir: join(dir, 'fleet') });
  pveSvc = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues,
    deviceTimeoutMs: 3000, netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] }, log: pveLog,
  });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pveSvc.jwks));
  await writeFile(join(dir, 'image.bin'), Buffer.from('firmware 6.0.0 '.repeat(500)));
}, 60_000);

afterEach(async () => {
  await handle?.close();
  handle = undefined;
  await proxy?.close();
  proxy = undefined;
});

afterAll(() => closeE2e({ pve: pveSvc, fleet, dir }), 30_000);

async function startOam(pve: OamPluginConfig['pve'], sub: string): Promise<RecordingRegistry> {
  const started = await activateOam(fleet, dir, pve, sub);
  handle = started.handle;
  return started.registry;
}

/** a software update of `henbId`, to its result notification */
async function updated({ rpcs, notes }: RecordingRegistry, henbId: string): Promise<XmlElement> {
  await rpcs.get('software-update')!(el(HSV_NS, 'software-update', leaf(HSV_NS, 'henb-id', henbId),
    el(HSV_NS, 'software', leaf(HSV_NS, 'uri', pathToFileURL(join(dir, 'image.bin')).href), leaf(HSV_NS, 'version', '6.0.0'))),
  { sessionId: 1, username: 'admin', signal: new AbortController().signal, log: silentLogger });
  await until(() => notes.some((n) => n.name === 'software-update-result'), 'the result');
  return notes.find((n) => n.name === 'software-update-result')!;
}

/** the job verified; the PVE appraised once per step, answered two repeats; the proxy lost two answers */
async function expectVerifiedOnce(res: XmlElement, sub: string): Promise<void> {
  expect(childText(res, HSV_NS, 'reason') ?? '').toBe('');
  expect(childText(res, HSV_NS, 'status')).toBe('verified');
  expect(proxy!.resets).toBe(2);
  expect(said.filter((m) => m === PRE)).toHaveLength(1);
  expect(said.filter((m) => m === POST)).toHaveLength(1);
  expect(said.filter((m) => m === REPEAT)).toHaveLength(2);
  const { claims } = await verifyTokenCli(childText(res, HSV_NS, 'attestation-result')!, join(dir, sub, 'keys', 'jwks.json'));
  expect(claims.ear_status).toBe('affirming');
}

describe('the PVE answer lost after the request arrived (connection reset by a proxy)', () => {
  it('RESTCONF: steps 3 and 8 sent again with the same nonce; verified, each appraised once', async () => {
    said = [];
    proxy = await startCutProxy(pveSvc.port);
    const registry = await startOam({ endpoint: `https://127.0.0.1:${proxy.port}`, ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10 }, 'oam-rc');
    await expectVerifiedOnce(await updated(registry, fleet.devices[0]!.henbId), 'oam-rc');
  }, 60_000);

  it('NETCONF: the same over SSH sessions', async () => {
    said = [];
    proxy = await startCutProxy(pveSvc.netconf!.port);
    const registry = await startOam({
      endpoint: `ssh://127.0.0.1:${proxy.port}`, transport: 'netconf', 'ssh-host-key': pveSvc.netconf!.hostKeySha256,
      username: 'oam', password: 'pve-secret', jwks: join(dir, 'pve-jwks.json'), timeout: 10,
    }, 'oam-nc');
    await expectVerifiedOnce(await updated(registry, fleet.devices[1]!.henbId), 'oam-nc');
  }, 60_000);

  it('relayed evidence (pve.evidence: relay): the repeat is not refused as nonce-reused', async () => {
    said = [];
    proxy = await startCutProxy(pveSvc.port);
    const registry = await startOam({ endpoint: `https://127.0.0.1:${proxy.port}`, ca: pveSvc.caPath, jwks: join(dir, 'pve-jwks.json'), timeout: 10, evidence: 'relay' }, 'oam-relay');
    await expectVerifiedOnce(await updated(registry, fleet.devices[2]!.henbId), 'oam-relay');
  }, 60_000);
});
