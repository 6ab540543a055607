import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { DeviceConnectError } from '../../src/device/connect.js';
import type { DeviceConnectErrorCode } from '../../src/device/connect.js';
import type { DeviceConnector, DeviceSession } from '../../src/device/connect.js';
import { completionXml, DEVICE_NS, measurementReplyXml, startedReplyXml } from '../../src/device/wire.js';
import { el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS, NETCONF_NOTIFICATION_NS, NETMOD_NOTIFICATION_NS } from '../../src/netconf/xml/types.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import type { DeviceCompletion } from '../../src/oam/ports.js';

/** the OAM's nonce for a software-update (hex text is canonical base64: 48 octets) */
const NONCE = 'a1'.repeat(32);

const RIM = 'ab'.repeat(32);
const TIM = 'cd'.repeat(32);

/** An in-memory session: scripted rpc answers, pushable notifications, closable from the "device". */
class FakeSession implements DeviceSession {
  closed = false;
  sent: XmlElement[] = [];
  answer: (op: XmlElement) => Promise<XmlElement[]> | XmlElement[] = () => [];
  private queue: XmlElement[] = [];
  private waiter: ((r: IteratorResult<XmlElement>) => void) | undefined;
  private ended!: () => void;
  private readonly endedP = new Promise<void>((r) => { this.ended = r; });

  async rpc(op: XmlElement): Promise<XmlElement> {
    if (this.closed) throw new Error('closed');
    this.sent.push(op);
    const out = await Promise.race([Promise.resolve(this.answer(op)), this.endedP.then(() => { throw Object.assign(new Error('session closed'), { code: 'ERR_SESSION_CLOSED' }); })]);
    return el(NETCONF_BASE_NS, 'rpc-reply', out);
  }
  notify(event: XmlElement): void {
    const n = el(NETCONF_NOTIFICATION_NS, 'notification', leaf(NETCONF_NOTIFICATION_NS, 'eventTime', new Date().toISOString()), event);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: n, done: false });
    } else this.queue.push(n);
  }
  notifications(): AsyncIterable<XmlElement> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const n = this.queue.shift();
          if (n) return Promise.resolve({ value: n, done: false });
          if (this.closed) return Promise.resolve({ value: undefined, done: true });
          return new Promise<IteratorResult<XmlElement>>((r) => { this.waiter = r; });
        },
      }),
    };
  }
  drop(): void {
    this.closed = true;
    this.ended();
    this.waiter?.({ value: undefined, done: true });
  }
  whenClosed(): Promise<Error | undefined> {
    return this.endedP.then(() => undefined);
  }
  async close(): Promise<void> {
    this.drop();
  }
}

let sessions: FakeSession[];
let failures: DeviceConnectErrorCode[];
let attempts: number;
const connector: DeviceConnector = async () => {
  attempts++;
  const f = failures.shift();
  if (f !== undefined) throw new DeviceConnectError(f, f);
  const s = new FakeSession();
  s.answer = (op) => (op.name === 'software-update' || op.name === 'rollback' ? startedReplyXml({ status: 'started' }) : []);
  sessions.push(s);
  return s;
};

let driver: NetconfDeviceDriver;
const dev = { henbId: 'h1', host: '127.0.0.1', port: 1, username: 'u', password: 'p', hostKeySha256: 'SHA256:x' };
const cmd = { jobId: 'job-1', uri: 'file:///x', softwareRim: RIM, selfCheck: true, nonce: NONCE };
const signal = (): AbortSignal => new AbortController().signal;

beforeEach(() => {
  vi.useFakeTimers();
  sessions = [];
  failures = [];
  attempts = 0;
  driver = createDeviceDriver({ devices: [dev], connector, backoff: { initialMs: 100, maxMs: 1000, attempts: 3, reconnectAttempts: 4, random: () => 0.5 } });
});

afterEach(async () => {
  await driver.close();
  vi.useRealTimers();
});

describe('device driver (fake sessions, fake timers)', () => {
  it('a device\'s state is made at its first operation, not with its entry (issue 15: an inventory that waits costs one entry per device)', async () => {
    driver.setDevice({ ...dev, henbId: 'h2' });
    expect(driver.hasLink('h1')).toBe(false);
    expect(driver.hasLink('h2')).toBe(false);
    // what a device without state reports: as a fresh one; a device not in the inventory: nothing
    expect(driver.remembered('h2')).toEqual({ delivered: 0, awaiting: 0, held: 0, rollingBack: 0, slotWait: false });
    expect(driver.remembered('nope')).toBeUndefined();
    expect(driver.connected('h2')).toBe(false);
    expect(driver.connection('h2')).toBeUndefined();
    driver.release('h2', 'job-0'); // nothing to release: no state made
    expect(driver.hasLink('h2')).toBe(false);
    await driver.connect('h1');
    expect(driver.hasLink('h1')).toBe(true);
    expect(driver.hasLink('h2')).toBe(false);
    expect(driver.connected('h1')).toBe(true);
    // the same entry again keeps the state and the session; a changed one drops both (made again at the next use)
    driver.setDevice({ ...dev });
    expect(driver.hasLink('h1')).toBe(true);
    expect(driver.connected('h1')).toBe(true);
    driver.setDevice({ ...dev, port: 2 });
    expect(driver.hasLink('h1')).toBe(false);
    expect(driver.connected('h1')).toBe(false);
    expect(driver.deviceIds()).toEqual(['h1', 'h2']);
    driver.removeDevice('h2');
    expect(driver.deviceIds()).toEqual(['h1']);
    expect(driver.remembered('h2')).toBeUndefined();
    await expect(driver.connect('h2')).rejects.toMatchObject({ code: 'ERR_DEVICE_UNKNOWN' });
    expect(driver.hasLink('h2')).toBe(false);
  });

  it('subscribes before sending software-update, with the command in the device module', async () => {
    await driver.softwareUpdate('h1', { ...cmd, version: '2.0.0' }, signal());
    const [sub, upd] = sessions[0]!.sent;
    expect(sub).toMatchObject({ ns: NETCONF_NOTIFICATION_NS, name: 'create-subscription' });
    expect(upd).toMatchObject({ ns: DEVICE_NS, name: 'software-update' });
    expect(upd!.children.map((c) => (typeof c === 'string' ? c : [c.name, c.children[0]]))).toEqual([
      ['job-id', 'job-1'], ['uri', 'file:///x'], ['software-rim', RIM], ['version', '2.0.0'], ['self-check', 'true'], ['nonce-value', NONCE]]);
  });

  describe('relay mode: the subscription goes with the integrity-measurement (one round trip fewer)', () => {
    const measurement = measurementReplyXml({ format: 'software-key', tim: TIM, log: [], signatureAlgorithm: 'ES256', signature: 'c2ln' });
    const names = (s: FakeSession): string[] => s.sent.map((o) => o.name);
    /** a driver whose sessions answer with `answer` */
    const scripted = async (answer: FakeSession['answer']): Promise<void> => {
      await driver.close();
      driver = createDeviceDriver({
        devices: [dev],
        connector: async (...a) => {
          const s = (await connector(...a)) as FakeSession;
          s.answer = answer;
          return s;
        },
      });
    };

    it('create-subscription is sent right after the measurement, before its reply; the software-update waits for neither again', async () => {
      let answerMeasurement!: (out: XmlElement[]) => void;
      const measured = new Promise<XmlElement[]>((r) => { answerMeasurement = r; });
      await scripted((op) => (op.name === 'integrity-measurement' ? measured : op.name === 'software-update' ? startedReplyXml({ status: 'started' }) : []));
      const p = driver.integrityMeasurement('h1', 'job-1', NONCE, signal());
      await vi.waitFor(() => expect(sessions.map(names)).toEqual([['integrity-measurement', 'create-subscription']]));
      answerMeasurement(measurement);
      await expect(p).resolves.toMatchObject({ format: 'software-key', tim: TIM });
      await driver.softwareUpdate('h1', cmd, signal());
      expect(sessions.map(names)).toEqual([['integrity-measurement', 'create-subscription', 'software-update']]);
    });

    it('a refused subscription fails neither the measurement nor the session: the software-update fails as it did when it asked itself', async () => {
      const refused = (): never => {
        throw new NetconfError({ type: 'protocol', tag: 'operation-failed', message: 'no notifications here' });
      };
      await scripted((op) => (op.name === 'create-subscription' ? refused() : op.name === 'integrity-measurement' ? measurement : []));
      await expect(driver.integrityMeasurement('h1', 'job-1', NONCE, signal())).resolves.toMatchObject({ tim: TIM });
      await vi.advanceTimersByTimeAsync(10);
      expect(sessions.map(names)).toEqual([['integrity-measurement', 'create-subscription']]); // refused already
      expect(sessions[0]!.closed).toBe(false);
      await expect(driver.softwareUpdate('h1', cmd, signal())).rejects.toMatchObject({ code: 'ERR_DEVICE_NETCONF' });
      expect(sessions[0]!.closed).toBe(true);
      expect(sessions.map(names)).toEqual([['integrity-measurement', 'create-subscription']]);
    });
  });

  it('retries a retriable connect failure with backoff, at most `attempts` times', async () => {
    failures = ['ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_UNREACHABLE'];
    const p = driver.connect('h1');
    const caught = p.catch((e: unknown) => e);
    // full jitter with random() = 0.5: half of 100, then half of 200
    await vi.advanceTimersByTimeAsync(49);
    expect(attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts).toBe(3);
    const e = await caught;
    expect(e).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    expect((e as Error).message).toMatch(/after 3 attempts; last error: ERR_DEVICE_UNREACHABLE/);
  });

  it('does not retry auth or host key failures', async () => {
    failures = ['ERR_DEVICE_AUTH'];
    await expect(driver.connect('h1')).rejects.toMatchObject({ code: 'ERR_DEVICE_AUTH' });
    expect(attempts).toBe(1);
  });

  it('maps refused and rpc-error answers to ERR_DEVICE_REFUSED', async () => {
    await driver.connect('h1');
    sessions[0]!.answer = () => startedReplyXml({ status: 'refused', reason: 'job already started' });
    await expect(driver.softwareUpdate('h1', cmd, signal())).rejects.toMatchObject({ code: 'ERR_DEVICE_REFUSED', message: expect.stringContaining('job already started') });
    sessions[0]!.answer = () => { throw new NetconfError({ type: 'application', tag: 'in-use', appTag: 'slot-busy', message: 'busy' }); };
    await expect(driver.softwareUpdate('h1', { ...cmd, jobId: 'job-2' }, signal())).rejects.toMatchObject({ code: 'ERR_DEVICE_REFUSED', errorTag: 'in-use', appTag: 'slot-busy' });
  });

  it('a session lost before the answer: ERR_DEVICE_SESSION_LOST, then reconnects and still hands on the completion', async () => {
    await driver.connect('h1');
    sessions[0]!.answer = () => new Promise(() => undefined);
    const p = driver.softwareUpdate('h1', cmd, signal()).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    sessions[0]!.drop();
    expect(await p).toMatchObject({ code: 'ERR_DEVICE_SESSION_LOST' });
    const seen: DeviceCompletion[] = [];
    driver.onCompletion((c) => seen.push(c));
    await vi.advanceTimersByTimeAsync(100);
    expect(sessions).toHaveLength(2);
    // the resubscription asks for replay from when the session dropped
    const resub = sessions[1]!.sent[0]!;
    expect(resub.children.some((c) => typeof c !== 'string' && c.name === 'startTime')).toBe(true);
    sessions[1]!.notify(completionXml({ jobId: 'job-1', status: 'completed', tim: TIM, log: [], selfCheck: 'passed' }));
    sessions[1]!.notify(completionXml({ jobId: 'job-1', status: 'completed', tim: TIM, log: [], selfCheck: 'passed' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([{ henbId: 'h1', jobId: 'job-1', status: 'completed', deviceStatus: 'completed', tim: TIM, measurementLog: [], selfCheck: 'passed' }]);
  });

  it('maps device failure statuses and swallows the completion of a rollback it asked for', async () => {
    const seen: DeviceCompletion[] = [];
    driver.onCompletion((c) => seen.push(c));
    await driver.softwareUpdate('h1', cmd, signal());
    const s = sessions[0]!;
    s.notify(completionXml({ jobId: 'job-1', status: 'self-check-failed', tim: TIM, log: [], reason: 'mismatch' }));
    await vi.advanceTimersByTimeAsync(0);
    // the device's status is kept as it signed it (no self-check leaf is made up); the flow reads deviceStatus
    expect(seen[0]).toMatchObject({ status: 'completed', deviceStatus: 'self-check-failed', reason: 'mismatch' });
    await driver.rollback('h1', 'job-1', signal());
    s.notify(completionXml({ jobId: 'job-1', status: 'completed', tim: TIM, log: [] }));
    s.notify(completionXml({ jobId: 'job-9', status: 'download-error', reason: 'not found' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.slice(1)).toEqual([{ henbId: 'h1', jobId: 'job-9', status: 'failed', deviceStatus: 'download-error', reason: 'download-error: not found' }]);
  });

  it('after close every call fails with ERR_DEVICE_CLOSED', async () => {
    await driver.close();
    await expect(driver.softwareUpdate('h1', cmd, signal())).rejects.toMatchObject({ code: 'ERR_DEVICE_CLOSED' });
  });
});

const leafText = (op: XmlElement, name: string): string | undefined => {
  const c = op.children.find((x): x is XmlElement => typeof x !== 'string' && x.name === name);
  return c === undefined ? undefined : c.children.join('');
};
const done = { jobId: 'job-1', status: 'completed' as const, tim: TIM, log: [], selfCheck: 'passed' as const };

describe('device driver resume() after an OAM restart', () => {
  it('subscribes with replay from `since` minus the margin and hands the replayed completion on once', async () => {
    const seen: DeviceCompletion[] = [];
    driver.onCompletion((c) => seen.push(c));
    const since = Date.parse('2026-01-01T10:00:00Z');
    await driver.resume('h1', 'job-1', since, signal());
    expect(sessions).toHaveLength(1);
    const sub = sessions[0]!.sent[0]!;
    expect(sub).toMatchObject({ ns: NETCONF_NOTIFICATION_NS, name: 'create-subscription' });
    expect(leafText(sub, 'startTime')).toBe(new Date(since - 60_000).toISOString());
    expect(leafText(sub, 'stopTime')).toBeUndefined();
    // the replayed completion, the end of the replay, then the same completion again (a device repeating it)
    sessions[0]!.notify(completionXml(done));
    sessions[0]!.notify(el(NETMOD_NOTIFICATION_NS, 'replayComplete'));
    sessions[0]!.notify(completionXml(done));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([{ henbId: 'h1', jobId: 'job-1', status: 'completed', deviceStatus: 'completed', tim: TIM, measurementLog: [], selfCheck: 'passed' }]);
  });

  it('the replay margin is configurable', async () => {
    await driver.close();
    driver = createDeviceDriver({ devices: [dev], connector, replayMarginMs: 0 });
    await driver.resume('h1', 'job-1', Date.parse('2026-01-01T10:00:00Z'), signal());
    expect(leafText(sessions[0]!.sent[0]!, 'startTime')).toBe('2026-01-01T10:00:00.000Z');
  });

  it('a session already open replays the missed window on a second, short session (startTime/stopTime)', async () => {
    const seen: DeviceCompletion[] = [];
    driver.onCompletion((c) => seen.push(c));
    await driver.connect('h1');
    expect(leafText(sessions[0]!.sent[0]!, 'startTime')).toBeUndefined();
    const since = Date.now() - 5000;
    const p = driver.resume('h1', 'job-1', since, signal());
    await vi.advanceTimersByTimeAsync(0);
    expect(sessions).toHaveLength(2);
    const sub = sessions[1]!.sent[0]!;
    expect(leafText(sub, 'startTime')).toBe(new Date(since - 60_000).toISOString());
    expect(Date.parse(leafText(sub, 'stopTime')!)).toBeGreaterThanOrEqual(since);
    sessions[1]!.notify(completionXml(done));
    sessions[1]!.notify(el(NETMOD_NOTIFICATION_NS, 'notificationComplete'));
    await p;
    expect(sessions[1]!.closed).toBe(true);
    expect(sessions[0]!.closed).toBe(false);
    // the live session repeats it: still once
    sessions[0]!.notify(completionXml(done));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ jobId: 'job-1', tim: TIM });
  });

  it('a device without replay gets a live subscription and no second session', async () => {
    let subs = 0;
    const plain: DeviceConnector = async (...a) => {
      const s = (await connector(...a)) as FakeSession;
      s.answer = (op) => {
        if (op.name === 'create-subscription' && subs++ === 0) throw new NetconfError({ type: 'application', tag: 'operation-failed', message: 'no replay' });
        return [];
      };
      return s;
    };
    await driver.close();
    driver = createDeviceDriver({ devices: [dev], connector: plain });
    const seen: DeviceCompletion[] = [];
    driver.onCompletion((c) => seen.push(c));
    await driver.resume('h1', 'job-1', Date.now(), signal());
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.sent.map((op) => leafText(op, 'startTime') !== undefined)).toEqual([true, false]);
    sessions[0]!.notify(completionXml(done));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toHaveLength(1);
  });

  it('a completion handed on before resume() is replayed again (the flow still waits for it), then once', async () => {
    const seen: DeviceCompletion[] = [];
    await driver.softwareUpdate('h1', cmd, signal());
    sessions[0]!.notify(completionXml(done));
    await vi.advanceTimersByTimeAsync(0);
    driver.onCompletion((c) => seen.push(c));
    const p = driver.resume('h1', 'job-1', Date.now() - 1000, signal());
    await vi.advanceTimersByTimeAsync(0);
    expect(sessions).toHaveLength(2);
    sessions[1]!.notify(completionXml(done));
    sessions[1]!.notify(completionXml(done));
    sessions[1]!.notify(el(NETMOD_NOTIFICATION_NS, 'notificationComplete'));
    await p;
    expect(seen).toHaveLength(1);
  });

  it('a device down at resume(): rejects, then reconnects in the background with the replay and hands the completion on', async () => {
    const seen: DeviceCompletion[] = [];
    driver.onCompletion((c) => seen.push(c));
    failures = ['ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_UNREACHABLE', 'ERR_DEVICE_UNREACHABLE'];
    const since = Date.now() - 10_000;
    const p = driver.resume('h1', 'job-1', since, signal()).catch((e: unknown) => e);
    // three attempts at 0, 50, 150 ms (full jitter, random() = 0.5), the background reconnect 100 ms later
    await vi.advanceTimersByTimeAsync(150);
    expect(await p).toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    expect(sessions).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(sessions).toHaveLength(1);
    expect(leafText(sessions[0]!.sent[0]!, 'startTime')).toBe(new Date(since - 60_000).toISOString());
    sessions[0]!.notify(completionXml(done));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toHaveLength(1);
  });

  it('unknown device, aborted signal and closed driver are coded errors', async () => {
    await expect(driver.resume('nope', 'job-1', Date.now(), signal())).rejects.toMatchObject({ code: 'ERR_DEVICE_UNKNOWN' });
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(driver.resume('h1', 'job-1', Date.now(), ac.signal)).rejects.toMatchObject({ code: 'ERR_DEVICE_ABORTED' });
    expect(sessions).toHaveLength(0);
    await driver.close();
    await expect(driver.resume('h1', 'job-1', Date.now(), signal())).rejects.toMatchObject({ code: 'ERR_DEVICE_CLOSED' });
  });
});
