/** A `demo --listen` process-in-a-test: serving on loopback port 0 until stopped, for CLI tests to drive. */
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { until } from './until.js';

export interface ServingDemo {
  /** a temporary directory (the demo's data dir is `dir/demo`) */
  dir: string;
  /** the demo's --json ready line */
  ready: { port: number; hostKey: string; publicKey: string; software: string; fleet: string[]; jwks: string };
  /** stop the demo; resolves with its exit code, then removes `dir` */
  stop(): Promise<number>;
}

export async function startServingDemo(fleet: string, password: string, prefix = 'hsv-demo-'): Promise<ServingDemo> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const out = new BufferWritable();
  const abort = new AbortController();
  const serving = runCli(['demo', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'demo'), '--fleet', fleet, '--json', '--log-level', 'silent'],
    { stdout: out, stderr: new BufferWritable(), env: { HENB_SW_VERIFY_ADMIN_PASSWORD: password }, signal: abort.signal });
  await until(() => out.text().includes('\n'), 'the demo ready line');
  return {
    dir,
    ready: JSON.parse(out.text()) as ServingDemo['ready'],
    async stop() {
      abort.abort();
      const code = await serving;
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * One serving demo for a whole test file: started before its tests (handed to `onReady`), stopped after them,
 * and the stop must exit 0.
 */
export function useServingDemo(fleet: string, password: string, prefix: string, onReady: (demo: ServingDemo) => void): void {
  let demo: ServingDemo | undefined;
  beforeAll(async () => {
    demo = await startServingDemo(fleet, password, prefix);
    onReady(demo);
  }, 60_000);
  afterAll(async () => {
    expect(await demo?.stop()).toBe(0);
  }, 30_000);
}
