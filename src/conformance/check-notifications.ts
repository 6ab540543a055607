/**
 * HSV-NC-03, HSV-NC-04: RFC 5277 notifications and replay. The live subscription is made on the kit's main
 * session (completions arrive on it); replay is probed on a second session that asks for the last ten minutes
 * and must see <replayComplete/>. A device that calls home over TLS has one session per connection (RFC 7589)
 * and one connection at a time: there the kit ends the first session, takes the device's next call, and makes
 * the replay subscription (which goes on live after replayComplete, RFC 5277 2.1.1) its main one.
 */
import { el, leaf, elements, NETCONF_NOTIFICATION_NS, NETMOD_NOTIFICATION_NS } from '../netconf/xml/index.js';
import type { Kit } from './context.js';
import type { KitSession } from './session.js';

const NOTIFICATION_CAP = 'urn:ietf:params:netconf:capability:notification:1.0';
const N = NETCONF_NOTIFICATION_NS;

/** create-subscription on the NETCONF stream, optionally with a replay from `startTime` */
export function createSubscription(startTime?: Date, stopTime?: Date): ReturnType<typeof el> {
  return el(N, 'create-subscription',
    startTime !== undefined ? leaf(N, 'startTime', startTime.toISOString()) : undefined,
    stopTime !== undefined ? leaf(N, 'stopTime', stopTime.toISOString()) : undefined);
}

export function isReplayComplete(n: ReturnType<typeof el>): boolean {
  return elements(n).some((e) => e.ns === NETMOD_NOTIFICATION_NS && e.name === 'replayComplete');
}

/** HSV-NC-03: the live subscription on the main session; returns whether the device accepted it */
async function checkLiveSubscription(kit: Kit): Promise<boolean> {
  const o = await kit.session.rpc(createSubscription());
  const announced = kit.session.capabilities.includes(NOTIFICATION_CAP);
  if (!o.reply) {
    kit.fail('HSV-NC-03', `create-subscription was refused${announced ? '' : ' (and :notification is not announced)'}`, 'an <ok/> reply to <create-subscription/>', [o.exchange]);
    return false;
  }
  if (!announced) kit.fail('HSV-NC-03', 'create-subscription works but the hello does not announce :notification', `${NOTIFICATION_CAP} in the hello`, [o.exchange]);
  else kit.pass('HSV-NC-03', ':notification announced; create-subscription answered <ok/>', [o.exchange]);
  kit.subscribed = true;
  kit.session.startPump();
  return true;
}

/**
 * The session the replay is probed on: a second one, or (one TLS session at a time) the device's next call,
 * which becomes the main session. Undefined (HSV-NC-04 failed) when it cannot be had.
 */
async function replaySession(kit: Kit, oneAtATime: boolean): Promise<KitSession | undefined> {
  let probe: KitSession;
  try {
    probe = oneAtATime ? await kit.reconnect() : await kit.openSession();
  } catch (e) {
    if (oneAtATime) kit.subscribed = false;
    kit.fail('HSV-NC-04', oneAtATime
      ? `after the kit closed its session, the device did not call home again: ${(e as Error).message}`
      : `a second session for the replay could not be opened: ${(e as Error).message}`,
    oneAtATime ? 'the device calls home again when its TLS connection is closed (RFC 8071 section 4.1)' : 'a second NETCONF session (the OAM and the PVE may hold two)');
    return undefined;
  }
  if (oneAtATime) {
    // the replay subscription becomes the main one: live notifications follow replayComplete on it
    kit.session = probe;
    kit.subscribed = false;
  }
  return probe;
}

/** HSV-NC-04: a subscription with a startTime ten minutes back ends its replay with <replayComplete/> */
async function checkReplayProbe(kit: Kit, probe: KitSession, oneAtATime: boolean): Promise<void> {
  const since = new Date(Date.now() - 10 * 60_000);
  const r = await probe.rpc(createSubscription(since));
  if (!r.reply) {
    kit.fail('HSV-NC-04', 'create-subscription with a startTime was refused', 'an <ok/> reply, the stored events since startTime, then <replayComplete/>', [r.exchange]);
    if (oneAtATime && (await probe.rpc(createSubscription())).reply) {
      // the main session still needs its live subscription for the completions
      kit.subscribed = true;
      probe.startPump();
    }
    return;
  }
  probe.startPump();
  if (oneAtATime) kit.subscribed = true;
  const done = await probe.waitFor(isReplayComplete, kit.options.rpcTimeoutMs);
  const got = { sent: '(waiting for the replay)', received: probe.received.map((x) => x.xml).join('\n') || 'no notification' };
  if (done) kit.pass('HSV-NC-04', `replay accepted; replayComplete after ${probe.received.length - 1} replayed event(s)${oneAtATime ? ' (on the device\'s next call: one TLS session at a time)' : ''}`, [r.exchange, got]);
  else kit.fail('HSV-NC-04', `no replayComplete within ${kit.options.rpcTimeoutMs} ms`, '<replayComplete/> after the replayed events (RFC 5277 2.1.1)', [r.exchange, got]);
}

export async function checkNotifications(kit: Kit): Promise<void> {
  if (!(await checkLiveSubscription(kit))) {
    kit.skip('HSV-NC-04', 'no subscription at all (HSV-NC-03)');
    return;
  }
  const t = kit.options.target;
  const oneAtATime = t.callHome === true && t.transport === 'tls';
  const probe = await replaySession(kit, oneAtATime);
  if (probe === undefined) return;
  try {
    await checkReplayProbe(kit, probe, oneAtATime);
  } finally {
    if (!oneAtATime) await probe.close();
  }
}
