/**
 * Memory that does not grow with the fleet (issue 15): what the device driver keeps about a device after its job.
 * A heap-snapshot diff of the OAM in bench/fleet.ts (3,000 devices, docs/performance.md, 5 December 2026) showed the
 * driver's per-device state (DeviceLink) growing by ~2.5 KB for every device updated: the device's last notification
 * message, kept whole because the last eventTime and the delivered job id were slices of its text; the
 * AbortController of the last wait for a pool slot; a Date. Against simulated femtocells over real NETCONF/SSH:
 *  - after a job ends, the link keeps one remembered job id, no slot wait, and the last event time (needed for the
 *    next replay's start), and no copy of the notification's text is left in the heap (a V8 heap snapshot, searched
 *    for the completion message by its job id);
 *  - a completion replayed after it was handed on is still recognised as a repeat (what `delivered` is for).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { createDeviceDriver } from '../../src/device/driver.js';
import type { NetconfDeviceDriver } from '../../src/device/driver.js';
import { DeviceLink } from '../../src/device/link.js';
import { ownString } from '../../src/netconf/xml/index.js';
import { until } from '../helpers/until.js';
import { heapHolds, textWith } from '../helpers/heap-text.js';

const NONCE = 'b2'.repeat(32);
const cmd = (jobId: string): { jobId: string; uri: string; softwareRim: string; selfCheck: boolean; nonce: string } =>
  ({ jobId, uri: 'file:///firmware.bin', softwareRim: 'ab'.repeat(32), selfCheck: true, nonce: NONCE });

/**
 * whether the process's heap holds a NETCONF notification's text that names `jobId` (one string of the snapshot from
 * `<notification` to the id; the simulated device in this process keeps slices of the software-update rpc it
 * received, which name the id too, but no notification)
 */
const heapHoldsNotification = (jobId: string): Promise<boolean> => heapHolds(textWith('<notification', jobId));

let fleet: Fleet;
let driver: NetconfDeviceDriver;

beforeAll(async () => {
  // replay: false: the simulated devices keep no event log (in this process, it would hold the messages they sent)
  fleet = await startFleet({ profiles: { healthy: 2 }, installMs: 50, replay: false });
}, 60_000);
afterAll(async () => {
  await driver?.close();
  await fleet?.close();
}, 30_000);

describe('what the device driver keeps about a device after its job (issue 15)', () => {
  it('one remembered job id, no slot wait, the last event time; no copy of the completion message in the heap', async () => {
    driver = createDeviceDriver({
      devices: fleet.devices.map((d) => ({ henbId: d.henbId, host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 })),
      connectTimeoutMs: 10_000, rpcTimeoutMs: 10_000, idleTimeoutMs: 0,
    });
    let done = 0;
    // nothing of the completion is kept here (the test's own copy would hold the message)
    driver.onCompletion(() => { done++; });
    const id = fleet.devices[0]!.henbId;
    const jobId = `mem-${randomUUID()}`;
    await driver.softwareUpdate(id, cmd(jobId), new AbortController().signal);
    await until(() => done === 1, 'the completion');
    driver.release(id, jobId);
    await until(() => driver.sessionCounts().open === 0, 'the idle session closed');
    const kept = driver.remembered(id)!;
    expect(kept).toMatchObject({ delivered: 1, awaiting: 0, held: 0, rollingBack: 0, slotWait: false });
    expect(Number.isFinite(Date.parse(kept.lastEventTime!))).toBe(true);
    // the completion notification names the job id: no string holding its text may survive
    expect(await heapHoldsNotification(jobId)).toBe(false);
  }, 60_000);

  it('a completion handed on once is a repeat afterwards, by a job id that is a copy of its own', () => {
    const l = new DeviceLink({ henbId: 'h1', host: '127.0.0.1', port: 830, username: 'u' });
    const message = `<notification><job-id>job-7</job-id>${'x'.repeat(1000)}</notification>`;
    const jobId = message.slice(message.indexOf('>job-') + 1, message.indexOf('</job-id>'));
    l.awaiting.add('job-7');
    expect(l.classify(jobId)).toBe('deliver');
    expect(l.awaiting.size).toBe(0);
    expect(l.classify('job-7')).toBe('repeat');
    expect([...l.delivered]).toEqual(['job-7']);
    expect(ownString(jobId)).toBe(jobId);
    l.noteEventTime('2026-12-05T05:00:00.123Z');
    expect(l.replayStart()).toBe('2026-12-05T05:00:00.123Z');
  });

  it('without an event seen, the replay starts where the session dropped, less the margin', () => {
    const l = new DeviceLink({ henbId: 'h2', host: '127.0.0.1', port: 830, username: 'u' });
    const before = Date.now();
    l.detach();
    const start = Date.parse(l.replayStart(1000)!);
    expect(start).toBeGreaterThanOrEqual(before - 1000);
    expect(start).toBeLessThanOrEqual(Date.now() - 1000);
  });
});
