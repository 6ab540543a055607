import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateKitTls } from '../../src/conformance/index.js';
import { startImageServer } from '../../src/conformance/image-server.js';
import type { ImageServer } from '../../src/conformance/image-server.js';
import { loopbackPeers, timeWait } from '../helpers/net.js';

/** what a TCP connection to port on 127.0.0.1 gets: 'connected' or the error code */
const dial = (port: number): Promise<string> => new Promise((resolve) => {
  const c = connect(port, '127.0.0.1');
  c.once('connect', () => {
    c.destroy();
    resolve('connected');
  });
  c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
});

/** what listening on port of 127.0.0.1 gets: 'listening' (then closed) or the error code */
const listen = (port: number): Promise<string> => new Promise((resolve) => {
  const s = createServer();
  s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve('listening')));
});

describe("the kit's image server: unreachableUrl", () => {
  let dir = '';
  let image: ImageServer | undefined;
  afterEach(async () => {
    await image?.close();
    image = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('a port where a connection is refused, which no other process can take until close (it was free for anyone: a race)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-image-'));
    image = await startImageServer(await loadOrCreateKitTls(join(dir, 'tls')), '127.0.0.1', 0, 1024);
    const ports = await Promise.all([image.unreachableUrl(), image.unreachableUrl()].map(async (u) => Number(new URL(await u).port)));
    expect(new Set(ports).size).toBe(2);
    const held: Array<[number, number]> = [];
    for (const p of ports) {
      expect(await dial(p)).toBe('ECONNREFUSED');
      expect(await listen(p)).toBe('EADDRINUSE');
      const peers = loopbackPeers(p); // the kit's listener, the held connection's other end
      expect(peers).toHaveLength(1);
      held.push([p, peers[0]!]);
    }
    await image.close();
    image = undefined;
    // released at once: the held connections were reset, so no TIME_WAIT keeps a port (listening on it here raced
    // with every other process's outgoing connections, which may take a released port at once)
    for (const [p, peer] of held) {
      expect(loopbackPeers(p)).toEqual([]);
      expect(timeWait(p, peer)).toEqual([]);
    }
  });
});
