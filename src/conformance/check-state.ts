/** HSV-STATE-01: software-slots and integrity (the state the OAM reads before and after an update). */
import { replayLog } from '../integrity/index.js';
import type { Kit } from './context.js';
import { describeSlots } from './context.js';

export async function checkState(kit: Kit): Promise<void> {
  const r = await kit.readState();
  if (!r.state) {
    kit.fail('HSV-STATE-01', r.problem ?? 'no state', 'software-slots (software-slot list) and integrity (tim, measurement-log) in <get>', [r.exchange]);
    return;
  }
  const { slots, tim, log } = r.state;
  kit.before = r.state;
  const running = slots.filter((s) => s.running);
  const problems: string[] = [];
  if (slots.length < 2) problems.push(`${slots.length} slot(s): an update needs an inactive slot besides the running one`);
  if (running.length !== 1) problems.push(`${running.length} running slots`);
  else if (running[0]!.status !== 'VALID' || !running[0]!.active) problems.push(`the running slot ${running[0]!.name} is ${running[0]!.status}${running[0]!.active ? '' : ', not active'}`);
  if (!slots.some((s) => !s.active)) problems.push('no inactive slot');
  if (!/^[0-9a-f]{64}$/.test(tim)) problems.push('integrity/tim is not a digest');
  else if (log.length === 0) problems.push('integrity/measurement-log is empty');
  else if (replayLog(null, log) !== tim) problems.push(`integrity/measurement-log replays to ${replayLog(null, log)}, not to integrity/tim ${tim}`);
  if (problems.length > 0) {
    kit.fail('HSV-STATE-01', problems.join('; '), 'two or more slots, exactly one running (VALID, active), an inactive one; integrity/tim = replay of integrity/measurement-log', [r.exchange]);
  } else {
    kit.pass('HSV-STATE-01', `${describeSlots(slots)}; TIM ${tim.slice(0, 16)}... replays from ${log.length} log entries`, [r.exchange]);
  }
}
