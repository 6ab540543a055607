import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { within } from '../../bench/_bounded.js';
import { alive } from '../helpers/process.js';

const fixture = new URL('./fixtures/blocked-main.ts', import.meta.url).pathname;

describe('bench bounds', () => {
  it('within: the value when it settles in time, else an error naming the step', async () => {
    await expect(within(Promise.resolve(7), 1_000, () => 'quick')).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('own')), 1_000, () => 'failing')).rejects.toThrow('own');
    await expect(within(new Promise(() => undefined), 50, () => 'lane 3: close of session 9')).rejects.toThrow('lane 3: close of session 9 did not settle within 0.05 s');
  });

  // 6 December: bench/fleet.ts's main thread deadlocked inside node, so its own time limit (a timer there) never fired
  it('the backstop ends a process whose main thread is blocked, and the children it was told of', async () => {
    const r = await new Promise<{ signal: string | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, BACKSTOP_MS: '300' }, timeout: 15_000, killSignal: 'SIGTERM' }, (err, stdout, stderr) => {
        resolve({ signal: (err as { signal?: string } | null)?.signal ?? null, stdout, stderr });
      });
    });
    const pid = Number(/GRANDCHILD (\d+)/.exec(r.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    try {
      expect(r.signal).toBe('SIGKILL'); // the backstop's, not execFile's timeout (SIGTERM)
      expect(r.stderr).toContain('BENCHMARK BACKSTOP: test limit after 0.3 s: the main thread did not end the benchmark (blocked?); 1 children and this process killed');
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((res) => setTimeout(res, 20));
      expect(alive(pid)).toBe(false);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
