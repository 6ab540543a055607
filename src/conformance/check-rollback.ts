/**
 * HSV-RBK-01: rollback of the kit's good update (the OAM's measure on a mismatch). It must answer started,
 * report a software-update-complete for the job with the TIM of the software that ran before, and leave the
 * slot that ran before the update running again: this is also how the kit puts a conforming device back as
 * it found it.
 */
import { parseCompletion, parseStartedReply, rollbackXml } from '../device/index.js';
import { elements } from '../netconf/xml/index.js';
import type { Kit } from './context.js';
import { completionOf, describeSlots, isCompletionFor } from './context.js';
import type { GoodUpdate } from './check-update.js';

export async function checkRollback(kit: Kit, good: GoodUpdate | undefined): Promise<void> {
  if (!good?.completion || good.completion.status !== 'completed') {
    kit.skip('HSV-RBK-01', 'the good update did not complete (HSV-UPD-03): nothing of the kit\'s to roll back');
    return;
  }
  const expected = `status started; software-update-complete for job ${good.jobId} with tim = the TIM before the update (${good.before.tim.slice(0, 16)}...); the slot that ran before running again`;
  const from = kit.session.received.length;
  const o = await kit.session.rpc(rollbackXml(good.jobId));
  let status = o.error ? 'rpc-error' : 'no reply';
  if (o.reply) {
    try {
      status = parseStartedReply(elements(o.reply)).status;
    } catch {
      status = 'malformed reply';
    }
  }
  if (status !== 'started') {
    kit.fail('HSV-RBK-01', `rollback answered ${status}`, expected, [o.exchange]);
    return;
  }
  if (!kit.subscribed) {
    kit.fail('HSV-RBK-01', 'rollback started, but the kit has no subscription to see its completion', expected, [o.exchange]);
    return;
  }
  const r = await kit.session.waitFor(isCompletionFor(good.jobId), kit.options.completionTimeoutMs, from);
  const waitEx = { sent: `(waiting for the rollback's software-update-complete of job ${good.jobId})`, received: r?.xml ?? `nothing within ${kit.options.completionTimeoutMs} ms` };
  const state = await kit.readState();
  const exchanges = [o.exchange, waitEx, state.exchange];
  if (!r) {
    kit.fail('HSV-RBK-01', 'no completion of the rollback', expected, exchanges);
    return;
  }
  const problems: string[] = [];
  let tim: string | undefined;
  try {
    tim = parseCompletion(completionOf(r.notification)!).tim;
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (tim !== good.before.tim) problems.push(`the rollback's completion reports tim ${tim ?? 'absent'}`);
  const ran = good.before.slots.find((s) => s.running);
  if (!state.state) problems.push(state.problem ?? 'state unreadable');
  else {
    const now = state.state.slots.find((s) => s.running);
    if (!ran || now?.name !== ran.name) problems.push(`running now: ${now?.name ?? 'none'}; before the update: ${ran?.name ?? 'none'}`);
    if (state.state.tim !== good.before.tim) problems.push(`integrity/tim is ${state.state.tim}`);
  }
  if (problems.length > 0) kit.fail('HSV-RBK-01', problems.join('; '), expected, exchanges);
  else kit.pass('HSV-RBK-01', `rolled back: ${describeSlots(state.state!.slots)}, TIM as before the update`, exchanges);
}
