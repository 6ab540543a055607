/**
 * NETCONF Call Home (RFC 8071) on loopback: simulated devices call a listener, which runs the SSH client role
 * on the accepted connection and knows a device only by its pinned host key. Every device connects from
 * 127.0.0.1, so a session that reaches the right device shows that the source address plays no part.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/simulator.js';
import { callHomeDelay, callHomeLoop } from '../../src/simulator/call-home.js';
import { createCallHomeListener } from '../../src/device/call-home.js';
import type { CallHomeListener } from '../../src/device/call-home.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { integrityMeasurementXml, parseMeasurementReply } from '../../src/device/wire.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { elements } from '../../src/netconf/xml/index.js';
import { until } from '../helpers/until.js';

let dir: string;
let fleet: Fleet;
let listener: CallHomeListener;
const lines: Array<Record<string, unknown>> = [];
let a: SimulatedDevice;
let b: SimulatedDevice;
let stranger: SimulatedDevice;

const target = (d: SimulatedDevice) => ({ host: 'ignored.invalid', port: 1, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256, callHome: true });
const enrol = (d: SimulatedDevice) => ({ henbId: d.henbId, hostKeySha256: d.hostKeySha256, username: d.username, password: d.password });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'call-home-'));
  listener = createCallHomeListener({
    host: '127.0.0.1', port: 0, handshakeTimeoutMs: 5000,
    log: createLogger({ level: 'info', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  });
  const addr = await listener.listen();
  // three devices call; only two are enrolled (after they first called: they are refused, then call again)
  fleet = await startFleet({
    profiles: { healthy: 2, 'bad-install': 1 }, dataDir: join(dir, 'fleet'),
    callHome: [{ host: '127.0.0.1', port: addr.port }], callHomeBackoff: { initialMs: 20, maxMs: 200, stableMs: 1000 },
  });
  [a, b, stranger] = [fleet.devices[0]!, fleet.devices[1]!, fleet.devices[2]!];
  listener.setDevice(enrol(a));
  listener.setDevice(enrol(b));
}, 30_000);

afterAll(async () => {
  await fleet?.close();
  await listener?.close();
  await rm(dir, { recursive: true, force: true });
});

/** the key id the device signs its evidence with (one per device: who answered) */
async function keyIdVia(l: CallHomeListener, d: SimulatedDevice): Promise<string | undefined> {
  const s = await l.connect(target(d), { timeoutMs: 5000 });
  try {
    const reply = await s.rpc(integrityMeasurementXml(randomBytes(32)));
    return parseMeasurementReply(elements(reply)).keyId;
  } finally {
    await s.close();
  }
}

describe('the call-home listener (SSH client role on the accepted connection)', () => {
  it('each enrolled device is reached by its host key, though all call from the same address', async () => {
    await until(() => listener.connection(a.henbId) !== undefined && listener.connection(b.henbId) !== undefined, 'both devices called home', 10_000);
    expect(listener.connection(a.henbId)!.remoteAddress).toBe(listener.connection(b.henbId)!.remoteAddress);
    expect(a.keyId).not.toBe(b.keyId);
    expect(await keyIdVia(listener, a)).toBe(a.keyId);
    expect(await keyIdVia(listener, b)).toBe(b.keyId);
    // two sessions at once on one connection, and the connection outlives them
    const s1 = await listener.connect(target(a), { timeoutMs: 5000 });
    const s2 = await listener.connect(target(a), { timeoutMs: 5000 });
    await s1.close();
    expect(s2.closed).toBe(false);
    await s2.close();
  });

  it('an unknown host key is refused before any credential is sent and logged with its SHA256 fingerprint', async () => {
    await until(() => (listener.refused.get(stranger.hostKeySha256) ?? 0) >= 2, 'the stranger refused (twice: it calls again)', 10_000);
    const line = lines.find((l) => l.level === 'warn' && l.fingerprint === stranger.hostKeySha256);
    expect(line?.msg).toContain('unknown host key refused');
    expect(line?.remoteAddress).toBe('127.0.0.1');
    expect([...listener.refused.keys()]).toEqual([stranger.hostKeySha256]);
    expect(listener.connection(stranger.henbId)).toBeUndefined();
    await expect(listener.connect(target(stranger), { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_DEVICE_CONFIG' });
    // refused in the key exchange: no connection was ever held for it
    expect(lines.some((l) => l.henbId === stranger.henbId && l.msg === 'device called home')).toBe(false);
  });

  it('once enrolled, the same device is accepted on its next call', async () => {
    listener.setDevice(enrol(stranger));
    await until(() => listener.connection(stranger.henbId) !== undefined, 'the enrolled device called home', 10_000);
    expect(await keyIdVia(listener, stranger)).toBe(stranger.keyId);
    listener.removeDevice(stranger.henbId);
    await until(() => listener.connection(stranger.henbId) === undefined, 'the removed device is dropped', 5000);
  });

  it('two devices pinning one host key are refused as ambiguous', () => {
    expect(() => listener.setDevice({ ...enrol(a), henbId: 'twin' })).toThrow(expect.objectContaining({ code: 'ERR_CALL_HOME_CONFIG' }) as Error);
    expect(() => listener.setDevice({ ...enrol(a), henbId: 'bad', hostKeySha256: 'SHA256:short' })).toThrow(expect.objectContaining({ code: 'ERR_CALL_HOME_CONFIG' }) as Error);
  });

  it('a session request waits for the device to call (after a cut), bounded by the connect budget', async () => {
    fleet.dropCallHome(a.henbId);
    await until(() => listener.connection(a.henbId) === undefined, 'the cut is seen', 5000);
    // it calls again within its backoff: the waiting connect resolves
    expect(await keyIdVia(listener, a)).toBe(a.keyId);
    // a device that never calls: ERR_DEVICE_TIMEOUT within the budget
    const other = createCallHomeListener({ host: '127.0.0.1', port: 0, log: silentLogger });
    other.setDevice(enrol(a));
    await expect(other.connect(target(a), { timeoutMs: 200 })).rejects.toMatchObject({ code: 'ERR_DEVICE_TIMEOUT' });
    const ac = new AbortController();
    const p = other.connect(target(a), { timeoutMs: 5000, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ERR_DEVICE_ABORTED' });
    await other.close();
  });

  it('a session asked for just after the listener ended the device\'s connection (as the kit\'s reconnect does) waits for its next call', async () => {
    // regression: the ended connection was still held until its 'close', ssh2 refused the channel at once with an
    // uncoded "Not connected", and the abandoned attempt rejected later with nobody waiting (an unhandled rejection)
    await until(() => listener.connection(a.henbId) !== undefined, 'a called home', 10_000);
    const before = listener.connection(a.henbId)!;
    listener.removeDevice(a.henbId);
    listener.setDevice(enrol(a));
    const s = await listener.connect(target(a), { timeoutMs: 5000 });
    try {
      const now = listener.connection(a.henbId)!;
      expect(now.remotePort !== before.remotePort || now.since !== before.since).toBe(true);
      expect(s.closed).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('the device driver reaches a call-home device through the listener and says how it is connected', async () => {
    const driver: NetconfDeviceDriver = createDeviceDriver({
      devices: [{ henbId: b.henbId, ...target(b) }], callHome: listener, connectTimeoutMs: 3000, rpcTimeoutMs: 3000,
    });
    try {
      await driver.connect(b.henbId);
      const c = driver.connection(b.henbId);
      expect(c?.kind).toBe('called-home');
      expect(c!.since).toBe(listener.connection(b.henbId)!.since.getTime());
      // a call-home entry is never dialled
      const plain = createDeviceDriver({ devices: [{ henbId: b.henbId, ...target(b) }], connectTimeoutMs: 500, backoff: { attempts: 1 } });
      await expect(plain.connect(b.henbId)).rejects.toMatchObject({ code: 'ERR_DEVICE_CONFIG' });
      await plain.close();
    } finally {
      await driver.close();
    }
  });
});

describe('the device side: calling home with a jittered backoff', () => {
  it('delays grow exponentially to the cap, scaled by the jitter into [1 - jitter, 1] of the step', () => {
    const o = { initialMs: 100, maxMs: 1000, jitter: 0.5 };
    expect([0, 1, 2, 3, 4, 10].map((n) => callHomeDelay(n, o, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([0, 1, 2, 3, 4].map((n) => callHomeDelay(n, o, () => 0.999999))).toEqual([50, 100, 200, 400, 500]);
    for (let n = 0; n < 40; n++) {
      const d = callHomeDelay(n, o);
      expect(d).toBeGreaterThanOrEqual(Math.min(1000, 100 * 2 ** n) / 2);
      expect(d).toBeLessThanOrEqual(1000);
    }
    expect(callHomeDelay(0, { initialMs: 100, jitter: 0 }, () => 0.7)).toBe(100);
  });

  it('a client that is not there: the loop retries with growing delays and stops with its signal', async () => {
    // a port with nothing listening
    const srv = createServer();
    const port = await new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)));
    await new Promise<void>((r) => srv.close(() => r()));
    const attempts: number[] = [];
    const ac = new AbortController();
    const log = createLogger({ level: 'debug', write: (l) => {
      const rec = JSON.parse(l) as { msg: string; inMs?: number };
      if (rec.msg === 'calling home again') attempts.push(rec.inMs!);
      if (attempts.length >= 4) ac.abort();
    } });
    await callHomeLoop({ host: '127.0.0.1', port, serve: () => true, log, signal: ac.signal, backoff: { initialMs: 10, maxMs: 80, jitter: 0 } });
    expect(attempts.slice(0, 4)).toEqual([10, 20, 40, 80]);
  });
});
