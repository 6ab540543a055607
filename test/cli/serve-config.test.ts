// serve from a config file, as deployed: a real PVE and simulated devices named in the config, a user from
// the config, an extra plugin (--plugin), and a rollout over the server's own inventory.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { childText, el } from '../../src/netconf/xml/index.js';
import type { RolloutReport } from '../../src/cli/rollout/report.js';
import { until } from '../helpers/until.js';

const echoPlugin = fileURLToPath(new URL('../plugin/fixtures/echo-plugin', import.meta.url));
let dir: string;
let fleet: Fleet;
let pve: PveHandle;
const stop = new AbortController();
let serving: Promise<number>;
let port = 0;
let hostKey = '';
const env = { NMS_PW: 'nms-secret', DEV_PW: '', HENB_SW_VERIFY_ADMIN_PASSWORD: 'admin-secret' };
const ROOT = fileURLToPath(new URL('../../', import.meta.url));


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-serve-config-'));
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 2 }, { profile: 'bad-install', count: 1 }], dataDir: join(dir, 'fleet') });
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices, referenceValues: fleet.referenceValues });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));
  env.DEV_PW = fleet.devices[0]!.password;
  const henbs = fleet.devices.map((d) => `  - henb-id: ${d.henbId}\n    address: ${d.host}\n    port: ${d.port}\n    ssh-host-key: ${d.hostKeySha256}\n    username: ${d.username}\n    password: { env: DEV_PW }\n`).join('');
  await mkdir(join(dir, 'sw'));
  await writeFile(join(dir, 'sw', 'image.bin'), 'image 2.0.0\n');
  await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0
data-dir: oam
logging: { level: warn }
users:
  - name: nms
    password: { env: NMS_PW }
    groups: [operator]
  - name: fresh
    password: { env: NMS_PW }
henbs:
${henbs}pve:
  endpoint: ${pve.url}
  ca: ${pve.caPath}
  jwks: pve-jwks.json
software:
  file-root: sw
policies:
  step-timeout: 20
plugins:
  - path: ${echoPlugin}
    config: { greeting: hi }
`);
  const out = new BufferWritable();
  serving = runCli(['serve', '--config', join(dir, 'config.yaml'), '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: stop.signal });
  await until(() => out.text().includes('\n'), 'the ready line');
  const ready = JSON.parse(out.text()) as { port: number; hostKey: string };
  port = ready.port;
  hostKey = ready.hostKey;
  // the administrator (group admin, permitted everything on first start) loads the operator role
  const admin = await connectNetconf({ host: '127.0.0.1', port, username: 'admin', password: 'admin-secret', hostKeySha256: hostKey });
  try {
    const operator = await readFile(join(ROOT, 'examples', 'nacm', 'operator.xml'), 'utf8');
    await admin.rpc(`<edit-config><target><running/></target><config>${operator}</config></edit-config>`);
  } finally {
    await admin.close();
  }
}, 60_000);

afterAll(async () => {
  stop.abort();
  expect(await serving).toBe(0);
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('serve --config', () => {
  it('a config user logs in; the extra plugin answers with its configured greeting', async () => {
    const c = await connectNetconf({ host: '127.0.0.1', port, username: 'nms', password: 'nms-secret', hostKeySha256: hostKey });
    try {
      const reply = await c.rpc(el('urn:test:echo', 'echo'));
      expect(childText(reply, 'urn:test:echo', 'greeting')).toBe('hi');
    } finally {
      await c.close();
    }
  });

  it('a user with no group cannot start updates: rollout reports every H(e)NB rejected by the OAM (access-denied), not refused by the PVE', async () => {
    const stdout = new BufferWritable();
    const code = await runCli(['rollout', '--server', `127.0.0.1:${port}`, '--host-key', hostKey, '--user', 'fresh', '--password-env', 'NMS_PW',
      '--software', `file://${join(dir, 'sw', 'image.bin')}`, '--report', join(dir, 'refused.json'), '--json'], { stdout, stderr: new BufferWritable(), env, signal: new AbortController().signal });
    expect(code).not.toBe(0);
    const r = JSON.parse(await readFile(join(dir, 'refused.json'), 'utf8')) as RolloutReport;
    expect(r.devices.map((d) => d.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(JSON.stringify(r)).toContain('access-denied');
  }, 60_000);

  it('rollout under the operator role (examples/nacm/operator.xml): healthy verified, bad-install mismatch', async () => {
    const report = join(dir, 'report.json');
    const stdout = new BufferWritable();
    const code = await runCli(['rollout', '--server', `127.0.0.1:${port}`, '--host-key', hostKey, '--user', 'nms', '--password-env', 'NMS_PW',
      '--software', `file://${join(dir, 'sw', 'image.bin')}`, '--report', report, '--json'], { stdout, stderr: new BufferWritable(), env, signal: new AbortController().signal });
    expect(code).toBe(1);
    const r = JSON.parse(await readFile(report, 'utf8')) as RolloutReport;
    expect(Object.fromEntries(r.devices.map((d) => [d.henbId, d.status]))).toEqual({ 'healthy-1': 'verified', 'healthy-2': 'verified', 'bad-install-1': 'mismatch' });
  }, 60_000);
});
