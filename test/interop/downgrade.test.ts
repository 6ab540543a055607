/**
 * Interop (issue 10): a software downgrade outside the OAM. Each femtocell (one with a software key, one rooted in
 * swtpm) is updated to 2.0.0 through the OAM (verified: /hsv:henbs records 2.0.0). Then ncclient, a NETCONF client
 * we did not write, rolls it back by hand on the device's own NETCONF server (the device module's rollback without
 * a job-id: the OAM is not told) and asks the OAM for an integrity-request. The PVE affirms the evidence (the
 * factory release's digests are reference values), the OAM refuses it: ear-status contraindicated with a reason
 * naming both versions and the rootfs digest, the H(e)NB quarantined in /hsv:henbs, one integrity-alarm on the
 * henb-sw-verify stream. The remedy, the verified release again through the OAM, verifies (its expected RIM derives
 * from the attested TIM) and the next integrity-request affirms. A missing python3/ncclient or swtpm fails (scripts/install-peers.sh installs them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoStack } from '../../src/cli/commands/demo.js';
import type { DemoStack } from '../../src/cli/commands/demo.js';
import { connectRolloutTarget } from '../../src/cli/rollout/netconf-target.js';
import type { RolloutConnection } from '../../src/cli/commands/rollout.js';
import type { DeviceResult } from '../../src/cli/rollout/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { factoryComponents } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';
import { runNcclient } from './helpers/ncclient.js';

let dir: string;
let stack: DemoStack;
let conn: RolloutConnection;
const signal = new AbortController().signal;
const fleet = (): Fleet => stack.fleet as unknown as Fleet;

async function update(henbId: string): Promise<DeviceResult> {
  const s = await conn.start(henbId, signal);
  return 'jobId' in s && !('status' in s) ? conn.wait(henbId, s.jobId, signal) : (s as DeviceResult);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-downgrade-'));
  stack = await startDemoStack({
    fleet: [{ profile: 'healthy', count: 1 }, { profile: 'healthy', count: 1, trustRoot: 'tpm' }],
    listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'demo'), adminPassword: 'dg-admin-pw', env: {}, log: silentLogger,
  });
  conn = await connectRolloutTarget({
    host: stack.server.address.host, port: stack.server.address.port, username: 'admin', password: 'dg-admin-pw',
    hostKey: stack.server.fingerprint, software: { uri: stack.softwareUri, version: '2.0.0' }, selfCheck: true, log: silentLogger, signal,
  });
}, 120_000);

afterAll(async () => {
  await conn?.close();
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a downgrade outside the OAM, found by an integrity-request', () => {
  for (const henbId of ['healthy-1', 'healthy-tpm-1']) {
    it(`${henbId}: verified 2.0.0, rolled back by hand to 1.0.0 -> contraindicated naming both versions, quarantined, an integrity-alarm; updated again -> verified, affirming, trusted`, async () => {
      const r = await update(henbId);
      expect(r.status, r.reason).toBe('verified');
      const d = fleet().devices.find((x) => x.henbId === henbId)!;
      const run = await runNcclient('ncclient_downgrade.py', stack.server.address.port,
        [String(d.port), d.username, d.password ?? '', henbId], undefined, { user: 'admin', password: 'dg-admin-pw' });
      expect(run.steps.get('exception'), run.stderr).toBeUndefined();
      expect(run.code, run.stderr).toBe(0);
      expect(run.steps.get('rollback')).toMatchObject({ error: null });
      expect(run.steps.get('rollback')!.xml as string).toMatch(/<status[^>]*>started<\/status>/);
      // the device itself says it runs 1.0.0 again
      expect(run.steps.get('device-rolled-back')!.xml as string).toMatch(/<software-version[^>]*>1\.0\.0<\/software-version>/);

      const ir = run.steps.get('integrity-request')!;
      expect(ir.error).toBeNull();
      const xml = ir.xml as string;
      expect(xml).toMatch(/<ear-status[^>]*>contraindicated<\/ear-status>/);
      expect(xml).toContain('software version 1.0.0 attested, 2.0.0 recorded for the H(e)NB');
      expect(xml).toContain(`its rootfs measures ${factoryComponents().rootfs}`);

      const alarm = run.steps.get('alarm')!.xml as string | null;
      expect(alarm).toMatch(/<integrity-alarm xmlns="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify">/);
      expect(alarm).toContain(`<henb-id>${henbId}</henb-id>`);
      expect(alarm).toMatch(/<job-id>ir-[0-9a-f-]+<\/job-id>/);
      expect(alarm).toMatch(/<severity>critical<\/severity>/);
      expect(alarm).toContain('software version 1.0.0 attested, 2.0.0 recorded');

      const henbs = run.steps.get('henbs')!.xml as string;
      const entry = henbs.slice(henbs.indexOf(`<henb-id>${henbId}</henb-id>`));
      expect(entry.slice(0, entry.indexOf('</henb>'))).toMatch(/<software-version>2\.0\.0<\/software-version>[\s\S]*<state>quarantined<\/state>/);

      // the remedy: the verified release again through the OAM (its expected RIM derives from the attested TIM),
      // after which an integrity-request affirms and lifts the quarantine
      const again = await update(henbId);
      expect(again.status, again.reason).toBe('verified');
      const after = await runNcclient('ncclient_downgrade.py', stack.server.address.port,
        [String(d.port), d.username, d.password ?? '', henbId, 'check-only'], undefined, { user: 'admin', password: 'dg-admin-pw' });
      expect(after.code, after.stderr).toBe(0);
      expect(after.steps.get('integrity-request')!.xml as string).toMatch(/<ear-status[^>]*>affirming<\/ear-status>/);
      expect(after.steps.get('alarm')!.xml).toBeNull();
      const now = after.steps.get('henbs')!.xml as string;
      const e2 = now.slice(now.indexOf(`<henb-id>${henbId}</henb-id>`));
      expect(e2.slice(0, e2.indexOf('</henb>'))).toMatch(/<software-version>2\.0\.0<\/software-version>[\s\S]*<state>trusted<\/state>/);
    }, 90_000);
  }
});
