/**
 * Nothing lost to load (issue 15): transient connection failures towards a device are retried with full-jitter
 * exponential backoff within the step's deadline; the clock, the sleep and the jitter are injected (no real
 * sleeping), so the delays are checked exactly. A loopback test resets real TCP connections.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { DeviceConnectError } from '../../src/device/connect.js';
import type { DeviceConnector, DeviceSession } from '../../src/device/connect.js';
import { startedReplyXml } from '../../src/device/wire.js';
import { el } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';

const NONCE = 'a1'.repeat(32);
const cmd = { jobId: 'job-1', uri: 'file:///x', softwareRim: 'ab'.repeat(32), selfCheck: true, nonce: NONCE };
const dev = { henbId: 'h1', host: '127.0.0.1', port: 1, username: 'u', password: 'p', hostKeySha256: 'SHA256:x' };

/** a session that answers create-subscription and software-update ("started") and records what was sent */
function okSession(sent: XmlElement[]): DeviceSession {
  let closed = false;
  let end!: () => void;
  const ended = new Promise<void>((r) => { end = r; });
  return {
    async rpc(op) {
      sent.push(op);
      return el(NETCONF_BASE_NS, 'rpc-reply', op.name === 'software-update' ? startedReplyXml({ status: 'started' }) : []);
    },
    notifications: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => { await ended; return { value: undefined, done: true as const }; } }) }),
    get closed() { return closed; },
    whenClosed: () => ended.then(() => undefined),
    async close() { closed = true; end(); },
  };
}

/** an injected clock: sleep advances it by the delay, and records the delay */
function fakeClock(start = 1_000_000): { now: () => number; sleep: (ms: number, s: AbortSignal) => Promise<void>; delays: number[] } {
  let t = start;
  const delays: number[] = [];
  return {
    now: () => t,
    delays,
    sleep: async (ms, s) => {
      if (s.aborted) throw s.reason as Error;
      delays.push(ms);
      t += ms;
    },
  };
}

let driver: NetconfDeviceDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

describe('device connection retry with full-jitter backoff (injected transport, clock and RNG)', () => {
  it('resets N times then succeeds: the update is accepted after N+1 attempts, delays jittered and bounded', async () => {
    const N = 6;
    let tries = 0;
    const sent: XmlElement[] = [];
    const connector: DeviceConnector = async () => {
      tries++;
      if (tries <= N) throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'cannot reach 127.0.0.1:1 (ECONNRESET)');
      return okSession(sent);
    };
    const clock = fakeClock();
    const rolls = [0.9, 0.1, 0.5, 0.99, 0.0, 0.75];
    let r = 0;
    driver = createDeviceDriver({
      devices: [dev], connector,
      backoff: { initialMs: 100, maxMs: 1000, random: () => rolls[r++ % rolls.length]!, now: clock.now, sleep: clock.sleep },
    });
    await driver.softwareUpdate('h1', cmd, new AbortController().signal, clock.now() + 60_000);
    expect(tries).toBe(N + 1);
    // the n-th retry waits floor(random * min(max, base * 2^n))
    const caps = [100, 200, 400, 800, 1000, 1000];
    expect(clock.delays).toEqual(caps.map((c, i) => Math.floor(rolls[i]! * c)));
    for (const [i, d] of clock.delays.entries()) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(caps[i]!);
    }
    // exactly one software-update reached the device
    expect(sent.filter((op) => op.name === 'software-update')).toHaveLength(1);
  });

  it('keeps failing past the deadline: gives up before it, naming the attempts and the last error', async () => {
    let tries = 0;
    const connector: DeviceConnector = async () => {
      tries++;
      throw new DeviceConnectError('ERR_DEVICE_UNREACHABLE', `cannot reach 127.0.0.1:1 (ECONNREFUSED #${tries})`);
    };
    const clock = fakeClock();
    driver = createDeviceDriver({
      devices: [dev], connector,
      backoff: { initialMs: 100, maxMs: 1000, random: () => 0.999, now: clock.now, sleep: clock.sleep },
    });
    const deadline = clock.now() + 5_000;
    const e = await driver.softwareUpdate('h1', cmd, new AbortController().signal, deadline).then(() => { throw new Error('expected a rejection'); }, (x: unknown) => x as Error & { code: string });
    expect(e).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    // 99 + 199 + 399 + 799 + 999 + 999 + 999 = 4493 ms of waiting: 8 attempts, the next wait would pass the deadline
    expect(tries).toBe(8);
    expect(clock.now()).toBeLessThan(deadline);
    expect(e.message).toBe(`no session to h1 after 8 attempts within the step's deadline; last error: cannot reach 127.0.0.1:1 (ECONNREFUSED #8)`);
  });

  it('never retries a non-transient failure (auth, host key)', async () => {
    for (const code of ['ERR_DEVICE_AUTH', 'ERR_DEVICE_HOST_KEY'] as const) {
      let tries = 0;
      const connector: DeviceConnector = async () => {
        tries++;
        throw new DeviceConnectError(code, `${code} from the device`);
      };
      const clock = fakeClock();
      const d = createDeviceDriver({ devices: [dev], connector, backoff: { now: clock.now, sleep: clock.sleep } });
      await expect(d.softwareUpdate('h1', cmd, new AbortController().signal, clock.now() + 60_000)).rejects.toMatchObject({ code });
      expect(tries).toBe(1);
      expect(clock.delays).toEqual([]);
      await d.close();
    }
  });

  it('an rpc-error answer to software-update is not retried and the rpc is sent once', async () => {
    let tries = 0;
    const sent: XmlElement[] = [];
    const connector: DeviceConnector = async () => {
      tries++;
      const s = okSession(sent);
      const rpc = s.rpc.bind(s);
      return { ...s, rpc: async (op: XmlElement) => {
        if (op.name !== 'software-update') return rpc(op);
        sent.push(op);
        return el(NETCONF_BASE_NS, 'rpc-reply', startedReplyXml({ status: 'refused', reason: 'busy' }));
      }, get closed() { return s.closed; } };
    };
    const clock = fakeClock();
    driver = createDeviceDriver({ devices: [dev], connector, backoff: { now: clock.now, sleep: clock.sleep } });
    await expect(driver.softwareUpdate('h1', cmd, new AbortController().signal, clock.now() + 60_000)).rejects.toMatchObject({ code: 'ERR_DEVICE_REFUSED' });
    expect(tries).toBe(1);
    expect(sent.filter((op) => op.name === 'software-update')).toHaveLength(1);
  });
});

describe('device connection retry over loopback TCP (real sockets, real SSH client)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('a listener that resets every connection: bounded retries, then the attempts and ECONNRESET in the reason', async () => {
    let accepted = 0;
    server = createServer((sock: Socket) => {
      accepted++;
      sock.resetAndDestroy();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const clock = fakeClock();
    driver = createDeviceDriver({
      devices: [{ ...dev, port, hostKeySha256: 'SHA256:' + 'A'.repeat(43) }],
      connectTimeoutMs: 5_000,
      backoff: { initialMs: 10, maxMs: 40, attempts: 4, random: () => 0.5, now: clock.now, sleep: clock.sleep },
    });
    const e = await driver.softwareUpdate('h1', cmd, new AbortController().signal, clock.now() + 60_000).then(() => { throw new Error('expected a rejection'); }, (x: unknown) => x as Error & { code: string });
    expect(e).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    expect(e.message).toMatch(/^no session to h1 after 4 attempts within the step's deadline; last error: /);
    expect(e.message).toMatch(/ECONNRESET|closed the connection/);
    expect(accepted).toBe(4);
    expect(clock.delays).toEqual([5, 10, 20]);
  }, 20_000);
});
