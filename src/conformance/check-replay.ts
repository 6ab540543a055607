/**
 * HSV-CPL-03: the completion is not lost when the OAM's session drops. The kit closes its session after the
 * good update's completion, opens a new one (on a new connection: a device that calls home must call again) and subscribes with a startTime shortly before it sent the update
 * (a minute earlier, for clock skew): the completion must come again before <replayComplete/>. The new
 * session keeps the (live) subscription for the checks after this one.
 */
import type { Kit } from './context.js';
import { isCompletionFor } from './context.js';
import type { KitSession } from './session.js';
import { createSubscription, isReplayComplete } from './check-notifications.js';
import type { GoodUpdate } from './check-update.js';

export async function checkReplay(kit: Kit, good: GoodUpdate | undefined): Promise<void> {
  kit.subscribed = false;
  let s: KitSession;
  try {
    s = await kit.reconnect();
  } catch (e) {
    kit.fail('HSV-CPL-03', `the kit could not reconnect: ${(e as Error).message}`, 'a new session after the old one was closed');
    return;
  }
  kit.session = s;
  const expected = 'after create-subscription with startTime: the stored software-update-complete of the job, then <replayComplete/>';
  if (!good?.completion) {
    const o = await s.rpc(createSubscription());
    if (o.reply) {
      kit.subscribed = true;
      s.startPump();
    }
    kit.skip('HSV-CPL-03', 'no completion to replay (HSV-UPD-03)');
    return;
  }
  const start = new Date(good.sentAt - 60_000);
  const o = await s.rpc(createSubscription(start));
  if (!o.reply) {
    kit.fail('HSV-CPL-03', 'create-subscription with a startTime was refused after the reconnect: a completion sent while the OAM was away is lost', expected, [o.exchange]);
    const live = await s.rpc(createSubscription());
    if (live.reply) {
      kit.subscribed = true;
      s.startPump();
    }
    return;
  }
  kit.subscribed = true;
  s.startPump();
  const done = await s.waitFor(isReplayComplete, kit.options.rpcTimeoutMs);
  const idx = s.received.findIndex((r) => isCompletionFor(good.jobId)(r.notification));
  const doneIdx = done ? s.received.indexOf(done) : -1;
  const got = { sent: `(replay from ${start.toISOString()})`, received: s.received.map((r) => r.xml).join('\n') || 'no notification' };
  if (idx >= 0 && (doneIdx < 0 || idx < doneIdx)) kit.pass('HSV-CPL-03', `the completion of ${good.jobId} was replayed${done ? ', then replayComplete' : ''}`, [o.exchange, got]);
  else kit.fail('HSV-CPL-03', done ? `replayComplete came without the completion of ${good.jobId}` : `neither the completion of ${good.jobId} nor replayComplete within ${kit.options.rpcTimeoutMs} ms`, expected, [o.exchange, got]);
}
