import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import {
  COMPROMISED_KERNEL, Femtocell, UPDATED_COMPONENT, extendHex, factoryReferenceValues, jwkThumbprint, replayTim,
  verifyEvidence,
} from '../../src/simulator/model.js';
import type { Completion, DeviceProfile } from '../../src/simulator/model.js';

/** the OAM's nonce for a software-update (hex text is canonical base64: 48 octets) */
const NONCE = 'a1'.repeat(32);

const RIM = createHash('sha256').update('image-2.0.0').digest('hex');
const devices: Femtocell[] = [];
function make(profile: DeviceProfile, extra: Partial<ConstructorParameters<typeof Femtocell>[0]> = {}): Femtocell {
  const d = new Femtocell({ henbId: `${profile}-1`, profile, installMs: 1000, ...extra });
  devices.push(d);
  return d;
}

async function update(d: Femtocell, selfCheck = true, jobId = 'job-1'): Promise<Completion> {
  const done = new Promise<Completion>((resolve) => d.onCompletion(resolve));
  expect(d.startUpdate({ jobId, uri: 'file:///img', softwareRim: RIM, selfCheck, version: '2.0.0', nonce: NONCE }))
    .toEqual({ status: 'started', slot: 'slot-b' });
  await vi.advanceTimersByTimeAsync(1000);
  return done;
}

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => {
  for (const d of devices.splice(0)) d.close();
  vi.useRealTimers();
});

describe('measurement arithmetic', () => {
  it('extend is SHA-256 over the raw bytes of old || digest', () => {
    const old = '00'.repeat(32);
    const d = 'ab'.repeat(32);
    const want = createHash('sha256').update(Buffer.concat([Buffer.from(old, 'hex'), Buffer.from(d, 'hex')])).digest('hex');
    expect(extendHex(old, d)).toBe(want);
  });

  it('TIM is the replay of the measurement log', () => {
    const d = make('healthy');
    const log = d.measurementLog();
    expect(log.map((e) => e.component)).toEqual(['bootloader', 'kernel', 'rootfs', 'config']);
    let t = '0'.repeat(64);
    for (const e of log) t = extendHex(t, e.digest);
    expect(d.tim()).toBe(t);
    expect(replayTim(log)).toBe(t);
  });
});

describe('evidence', () => {
  it('is signed over nonce || TIM || log digest and verifies with the device key only', () => {
    const d = make('healthy');
    const other = make('healthy');
    const nonce = randomBytes(32);
    const ev = d.measure(nonce);
    expect(ev.tim).toBe(d.tim());
    expect(verifyEvidence(ev, d.publicKeyPem())).toBe(true);
    expect(verifyEvidence(ev, other.publicKey)).toBe(false);
    expect(verifyEvidence({ ...ev, nonce: randomBytes(32) }, d.publicKey)).toBe(false);
    expect(verifyEvidence({ ...ev, tim: extendHex(ev.tim, ev.tim) }, d.publicKey)).toBe(false);
    expect(replayTim(ev.log)).toBe(ev.tim);
    expect(d.keyId()).toBe(jwkThumbprint(d.publicKey));
    expect(d.keyId()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a nonce outside 16..64 octets', () => {
    expect(() => make('healthy').measure(randomBytes(8))).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_BAD_NONCE' }));
    expect(() => make('healthy').measure(randomBytes(65))).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_BAD_NONCE' }));
  });

  it('compromised: a kernel digest that is not in the reference values', () => {
    const ev = make('compromised').measure(randomBytes(16));
    const ref = factoryReferenceValues();
    const kernel = ev.log.find((e) => e.component === 'kernel');
    expect(kernel?.digest).toBe(COMPROMISED_KERNEL);
    expect(ref.kernel).not.toContain(COMPROMISED_KERNEL);
    for (const e of ev.log.filter((x) => x.component !== 'kernel')) expect(ref[e.component]).toContain(e.digest);
  });
});

describe('software update', () => {
  it('healthy: TIM after install == extend(TIM before, software RIM); slots switch', async () => {
    const d = make('healthy');
    const before = d.tim();
    const c = await update(d);
    expect(c).toMatchObject({ henbId: 'healthy-1', jobId: 'job-1', status: 'completed', kind: 'update', selfCheck: 'passed', slot: 'slot-b', softwareVersion: '2.0.0' });
    expect(c.tim).toBe(extendHex(before, RIM));
    expect(c.tim).toBe(d.tim());
    expect(c.measurementLog?.at(-1)).toEqual({ component: UPDATED_COMPONENT, digest: RIM });
    expect(replayTim(c.measurementLog ?? [])).toBe(c.tim);
    expect(d.slots()).toEqual([
      expect.objectContaining({ name: 'slot-a', status: 'VALID', active: false, running: false }),
      expect.objectContaining({ name: 'slot-b', status: 'VALID', active: true, running: true, version: '2.0.0', rim: RIM }),
    ]);
  });

  it('answers started at once and completes only after the install time', async () => {
    const d = make('healthy');
    const seen: Completion[] = [];
    d.onCompletion((c) => seen.push(c));
    d.startUpdate({ jobId: 'j', uri: 'file:///x', softwareRim: RIM, selfCheck: false, nonce: NONCE });
    expect(d.busy()).toBe(true);
    await vi.advanceTimersByTimeAsync(999);
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.selfCheck).toBe('not-performed');
  });

  it('refuses a second install while busy, a reused job id and a bad RIM, changing nothing', async () => {
    const d = make('healthy');
    const tim = d.tim();
    expect(() => d.startUpdate({ jobId: 'j', uri: 'u', softwareRim: 'XYZ', selfCheck: false, nonce: NONCE }))
      .toThrow(expect.objectContaining({ code: 'ERR_DEVICE_BAD_RIM' }));
    expect(d.busy()).toBe(false);
    d.startUpdate({ jobId: 'j', uri: 'u', softwareRim: RIM, selfCheck: false, nonce: NONCE });
    expect(() => d.startUpdate({ jobId: 'k', uri: 'u', softwareRim: RIM, selfCheck: false, nonce: NONCE }))
      .toThrow(expect.objectContaining({ code: 'ERR_DEVICE_BUSY' }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(() => d.startUpdate({ jobId: 'j', uri: 'u', softwareRim: RIM, selfCheck: false, nonce: NONCE }))
      .toThrow(expect.objectContaining({ code: 'ERR_DEVICE_DUPLICATE_JOB' }));
    expect(d.tim()).toBe(extendHex(tim, RIM));
  });

  it('bad-install: TIM is not the expected one, the log names the component, no self-check', async () => {
    const d = make('bad-install');
    const before = d.tim();
    const c = await update(d, true);
    expect(c.status).toBe('completed');
    expect(c.selfCheck).toBe('not-performed');
    expect(c.tim).not.toBe(extendHex(before, RIM));
    const last = c.measurementLog?.at(-1);
    expect(last?.component).toBe('rootfs');
    expect(last?.digest).not.toBe(RIM);
    expect(replayTim(c.measurementLog ?? [])).toBe(c.tim);
  });

  it('self-check-fail: the device detects the mismatch, marks the slot INVALID and keeps the old one running', async () => {
    const d = make('self-check-fail');
    const before = d.tim();
    const c = await update(d, true);
    expect(c.selfCheck).toBe('failed');
    expect(c.status).toBe('self-check-failed');
    expect(c.expectedTim).toBe(extendHex(before, RIM));
    expect(c.tim).not.toBe(c.expectedTim);
    expect(c.reason).toMatch(/rootfs/);
    expect(d.slots()).toEqual([
      expect.objectContaining({ name: 'slot-a', status: 'VALID', active: true, running: true }),
      expect.objectContaining({ name: 'slot-b', status: 'INVALID', active: false }),
    ]);
  });

  it('slow: the install takes the slow time', async () => {
    const d = make('slow', { slowInstallMs: 60_000 });
    const seen: Completion[] = [];
    d.onCompletion((c) => seen.push(c));
    d.startUpdate({ jobId: 'j', uri: 'u', softwareRim: RIM, selfCheck: false, nonce: NONCE });
    await vi.advanceTimersByTimeAsync(59_999);
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toHaveLength(1);
  });

  it('close cancels a pending install', async () => {
    const d = make('healthy');
    const seen: Completion[] = [];
    d.onCompletion((c) => seen.push(c));
    d.startUpdate({ jobId: 'j', uri: 'u', softwareRim: RIM, selfCheck: false, nonce: NONCE });
    d.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('rollback', () => {
  async function rollback(d: Femtocell, jobId?: string): Promise<Completion> {
    const done = new Promise<Completion>((resolve) => d.onCompletion((c) => { if (c.kind === 'rollback') resolve(c); }));
    const r = d.rollback(jobId);
    expect(r.status).toBe('started');
    await vi.advanceTimersByTimeAsync(10);
    return done;
  }

  it('reboots into the previous slot: TIM and log are the pre-update ones, reported as a completion', async () => {
    const d = make('bad-install');
    const before = d.tim();
    const log = d.measurementLog();
    await update(d);
    expect(d.tim()).not.toBe(before);
    expect(() => d.rollback('job-x')).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_JOB_UNKNOWN' }));
    const c = await rollback(d, 'job-1');
    expect(c).toMatchObject({ jobId: 'job-1', kind: 'rollback', status: 'completed', tim: before, slot: 'slot-a', softwareVersion: '1.0.0' });
    expect(c.measurementLog).toEqual(log);
    expect(d.tim()).toBe(before);
    expect(d.slots()[0]).toMatchObject({ active: true, running: true });
    expect(d.slots()[1]).toMatchObject({ status: 'VALID', active: false, running: false });
    expect(() => d.rollback()).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_NO_ROLLBACK' }));
  });

  it('after a failed self-check keeps the running slot and restores the TIM', async () => {
    const d = make('self-check-fail');
    const before = d.tim();
    await update(d);
    const c = await rollback(d, 'job-1');
    expect(c.tim).toBe(before);
    expect(c.slot).toBe('slot-a');
  });

  it('nothing to roll back on a fresh device; busy during an install', () => {
    const d = make('healthy');
    expect(() => d.rollback()).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_NO_ROLLBACK' }));
    d.startUpdate({ jobId: 'j', uri: 'u', softwareRim: RIM, selfCheck: false, nonce: NONCE });
    expect(() => d.rollback('j')).toThrow(expect.objectContaining({ code: 'ERR_DEVICE_BUSY' }));
  });
});
