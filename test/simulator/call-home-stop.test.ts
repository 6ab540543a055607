/**
 * Fleet.startCallHome(...) returns stop(): a NETCONF client that listened on port 0 for one run tells the devices
 * its bound port and ends their calls when it is done (the conformance kit's tests; a port found free and handed
 * on could be taken before it was bound).
 */
import { afterAll, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { startFleet } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';

let fleet: Fleet | undefined;
const clients: Server[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  await fleet?.close();
  for (const s of sockets) s.destroy();
  await Promise.all(clients.map((c) => new Promise((r) => c.close(r))));
});

/**
 * A call-home client listening on 127.0.0.1:0 that accepts and reads (and drops) what the devices send. It must
 * read: a paused socket never emits 'end' nor 'close' when the device closes its end.
 */
async function callHomeClient(): Promise<{ port: number; accepted: Socket[] }> {
  const accepted: Socket[] = [];
  const c = createServer((s) => {
    accepted.push(s);
    sockets.push(s);
    s.on('error', () => undefined);
    s.resume();
  });
  clients.push(c);
  await new Promise<void>((resolve) => c.listen(0, '127.0.0.1', resolve));
  return { port: (c.address() as { port: number }).port, accepted };
}

/** `p`'s outcome, or 'timed out' after `ms` (a failed assertion instead of a test that hangs) */
const within = <T>(ms: number, p: Promise<T>): Promise<T | 'timed out'> => {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timed out'>((r) => { t = setTimeout(() => r('timed out'), ms); })]).finally(() => clearTimeout(t));
};

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

it('the devices call the port the client bound; stop() ends those calls and connections, the fleet goes on', async () => {
  const first = await callHomeClient();
  fleet = await startFleet({ profiles: { healthy: 2 }, validate: false, replay: false, callHomeBackoff: { initialMs: 20, maxMs: 50, stableMs: 1000 } });
  const stop = fleet.startCallHome([{ host: '127.0.0.1', port: first.port }]);
  await until(() => first.accepted.length >= 2);
  expect(first.accepted).toHaveLength(2);
  const closed = first.accepted.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));

  expect(await within(5000, stop())).toBeUndefined();
  // the devices closed their connections, and would call again within 50 ms were they still calling
  expect(await within(5000, Promise.all(closed))).not.toBe('timed out');
  await new Promise((r) => setTimeout(r, 300));
  expect(first.accepted).toHaveLength(2);
  for (const d of fleet.devices) expect(fleet.sessionCount(d.henbId)).toBe(0);

  // only those calls ended: the devices call the next client they are told of
  const second = await callHomeClient();
  fleet.startCallHome([{ host: '127.0.0.1', port: second.port }]);
  await until(() => second.accepted.length >= 2);
  expect(second.accepted).toHaveLength(2);
  expect(first.accepted).toHaveLength(2);
  expect(fleet.devices.every((d) => d.callHome === true)).toBe(true);
});
