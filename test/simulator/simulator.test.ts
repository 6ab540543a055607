import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { connectDevice } from '../../src/device/connect.js';
import { extendHex, replayTim } from '../../src/simulator/model.js';
import { child, el, elements, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import { DEVICE_NS, parseSlots } from '../../src/device/wire.js';
import type { DeviceCompletion } from '../../src/oam/ports.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { withFreePort } from '../helpers/net.js';

/** the OAM's nonce for a software-update (hex text is canonical base64: 48 octets) */
const NONCE = 'a1'.repeat(32);

const RIM = createHash('sha256').update('image 2.0.0').digest('hex');
let fleet: Fleet;
const drivers: NetconfDeviceDriver[] = [];

function dev(id: string): SimulatedDevice {
  const d = fleet.devices.find((x) => x.henbId === id);
  if (!d) throw new Error(`no ${id}`);
  return d;
}

function driverFor(ids: string[], patch: Partial<SimulatedDevice> = {}, backoff = { initialMs: 50, attempts: 2 }): NetconfDeviceDriver {
  const d = createDeviceDriver({
    devices: ids.map((id) => ({ ...dev(id), ...patch })),
    connectTimeoutMs: 3000, rpcTimeoutMs: 3000, backoff,
  });
  drivers.push(d);
  return d;
}

function nextCompletion(d: NetconfDeviceDriver, jobId: string): Promise<DeviceCompletion> {
  return new Promise((resolve) => {
    const off = d.onCompletion((c) => {
      if (c.jobId === jobId) {
        off();
        resolve(c);
      }
    });
  });
}

const signal = (): AbortSignal => new AbortController().signal;

beforeAll(async () => {
  fleet = await startFleet({
    profiles: { healthy: 3, compromised: 1, 'bad-install': 1, 'self-check-fail': 1, unreachable: 1 },
    installMs: 100, rollbackMs: 10, perDeviceCredentials: true,
  });
});

afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.close()));
});

afterAll(async () => {
  await fleet.close();
});

describe('simulated fleet over NETCONF/SSH', () => {
  it('names devices <profile>-<n>, each on its own port with its own host key and credentials', () => {
    expect(fleet.devices.map((d) => d.henbId)).toEqual([
      'healthy-1', 'healthy-2', 'healthy-3', 'compromised-1', 'bad-install-1', 'self-check-fail-1', 'unreachable-1']);
    expect(new Set(fleet.devices.map((d) => d.port)).size).toBe(7);
    expect(new Set(fleet.devices.map((d) => d.hostKeySha256)).size).toBe(7);
    expect(new Set(fleet.devices.map((d) => d.password)).size).toBe(7);
    for (const d of fleet.devices) expect(d.hostKeySha256).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(Object.keys(fleet.referenceValues)).toEqual(['bootloader', 'kernel', 'rootfs', 'config']);
  });

  it('healthy: software-update answers started, the completion carries TIM == extend(TIM before, RIM)', async () => {
    const d = driverFor(['healthy-1']);
    const before = fleet.cell('healthy-1')!.tim();
    const done = nextCompletion(d, 'job-h1');
    await d.softwareUpdate('healthy-1', { jobId: 'job-h1', uri: 'https://example.test/img', softwareRim: RIM, selfCheck: true, nonce: NONCE, version: '2.0.0' }, signal());
    const c = await done;
    expect(c).toMatchObject({ henbId: 'healthy-1', jobId: 'job-h1', status: 'completed', selfCheck: 'passed' });
    expect(c.tim).toBe(extendHex(before, RIM));
    expect(replayTim(c.measurementLog ?? [])).toBe(c.tim);
    expect(c.measurementLog?.at(-1)).toEqual({ component: 'rootfs', digest: RIM });
  });

  it('state: software-slots and integrity through <get>', async () => {
    const s = await connectDevice(dev('healthy-2'), { timeoutMs: 3000 });
    try {
      const reply = await s.rpc(el(NETCONF_BASE_NS, 'get'));
      const data = child(reply, NETCONF_BASE_NS, 'data')!;
      const slots = parseSlots(child(data, DEVICE_NS, 'software-slots')!);
      expect(slots.map((x) => [x.name, x.status, x.active, x.running])).toEqual([['slot-a', 'VALID', true, true], ['slot-b', 'EMPTY', false, false]]);
      const integrity = child(data, DEVICE_NS, 'integrity')!;
      expect(elements(integrity).find((e) => e.name === 'tim')?.children[0]).toBe(fleet.cell('healthy-2')!.tim());
    } finally {
      await s.close();
    }
  });

  it('bad-install: the TIM is not the expected one and the log names rootfs; rollback restores the TIM', async () => {
    const d = driverFor(['bad-install-1']);
    const before = fleet.cell('bad-install-1')!.tim();
    const done = nextCompletion(d, 'job-b1');
    await d.softwareUpdate('bad-install-1', { jobId: 'job-b1', uri: 'file:///img', softwareRim: RIM, selfCheck: true, nonce: NONCE }, signal());
    const c = await done;
    expect(c.status).toBe('completed');
    expect(c.selfCheck).toBe('not-performed');
    expect(c.tim).not.toBe(extendHex(before, RIM));
    const last = c.measurementLog?.at(-1);
    expect(last?.component).toBe('rootfs');
    expect(last?.digest).not.toBe(RIM);

    const seen: DeviceCompletion[] = [];
    d.onCompletion((x) => seen.push(x));
    await d.rollback('bad-install-1', 'job-b1', signal());
    for (let i = 0; i < 100 && fleet.cell('bad-install-1')!.tim() !== before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(fleet.cell('bad-install-1')!.tim()).toBe(before);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]); // the rollback's own completion is not a job completion
  });

  it('self-check-fail: selfCheck failed', async () => {
    const d = driverFor(['self-check-fail-1']);
    const done = nextCompletion(d, 'job-s1');
    await d.softwareUpdate('self-check-fail-1', { jobId: 'job-s1', uri: 'file:///img', softwareRim: RIM, selfCheck: true, nonce: NONCE }, signal());
    const c = await done;
    expect(c.status).toBe('completed');
    expect(c.selfCheck).toBe('failed');
    expect(c.reason).toMatch(/rootfs/);
  });

  it('an rpc-error from the device is ERR_DEVICE_REFUSED with tag and app-tag', async () => {
    const d = driverFor(['healthy-3']);
    const done = nextCompletion(d, 'job-r1');
    await d.softwareUpdate('healthy-3', { jobId: 'job-r1', uri: 'file:///img', softwareRim: RIM, selfCheck: false, nonce: NONCE }, signal());
    await expect(d.softwareUpdate('healthy-3', { jobId: 'job-r2', uri: 'file:///img', softwareRim: RIM, selfCheck: false, nonce: NONCE }, signal()))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_REFUSED', errorTag: 'in-use', appTag: 'slot-busy' });
    await expect(d.softwareUpdate('healthy-3', { jobId: 'job-r3', uri: 'ftp://x/img', softwareRim: RIM, selfCheck: false, nonce: NONCE }, signal()))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_REFUSED', errorTag: 'invalid-value' });
    await done;
    await expect(d.rollback('healthy-3', 'job-unknown', signal()))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_REFUSED', appTag: 'job-unknown' });
  });

  it('the YANG validator rejects a bad software-rim before the handler', async () => {
    const s = await connectDevice(dev('healthy-2'), { timeoutMs: 3000 });
    try {
      await expect(s.rpc(el(DEVICE_NS, 'software-update', leaf(DEVICE_NS, 'job-id', 'j'), leaf(DEVICE_NS, 'uri', 'file:///x'),
        leaf(DEVICE_NS, 'software-rim', 'XYZ'), leaf(DEVICE_NS, 'nonce-value', NONCE)))).rejects.toMatchObject({ errors: [expect.objectContaining({ tag: 'invalid-value' })] });
      expect(fleet.cell('healthy-2')!.busy()).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('unreachable: ERR_DEVICE_UNREACHABLE after the bounded retries', async () => {
    const d = driverFor(['unreachable-1']);
    await expect(d.softwareUpdate('unreachable-1', { jobId: 'job-u1', uri: 'file:///img', softwareRim: RIM, selfCheck: false, nonce: NONCE }, signal()))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
  });

  it('a host key that is not the pinned one: ERR_DEVICE_HOST_KEY', async () => {
    const d = driverFor(['healthy-2'], { hostKeySha256: dev('healthy-3').hostKeySha256 });
    await expect(d.connect('healthy-2')).rejects.toMatchObject({ code: 'ERR_DEVICE_HOST_KEY' });
  });

  it('no pinned host key: refused before connecting (fail closed)', async () => {
    const { hostKeySha256: _drop, ...target } = dev('healthy-2');
    void _drop;
    await expect(connectDevice(target, { timeoutMs: 3000 })).rejects.toMatchObject({ code: 'ERR_DEVICE_HOST_KEY' });
  });

  it('wrong credentials: ERR_DEVICE_AUTH', async () => {
    const d = driverFor(['healthy-2'], { password: 'wrong' });
    await expect(d.connect('healthy-2')).rejects.toMatchObject({ code: 'ERR_DEVICE_AUTH' });
  });

  it('unknown device and aborted call are coded', async () => {
    const d = driverFor(['healthy-2']);
    await expect(d.softwareUpdate('nobody', { jobId: 'j', uri: 'file:///x', softwareRim: RIM, selfCheck: false, nonce: NONCE }, signal()))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_UNKNOWN' });
    const ac = new AbortController();
    ac.abort(new Error('step timeout'));
    await expect(d.softwareUpdate('healthy-2', { jobId: 'j', uri: 'file:///x', softwareRim: RIM, selfCheck: false, nonce: NONCE }, ac.signal))
      .rejects.toMatchObject({ code: 'ERR_DEVICE_ABORTED' });
  });

  it('reconnects after the session drops and gets the completion that happened meanwhile (replay)', async () => {
    const d = driverFor(['healthy-2'], {}, { initialMs: 400, attempts: 2 });
    const before = fleet.cell('healthy-2')!.tim();
    const done = nextCompletion(d, 'job-rc');
    await d.softwareUpdate('healthy-2', { jobId: 'job-rc', uri: 'file:///img', softwareRim: RIM, selfCheck: false, nonce: NONCE }, signal());
    await fleet.dropSessions('healthy-2');
    const c = await done;
    expect(c.tim).toBe(extendHex(before, RIM));
    expect(d.connected('healthy-2')).toBe(true);
  });
});

describe('fleet data dir', () => {
  it('shares one password by default and keeps host keys, device keys and credentials across restarts', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'hsv-fleet-dir-'));
    try {
      const first = await startFleet({ fleet: [{ profile: 'healthy', count: 2 }], dataDir: dir, validate: false, replay: false });
      const a = first.devices.map(({ henbId, hostKeySha256, devicePublicKey, username, password }) => ({ henbId, hostKeySha256, devicePublicKey, username, password }));
      await first.close();
      expect(a[0]!.password).toBe(a[1]!.password);
      const second = await startFleet({ fleet: [{ profile: 'healthy', count: 2 }], dataDir: dir, validate: false, replay: false });
      const b = second.devices.map(({ henbId, hostKeySha256, devicePublicKey, username, password }) => ({ henbId, hostKeySha256, devicePublicKey, username, password }));
      await second.close();
      expect(b).toEqual(a);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replaces an unreadable host key file (ssh2 cannot parse some keys it generates)', async () => {
    const { mkdtemp, mkdir, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'hsv-fleet-hk-'));
    try {
      await mkdir(join(dir, 'healthy-1'));
      await writeFile(join(dir, 'healthy-1', 'ssh_host_ed25519_key'), 'not a key');
      const f = await startFleet({ profiles: { healthy: 1 }, dataDir: dir, validate: false, replay: false });
      try {
        const s = await connectDevice(f.devices[0]!, { timeoutMs: 3000 });
        await s.close();
      } finally {
        await f.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown profile or an empty fleet with a coded error', async () => {
    await expect(startFleet({ profiles: { nope: 1 } as never })).rejects.toMatchObject({ code: 'ERR_SIM_PROFILE' });
    await expect(startFleet({ profiles: {} })).rejects.toMatchObject({ code: 'ERR_SIM_PROFILE' });
  });
});

describe('several loopback addresses (fleets larger than one address has ports)', () => {
  it('device i listens on hosts[i % n] at basePort + floor(i / n) and answers NETCONF there; firstIndex numbers them', async () => {
    // a base port free now (and base + 1), another one if a device finds its port taken: firstIndex: a second
    // process's share of a fleet names its devices apart
    const [base, f] = await withFreePort(async (port) => [port, await startFleet({ profiles: { healthy: 4 }, hosts: ['127.0.1.1', '127.0.1.2'], basePort: port, firstIndex: 11, validate: false, replay: false })] as const);
    try {
      expect(f.devices.map((d) => [d.henbId, d.host, d.port])).toEqual([
        ['healthy-11', '127.0.1.1', base], ['healthy-12', '127.0.1.2', base], ['healthy-13', '127.0.1.1', base + 1], ['healthy-14', '127.0.1.2', base + 1]]);
      for (const d of f.devices) {
        const c = await connectNetconf({ host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 });
        expect(c.serverCapabilities.some((cap) => cap.startsWith('urn:ietf:params:netconf:base:1.1'))).toBe(true);
        await c.close();
      }
    } finally {
      await f.close();
    }
  });
});

describe('unreachable in blackhole mode', () => {
  it('a device that accepts TCP but never speaks: ERR_DEVICE_TIMEOUT', async () => {
    const f = await startFleet({ profiles: { unreachable: 1 }, unreachableMode: 'blackhole', validate: false, replay: false });
    try {
      const d = createDeviceDriver({ devices: f.devices, connectTimeoutMs: 300, backoff: { attempts: 1 } });
      try {
        await expect(d.connect('unreachable-1')).rejects.toMatchObject({ code: 'ERR_DEVICE_TIMEOUT' });
      } finally {
        await d.close();
      }
    } finally {
      await f.close();
    }
  });
});

describe('devices that fetch the image', () => {
  it('completed with the right RIM; integrity-error with another; download-error when missing', async () => {
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { pathToFileURL } = await import('node:url');
    const dir = await mkdtemp(join(tmpdir(), 'hsv-img-'));
    const f = await startFleet({ profiles: { healthy: 1 }, fetchSoftware: { fileRoot: dir }, installMs: 20, replay: false });
    const d = createDeviceDriver({ devices: f.devices });
    try {
      const image = Buffer.from('firmware 2.0.0');
      await writeFile(join(dir, 'img.bin'), image);
      const uri = pathToFileURL(join(dir, 'img.bin')).href;
      const rim = createHash('sha256').update(image).digest('hex');
      const before = f.cell('healthy-1')!.tim();

      const wrong = nextCompletion(d, 'job-f1');
      await d.softwareUpdate('healthy-1', { jobId: 'job-f1', uri, softwareRim: RIM, selfCheck: true, nonce: NONCE }, signal());
      expect(await wrong).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^integrity-error/) });
      expect(f.cell('healthy-1')!.tim()).toBe(before);

      const missing = nextCompletion(d, 'job-f2');
      await d.softwareUpdate('healthy-1', { jobId: 'job-f2', uri: pathToFileURL(join(dir, 'none.bin')).href, softwareRim: rim, selfCheck: true, nonce: NONCE }, signal());
      expect(await missing).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^download-error/) });

      const ok = nextCompletion(d, 'job-f3');
      await d.softwareUpdate('healthy-1', { jobId: 'job-f3', uri, softwareRim: rim, selfCheck: true, nonce: NONCE }, signal());
      expect(await ok).toMatchObject({ status: 'completed', selfCheck: 'passed', tim: extendHex(before, rim) });
    } finally {
      await d.close();
      await f.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
