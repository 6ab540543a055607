/**
 * swtpm binds its two ports itself (TPM commands on P, control on P + 1), so the pair it is given was only free
 * when picked. When another process takes either port first, swtpm exits saying the address is in use: Swtpm
 * starts it again on another pair, and counts it started only when swtpm itself answers on its control port (a
 * listener of the other process on P accepted connections and passed for swtpm).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Swtpm } from '../../src/simulator/tpm/index.js';
import type * as FreePort from '../../src/free-port.js';

// `race.take` (0: P, 1: P + 1) of the first pair picked is taken by another process between the pick and swtpm's bind
const race = vi.hoisted(() => ({ take: 0, picked: [] as number[], taken: [] as Server[], accepted: [] as Socket[] }));

vi.mock('../../src/free-port.js', async (importOriginal) => {
  const actual = await importOriginal<typeof FreePort>();
  const { createServer } = await import('node:net');
  return {
    ...actual,
    freePortPair: async (host?: string) => {
      const p = await actual.freePortPair(host);
      race.picked.push(p);
      if (race.picked.length === 1) {
        race.taken.push(await new Promise<Server>((resolve, reject) => {
          const s = createServer((c) => { // accepts, never answers
            race.accepted.push(c);
            c.on('error', () => undefined);
          });
          s.once('error', reject);
          s.listen(p + race.take, '127.0.0.1', () => resolve(s));
        }));
      }
      return p;
    },
  };
});

describe('swtpm on a port pair another process takes first', () => {
  let tpm: Swtpm | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await tpm?.stop();
    for (const c of race.accepted.splice(0)) c.destroy();
    for (const s of race.taken.splice(0)) await new Promise((r) => s.close(r));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    race.picked.length = 0;
  });

  it.each([['the server port P', 0], ['the control port P + 1', 1]])('%s taken: started again on another pair, and the one it answers on', async (_what, take) => {
    race.take = take;
    dir = await mkdtemp(join(tmpdir(), 'hsv-swtpm-ports-'));
    tpm = new Swtpm({ stateDir: dir });
    await tpm.start();
    expect(race.picked).toHaveLength(2);
    expect(tpm.port).toBe(race.picked[1]);
    expect(tpm.tcti).toBe(`swtpm:host=127.0.0.1,port=${race.picked[1]}`);
    // the process kept is alive (process.kill(pid, 0) throws for one that exited)
    expect(() => process.kill(tpm!.pid!, 0)).not.toThrow();
  }, 30_000);
});
