/**
 * The ad-hoc benches' question to a child process over its IPC channel (bench/_device-session.ts, _ssh-worker.ts):
 * send `{ op }`, resolve with the first message whose op is `reply` (the same op by default).
 */
import type { ChildProcess } from 'node:child_process';

export function askChild<T>(child: ChildProcess, op: string, reply: string = op): Promise<T> {
  return new Promise((res) => {
    const on = (m: { op: string }): void => {
      if (m.op !== reply) return;
      child.off('message', on);
      res(m as T);
    };
    child.on('message', on);
    child.send({ op });
  });
}
