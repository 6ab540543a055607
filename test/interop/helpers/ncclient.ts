/**
 * Runs one of the python3-ncclient helpers of this folder against our server on 127.0.0.1, as
 * `/usr/bin/python3 SCRIPT PORT USER PASSWORD ARGS...` (the user of test/helpers/netconf-server.ts).
 * The helpers print one JSON object per step, `{"step": NAME, ...}`, and `{"step": "exception", ...}`
 * when they fail (ncclient_common.py). A missing /usr/bin/python3 or ncclient fails the test
 * (scripts/install-peers.sh installs them).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PASSWORD, USER } from '../../helpers/netconf-server.js';

export interface NcclientStep { step: string; [k: string]: unknown }

export interface NcclientRun<S extends NcclientStep> {
  /** the last line of each step, by step name */
  steps: Map<string, S>;
  /** the exit code (null when killed) */
  code: number | null;
  stderr: string;
}

/**
 * Runs `script` to its end. `onStep` sees each step as it arrives and may answer the script with a line
 * on its stdin (`send`); without it, stdin is closed at once.
 */
export async function runNcclient<S extends NcclientStep = NcclientStep>(
  script: string, port: number, args: string[] = [], onStep?: (step: S, send: (line: string) => void) => Promise<void> | void,
  login: { user: string; password: string } = { user: USER, password: PASSWORD },
): Promise<NcclientRun<S>> {
  const py = spawn('/usr/bin/python3', [join(import.meta.dirname, script), String(port), login.user, login.password, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // no __pycache__ in the tree for the imported ncclient_common
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 50_000,
  });
  if (!onStep) py.stdin.end();
  let stderr = '';
  py.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    py.on('error', reject);
    py.on('close', (code) => resolve(code));
  });
  const steps = new Map<string, S>();
  for await (const line of createInterface({ input: py.stdout })) {
    const s = JSON.parse(line) as S;
    steps.set(s.step, s);
    await onStep?.(s, (answer) => py.stdin.write(`${answer}\n`));
  }
  return { steps, code: await exited, stderr };
}
