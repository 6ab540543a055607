/**
 * Interop (issue 10 item 4): clients we did not write hand the reference PVE the OAM's signed reference values:
 * python3-ncclient over NETCONF/SSH (provide-reference-values, <ok/> or an rpc-error with its error-app-tag) and
 * curl over RESTCONF/HTTPS (POST, 204 or an RFC 8040 errors document). The PVE's verdict on the updated femtocell
 * (a simulated one, appraised over NETCONF) turns affirming only after the statement signed with the OAM key;
 * the ones signed with another key, replayed after a newer one or stale change nothing; the current one sent again
 * is answered ok (the OAM's retry after a lost answer). A missing python3/ncclient/curl fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import type { PveHandle } from '../../src/pve/service.js';
import { INTEGRITY_REQUEST_PATH, PROVIDE_REFERENCE_VALUES_PATH } from '../../src/pve/restconf.js';
import { signReferenceValues } from '../../src/tokens/index.js';
import type { ReferenceValuesClaimsInput, SigningKey } from '../../src/tokens/index.js';
import { runNcclient } from './helpers/ncclient.js';
import { startPveTrustingOam } from './helpers/pve-trusting-oam.js';

const run = promisify(execFile);
const IMAGE_RIM = createHash('sha256').update('interop firmware 3.0.0').digest('hex');
let dir: string;
let fleet: Fleet;
let pve: PveHandle;
let oam: SigningKey;
let other: SigningKey;
let henbs: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-interop-rv-'));
  fleet = await startFleet({ profiles: { healthy: 2 }, dataDir: join(dir, 'fleet') });
  henbs = fleet.devices.map((d) => d.henbId);
  // both femtocells install the new image (live activation: its rootfs measurement is appended)
  for (const id of henbs) {
    const cell = fleet.cell(id)!;
    const done = new Promise<void>((resolve) => { const off = cell.onCompletion(() => { off(); resolve(); }); });
    cell.startUpdate({ jobId: `job-${id}`, uri: 'file:///x', softwareRim: IMAGE_RIM, selfCheck: false, version: '3.0.0', nonce: Buffer.alloc(32, 9).toString('base64') });
    await done;
  }
  ({ pve, oam, other } = await startPveTrustingOam(dir, fleet));
}, 60_000);

afterAll(async () => {
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

function statement(henbId: string, over: Partial<ReferenceValuesClaimsInput> = {}): ReferenceValuesClaimsInput {
  return { iss: 'urn:henb-sw-verify:oam', aud: 'urn:henb-sw-verify:pve', sub: henbId, 'job-id': `job-${henbId}`, 'reference-values': [{ component: 'rootfs', digest: IMAGE_RIM, version: '3.0.0' }], ...over };
}

/** curl POST of an operation's JSON input; the status line's code and the body */
async function curlPost(path: string, body: unknown): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--cacert', join(dir, 'ca.pem'), '-X', 'POST', '-H', 'Content-Type: application/yang-data+json',
    '-H', 'Accept: application/yang-data+json', '--data-binary', JSON.stringify(body), '-w', '\n%{http_code}', `${pve.url}${path}`]);
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

async function verdict(henbId: string): Promise<string> {
  // a fresh nonce each time: the PVE answers a repeated request (same nonce and body) with the first one's outcome
  const r = await curlPost(INTEGRITY_REQUEST_PATH, { 'henb-sw-verify-pve:input': { 'henb-id': henbId, 'nonce-value': randomBytes(32).toString('base64') } });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as Record<string, Record<string, string>>)['henb-sw-verify-pve:output']!['ear-status']!;
}

describe('provide-reference-values with clients we did not write', () => {
  it('ncclient over NETCONF: another key is refused (untrusted), the OAM key is accepted (ok), sent again ok (a retry), its replay after a newer one refused', async () => {
    const [id] = henbs as [string];
    expect(await verdict(id)).toBe('contraindicated');
    const good = await signReferenceValues(statement(id), oam);
    const newer = await signReferenceValues(statement(id), oam, { now: () => Date.now() / 1000 + 1 });
    const byOther = await signReferenceValues(statement(id), other);
    const { steps, code, stderr } = await runNcclient('ncclient_provide.py', pve.netconf!.port, [byOther, good, good, newer, good], undefined, { user: 'oam', password: 'pve-secret' });
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    expect(steps.get('provide-0')).toMatchObject({ ok: false, error: { tag: 'access-denied', type: 'application', app_tag: 'reference-values-untrusted' } });
    expect(steps.get('provide-1')).toMatchObject({ ok: true });
    expect(steps.get('provide-1')!.xml as string).toMatch(/<ok\/>/);
    // the current statement again (what the OAM sends when the answer was lost): ok, nothing changed
    expect(steps.get('provide-2')).toMatchObject({ ok: true });
    expect(steps.get('provide-3')).toMatchObject({ ok: true });
    expect(steps.get('provide-4')).toMatchObject({ ok: false, error: { tag: 'invalid-value', app_tag: 'reference-values-replayed' } });
    expect(await verdict(id)).toBe('affirming');
  }, 60_000);

  it('curl over RESTCONF: 204 for the OAM key, an errors document for a stale one; the verdict follows', async () => {
    const [, id] = henbs as [string, string];
    expect(await verdict(id)).toBe('contraindicated');
    const stale = await curlPost(PROVIDE_REFERENCE_VALUES_PATH, {
      'henb-sw-verify-pve:input': { 'reference-values': await signReferenceValues(statement(id), oam, { now: () => Date.now() / 1000 - 3600, ttlSec: 86_400 }) },
    });
    expect(stale.status).toBe(400);
    expect(JSON.parse(stale.body)['ietf-restconf:errors'].error[0]).toMatchObject({
      'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'reference-values-stale',
      'error-path': '/henb-sw-verify-pve:provide-reference-values/input/reference-values',
    });
    expect(await verdict(id)).toBe('contraindicated');
    const ok = await curlPost(PROVIDE_REFERENCE_VALUES_PATH, { 'henb-sw-verify-pve:input': { 'reference-values': await signReferenceValues(statement(id), oam) } });
    expect(ok).toEqual({ status: 204, body: '' });
    expect(await verdict(id)).toBe('affirming');
  }, 60_000);
});
