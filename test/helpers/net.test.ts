import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { addressInUse, refusedPort, timeWait, withFreePort } from './net.js';

const listen = (port: number): Promise<Server> => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(port, '127.0.0.1', () => resolve(s));
});

describe('withFreePort (a port handed to a peer that binds it later)', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('a start that fails because another process took the port meanwhile is tried again on another port', async () => {
    const tried: number[] = [];
    const cleaned: number[] = [];
    const s = await withFreePort(async (port) => {
      tried.push(port);
      if (tried.length === 1) servers.push(await listen(port)); // the other process, between the pick and the bind
      return listen(port);
    }, { cleanUp: (port) => void cleaned.push(port) });
    servers.push(s);
    expect(tried).toHaveLength(2);
    expect(cleaned).toEqual([tried[0]]);
    expect((s.address() as { port: number }).port).toBe(tried[1]);
  });

  it('other failures are thrown at once; EADDRINUSE at most `attempts` times', async () => {
    let n = 0;
    await expect(withFreePort(() => {
      n++;
      throw new Error('no');
    })).rejects.toThrow('no');
    expect(n).toBe(1);
    n = 0;
    await expect(withFreePort(() => {
      n++;
      throw Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    }, { attempts: 3 })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(n).toBe(3);
  });

  it('addressInUse: the code on the error or its causes, or a child process saying so', () => {
    expect(addressInUse(new Error('activate failed', { cause: new Error('call home', { cause: Object.assign(new Error('x'), { code: 'EADDRINUSE' }) }) }))).toBe(true);
    expect(addressInUse(Object.assign(new Error('Command failed'), { stderr: 'Bind to port 5 on 127.0.0.1 failed: Address already in use.' }))).toBe(true);
    expect(addressInUse(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(addressInUse('EADDRINUSE')).toBe(false);
  });
});

describe('refusedPort (a port where nothing listens, for tests that expect a refusal)', () => {
  const refused = (port: number): Promise<unknown> => new Promise((resolve) => {
    const c = connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve('connected');
    });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });

  it('a connection to it is refused, and no other process can listen on it until released', async () => {
    const r = await refusedPort();
    try {
      expect(await refused(r.port)).toBe('ECONNREFUSED');
      // the other process that would take a port found free before the test dials it
      await expect(listen(r.port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(await refused(r.port)).toBe('ECONNREFUSED');
    } finally {
      await r.release();
    }
    // free again at once: reset, so neither end of the held connection is left in TIME_WAIT. (Listening on the
    // port here to show it raced with the rest of the machine: a port just released is one the kernel may hand
    // to any other process's outgoing connection at once, which made that check fail under load.)
    expect(timeWait(r.port, r.listenerPort)).toEqual([]);
  });
});
