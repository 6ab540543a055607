/**
 * src/netconf/peer-close.ts on its own, with fake timers and a stand-in socket: the socket is destroyed only when it
 * has not closed within the bound, the timer is unref'd and cleared on close, one timer per socket.
 * The loopback tests are beside each transport's (test/netconf/server, client, device: peer-close.test.ts).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PEER_CLOSE_MS, destroyUnlessClosed, destroyUnlessClosedAfterEnd, endSocket, endSshConnection } from '../../src/netconf/peer-close.js';

/** what the helper uses of a socket: destroyed, writableEnded, end(), destroy(), 'close' and 'finish' */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableEnded = false;
  ends = 0;
  destroys = 0;
  end(): this {
    this.ends++;
    this.writableEnded = true;
    return this;
  }
  destroy(): this {
    this.destroys++;
    this.close();
    return this;
  }
  /** the peer closed too (or the socket was destroyed) */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close', false);
  }
}
const asSocket = (f: FakeSocket): Socket => f as unknown as Socket;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('destroyUnlessClosed', () => {
  it('destroys a socket still open when the bound has passed, not a moment before', () => {
    const f = new FakeSocket();
    destroyUnlessClosed(asSocket(f), 100);
    vi.advanceTimersByTime(99);
    expect(f.destroys).toBe(0);
    vi.advanceTimersByTime(1);
    expect(f.destroys).toBe(1);
  });

  it('a socket that closes within the bound is left alone and its timer cleared', () => {
    const f = new FakeSocket();
    destroyUnlessClosed(asSocket(f), 100);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(50);
    f.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(f.destroys).toBe(0);
  });

  it('one timer per socket however often it is armed; none for a socket already gone', () => {
    const f = new FakeSocket();
    destroyUnlessClosed(asSocket(f), 100);
    destroyUnlessClosed(asSocket(f), 10);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(f.destroys).toBe(1);
    const gone = new FakeSocket();
    gone.close();
    destroyUnlessClosed(asSocket(gone), 100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the timer keeps nothing alive (unref) and the default bound is PEER_CLOSE_MS, 5 s', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const f = new FakeSocket();
      destroyUnlessClosed(asSocket(f));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]![1]).toBe(PEER_CLOSE_MS);
      expect((spy.mock.results[0]!.value as NodeJS.Timeout).hasRef()).toBe(false);
      expect(PEER_CLOSE_MS).toBe(5_000);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('endSocket, destroyUnlessClosedAfterEnd, endSshConnection', () => {
  it('endSocket ends our side once (not again when ended already) and arms the bound', () => {
    const f = new FakeSocket();
    endSocket(asSocket(f), 100);
    endSocket(asSocket(f), 100);
    expect(f.ends).toBe(1);
    vi.advanceTimersByTime(100);
    expect(f.destroys).toBe(1);
  });

  it('destroyUnlessClosedAfterEnd arms the bound only when our end has been written', () => {
    const f = new FakeSocket();
    destroyUnlessClosedAfterEnd(asSocket(f), 100);
    vi.advanceTimersByTime(1_000);
    expect(f.destroys).toBe(0); // not ended: the connection lives on
    f.emit('finish');
    vi.advanceTimersByTime(100);
    expect(f.destroys).toBe(1);
  });

  it('endSshConnection ends the SSH connection and bounds its socket (ssh2 keeps it in _sock)', () => {
    const f = new FakeSocket();
    const conn = { end: vi.fn(), _sock: f };
    endSshConnection(conn, 100);
    expect(conn.end).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(100);
    expect(f.destroys).toBe(1);
    // before connect() there is no socket: ending is all there is to do
    expect(() => endSshConnection({ end: () => undefined }, 100)).not.toThrow();
  });
});
