/**
 * demo --call-home-listen HOST:0: the devices must be told the OAM's call-home port before they call, so the demo
 * picks a free one; when another process takes it before the OAM binds it, the demo starts on another port and
 * tells the devices that one (src/free-port.ts withFreePort; was a port found free and hoped to stay so).
 */
import { afterAll, expect, it, vi } from 'vitest';
import { connect } from 'node:net';
import type { Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoStack } from '../../src/cli/commands/demo.js';
import type { DemoStack } from '../../src/cli/commands/demo.js';
import { silentLogger } from '../../src/log/logger.js';
import type * as FreePort from '../../src/free-port.js';

const race = vi.hoisted(() => ({ picked: [] as number[], taken: [] as Server[] }));

// the other process: it takes the first port picked, between the pick and the OAM's bind
vi.mock('../../src/free-port.js', async (importOriginal) => {
  const actual = await importOriginal<typeof FreePort>();
  const { createServer } = await import('node:net');
  return {
    ...actual,
    withFreePort: <T>(start: (port: number) => Promise<T> | T, o?: Parameters<typeof actual.withFreePort>[1]) => actual.withFreePort(async (port) => {
      race.picked.push(port);
      if (race.picked.length === 1) {
        race.taken.push(await new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(port, '127.0.0.1', () => resolve(s));
        }));
      }
      return start(port);
    }, o),
  };
});

let dir: string | undefined;
let stack: DemoStack | undefined;
afterAll(async () => {
  await stack?.close();
  for (const s of race.taken) await new Promise((r) => s.close(r));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('a call-home port taken before the OAM binds it: the OAM starts on another, and that is the port the devices are told', async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-demo-ch-'));
  stack = await startDemoStack({
    fleet: [{ profile: 'healthy', count: 1 }], listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'demo'), adminPassword: 'demo-ch-pw', env: {},
    log: silentLogger, callHomeListen: { host: '127.0.0.1', port: 0 },
  });
  expect(race.picked).toHaveLength(2);
  expect(stack.callHome).toEqual({ host: '127.0.0.1', port: race.picked[1] });
  // the port handed on is the OAM's: its SSH call-home listener greets there
  const banner = await new Promise<string>((resolve, reject) => {
    const c = connect(stack!.callHome!.port, '127.0.0.1');
    c.once('data', (d: Buffer) => {
      c.destroy();
      resolve(d.toString());
    });
    c.once('error', reject);
  });
  expect(banner).toMatch(/^SSH-2\.0-/);
}, 60_000);
