/**
 * HSV-CPL-01, HSV-CPL-02: what the OAM's step 9 and the PVE's post-update appraisal rely on in the completion
 * of the kit's good update: the attested TIM (its log replays to it, it is the value the update should give
 * from the TIM before, and the device's self-check agrees) and the evidence (the update's nonce echoed, the
 * enrolled key's (unpinned: the presented key's) signature over the completion statement, src/integrity/evidence.ts
 * completionMessage).
 */
import type { CompletionEvent } from '../device/index.js';
import { extend, replayLog } from '../integrity/index.js';
import { completionProblem } from './evidence-key.js';
import type { MeasurementEntry } from '../integrity/index.js';
import type { DeviceState, Kit } from './context.js';
import type { Exchange } from './types.js';

/** how the log after the update relates to the log before: live (one entry appended) or reboot (one replaced) */
export function updatedLogShape(before: readonly MeasurementEntry[], after: readonly MeasurementEntry[], rim: string): 'live' | 'reboot' | undefined {
  const same = (a: MeasurementEntry, b: MeasurementEntry): boolean => a.component === b.component && a.digest === b.digest;
  if (after.length === before.length + 1 && before.every((e, i) => same(e, after[i]!)) && after[after.length - 1]!.digest === rim) return 'live';
  if (after.length === before.length) {
    const diff = after.map((e, i) => (same(e, before[i]!) ? -1 : i)).filter((i) => i >= 0);
    if (diff.length === 1 && after[diff[0]!]!.digest === rim && after[diff[0]!]!.component === before[diff[0]!]!.component) return 'reboot';
  }
  return undefined;
}

type CompletionArgs = { c: CompletionEvent; before: DeviceState; rim: string; nonce: Buffer; jobId: string; stateAfterTim?: string; exchanges: Exchange[] };

/** HSV-CPL-01: what is wrong with the completion's TIM, log and self-check (none: a pass) */
function measuredProblems({ c, before, rim, stateAfterTim }: CompletionArgs): string[] {
  const problems: string[] = [];
  if (c.tim === undefined || c.log === undefined) problems.push(`the completion lacks ${c.tim === undefined ? 'tim' : 'measurement-log'}`);
  else {
    if (replayLog(null, c.log) !== c.tim) problems.push(`its measurement-log replays to ${replayLog(null, c.log)}, not to its tim`);
    const shape = updatedLogShape(before.log, c.log, rim);
    if (!shape) problems.push('its log is neither the log before plus one entry with the software-rim (live activation) nor the log before with one component\'s digest replaced by it (reboot)');
    else if (shape === 'live' && c.tim !== extend(before.tim, rim)) problems.push(`tim is not extend(TIM before, software-rim) = ${extend(before.tim, rim)}`);
    if (stateAfterTim !== undefined && stateAfterTim !== c.tim) problems.push(`integrity/tim after the update (${stateAfterTim}) differs from the completion's tim`);
  }
  if (c.selfCheck !== 'passed') problems.push(`self-check is ${c.selfCheck ?? 'absent'} (the kit asked for it and installed a correct image)`);
  return problems;
}

/** HSV-CPL-02: the completion's evidence: its format, the echoed nonce, the signature over the completion statement */
function checkEvidence(kit: Kit, { c, nonce, jobId, exchanges }: CompletionArgs): void {
  const ev = c.evidence;
  const wanted = kit.options.trustRoot === 'tpm' ? 'tpm2-quote' : 'software-key';
  const expectedEv = `an evidence container (evidence-format ${wanted}), nonce-value = the software-update's, and a signature by ${kit.keyName()} over the completion statement (docs/device-obligations.md)`;
  if (!ev) return kit.fail('HSV-CPL-02', 'the completion carries no evidence: the OAM refuses an unsigned completion', expectedEv, exchanges);
  if (ev.format !== wanted) return kit.fail('HSV-CPL-02', `evidence-format ${ev.format}, the kit runs with --trust-root ${kit.options.trustRoot}`, expectedEv, exchanges);
  if (Buffer.from(ev.nonce, 'base64').toString('base64') !== ev.nonce || !Buffer.from(ev.nonce, 'base64').equals(nonce)) {
    return kit.fail('HSV-CPL-02', `evidence nonce-value ${ev.nonce} is not the software-update's ${nonce.toString('base64')}`, expectedEv, exchanges);
  }
  const key = kit.signing?.key;
  if (!key) return kit.skip('HSV-CPL-02', 'unpinned: nonce echoed, but without --device-public-key or a usable presented key (HSV-KEY-01) the signature cannot be checked', exchanges);
  if (kit.options.henbId === undefined) return kit.skip('HSV-CPL-02', 'the completion statement binds the H(e)NB id: give --henb-id to check the signature', exchanges);
  const problem = completionProblem(key, {
    henbId: kit.options.henbId, jobId, nonce, status: c.status, selfCheck: c.selfCheck ?? '', softwareVersion: c.softwareVersion ?? '',
    tim: c.tim ?? '', log: c.log ?? [],
  }, { signature: ev.signature, ...(ev.quote !== undefined ? { quote: ev.quote } : {}), ...(ev.eventLog !== undefined ? { eventLog: ev.eventLog } : {}) }, kit.keyName());
  if (problem === undefined) {
    kit.passSigned('HSV-CPL-02', ev.format === 'tpm2-quote'
      ? `TPM2_Quote by the ${kit.signing?.source === 'presented' ? 'presented' : 'enrolled'} AK over SHA-256 of the completion statement (henb-id ${kit.options.henbId}), nonce echoed, its event log is the completion's log`
      : `${ev.signatureAlgorithm} signature by ${kit.keyName()} over the completion statement (henb-id ${kit.options.henbId}), nonce echoed`, exchanges);
  } else {
    kit.fail('HSV-CPL-02', `${problem} (henb-id ${kit.options.henbId})`, expectedEv, exchanges);
  }
}

export function checkCompletion(kit: Kit, args: CompletionArgs): void {
  const { c, exchanges } = args;
  const problems = measuredProblems(args);
  if (problems.length > 0) {
    kit.fail('HSV-CPL-01', problems.join('; '), 'tim and measurement-log of the running software, the log replaying to the tim, tim = extend(old TIM, software-rim) for a live activation or the replay of the old log with the updated component replaced (reboot), self-check passed', exchanges);
  } else {
    kit.pass('HSV-CPL-01', `tim ${c.tim!.slice(0, 16)}... replays from its log, is the expected value from the TIM before, self-check passed`, exchanges);
  }
  checkEvidence(kit, args);
}
