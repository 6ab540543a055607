/**
 * HSV-ERR-01, HSV-ERR-02: the device module's documented refusals (error-app-tag vocabulary): a URI scheme it
 * does not support, a rollback of a job it does not know. Both run before any update, when a device that
 * wrongly accepts has nothing installed by the kit to lose; a wrongly started operation is waited for, so
 * the device is idle again before the next check.
 */
import { parseStartedReply, rollbackXml, softwareUpdateXml } from '../device/index.js';
import { elements } from '../netconf/xml/index.js';
import type { RequirementId } from './requirements.js';
import type { Kit } from './context.js';
import { isCompletionFor } from './context.js';
import type { RpcOutcome } from './session.js';

/** judge an rpc that must be refused with `tag` / `appTag`; returns whether the device started something */
async function expectRefusal(kit: Kit, id: RequirementId, o: RpcOutcome, tag: string, appTag: string, jobId: string): Promise<void> {
  const expected = `<rpc-error> error-type application, error-tag ${tag}, error-app-tag ${appTag}`;
  const first = o.error?.errors[0];
  if (first) {
    if (first.tag === tag && first.appTag === appTag) kit.pass(id, `refused: ${tag} / ${appTag}`, [o.exchange]);
    else kit.fail(id, `refused, but with error-tag ${first.tag}${first.appTag !== undefined ? `, error-app-tag ${first.appTag}` : ' and no error-app-tag'}`, expected, [o.exchange]);
    return;
  }
  if (!o.reply) {
    kit.fail(id, o.failure?.message ?? 'no reply', expected, [o.exchange]);
    return;
  }
  let status = '';
  try {
    status = parseStartedReply(elements(o.reply)).status;
  } catch {
    status = 'malformed';
  }
  kit.fail(id, `answered status ${status} instead of an rpc-error`, expected, [o.exchange]);
  if (status === 'started' && kit.subscribed) {
    // it started: let it end before the next check (bounded)
    await kit.session.waitFor(isCompletionFor(jobId), kit.options.completionTimeoutMs, kit.session.received.length);
  }
}

export async function checkRefusals(kit: Kit): Promise<void> {
  const j1 = kit.newJobId();
  const host = new URL(kit.image.url('/')).host;
  const o1 = await kit.session.rpc(softwareUpdateXml({ jobId: j1, uri: `ftp://${host}/image-ftp.bin`, softwareRim: kit.image.digest, selfCheck: false, nonce: kit.nonce().toString('base64') }));
  await expectRefusal(kit, 'HSV-ERR-01', o1, 'invalid-value', 'unsupported-uri-scheme', j1);
  const j2 = `hsv-kit-never-sent-${kit.newJobId()}`;
  const o2 = await kit.session.rpc(rollbackXml(j2));
  await expectRefusal(kit, 'HSV-ERR-02', o2, 'invalid-value', 'job-unknown', j2);
}
