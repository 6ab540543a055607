/**
 * Interop (issue 10): the PVE keeps each TPM device's last TPM clock, with a real TPM 2.0 (swtpm; the simulated
 * femtocell's trust root tpm). Each integrity-request's token carries the quote's TPMS_CLOCK_INFO (`tpm-clock`):
 * the second quote of a running TPM says `rebooted: false` with the same counters and a later clock; a device that
 * reboots (rolled back, so its swtpm is power-cycled and the boot chain measured again) says `rebooted: true` with
 * resetCount advanced; the record survives a PVE restart; and a quote whose clock is behind the recorded one
 * without a reset (what a TPM state restored from an older copy gives; here the record is moved ahead instead)
 * is refused. A missing swtpm or tpm2-tools fails (scripts/install-peers.sh installs them).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createPveClient, startPve } from '../../src/pve/index.js';
import type { PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { decodeResultUnverified, newNonce } from '../../src/tokens/index.js';
import type { EarClaims, EarSubmod } from '../../src/tokens/index.js';

const ID = 'healthy-tpm-1';
let dir: string;
let fleet: Fleet;
let pve: PveHandle;
let client: RestconfPveClient;

async function startThePve(): Promise<void> {
  pve = await startPve({ listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: fleet.devices.map((d) => ({ ...d })), referenceValues: fleet.referenceValues });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 20_000 });
}
async function stopThePve(): Promise<void> {
  client.close();
  await pve.close();
}
async function check(): Promise<{ earStatus: string; reason?: string; sub: EarSubmod }> {
  const r = await client.integrityRequest({ henbId: ID, nonce: newNonce(), jobId: 'clock-probe' }, new AbortController().signal);
  return { earStatus: r.earStatus, ...(r.reason !== undefined ? { reason: r.reason } : {}), sub: (decodeResultUnverified(r.token).claims as unknown as EarClaims).submods.platform! };
}
/** the device reboots: a live update, then a rollback by hand (its swtpm is power-cycled at the next quote) */
async function reboot(n: number): Promise<void> {
  const cell = fleet.cell(ID)!;
  const once = (): Promise<void> => new Promise((resolve) => { const off = cell.onCompletion(() => { off(); resolve(); }); });
  let done = once();
  cell.startUpdate({ jobId: `clock-${n}`, uri: 'file:///x', softwareRim: createHash('sha256').update(`clock ${n}`).digest('hex'), selfCheck: false, version: '9.9', nonce: Buffer.alloc(32, n).toString('base64') });
  await done;
  done = once();
  cell.rollback();
  await done;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-clock-'));
  fleet = await startFleet({ fleet: [{ profile: 'healthy', count: 1, trustRoot: 'tpm' }], dataDir: join(dir, 'fleet') });
  await startThePve();
}, 60_000);

afterAll(async () => {
  await stopThePve().catch(() => undefined);
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('the PVE and the TPM clock of a swtpm-rooted femtocell', () => {
  let first: EarSubmod['tpm-clock'];

  it('two quotes of a running TPM: the same counters, the clock moves on, rebooted false', async () => {
    const a = await check();
    expect(a.earStatus).toBe('affirming');
    expect(a.sub.rebooted).toBeUndefined();
    first = a.sub['tpm-clock']!;
    expect(first).toMatchObject({ 'reset-count': expect.any(Number), 'restart-count': expect.any(Number), clock: expect.any(Number) });
    const b = await check();
    expect(b).toMatchObject({ earStatus: 'affirming', sub: { rebooted: false } });
    expect(b.sub['tpm-clock']!['reset-count']).toBe(first['reset-count']);
    expect(b.sub['tpm-clock']!['restart-count']).toBe(first['restart-count']);
    expect(b.sub['tpm-clock']!.clock).toBeGreaterThanOrEqual(first.clock);
  });

  it('the device reboots (swtpm power-cycled, boot chain measured again): rebooted true, resetCount advanced', async () => {
    await reboot(1);
    const r = await check();
    expect(r).toMatchObject({ earStatus: 'affirming', sub: { rebooted: true } });
    expect(r.sub['tpm-clock']!['reset-count']).toBeGreaterThan(first!['reset-count']);
  });

  it('the record survives a PVE restart: the next quote is compared with it', async () => {
    await stopThePve();
    await startThePve();
    expect(await check()).toMatchObject({ earStatus: 'affirming', sub: { rebooted: false } });
  });

  it('a quote whose clock is behind the recorded one without a reset is refused; after a reboot the device is affirmed again', async () => {
    await stopThePve();
    const file = join(dir, 'pve', 'tpm-clock', 'clocks.json');
    const doc = JSON.parse(await readFile(file, 'utf8')) as { devices: Record<string, { clock: number }> };
    const seen = doc.devices[ID]!.clock;
    doc.devices[ID]!.clock = seen + 3_600_000;
    await writeFile(file, JSON.stringify(doc));
    await startThePve();
    const r = await check();
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toMatch(/^evidence-invalid: the TPM clock went backwards \(\d+ ms, previously \d+ ms\) without a reset or restart: a restored \(rolled back\) TPM state or a replayed quote$/);
    await reboot(2);
    expect(await check()).toMatchObject({ earStatus: 'affirming', sub: { rebooted: true } });
  });
});
