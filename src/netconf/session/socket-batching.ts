/**
 * Write batching for a TCP socket under SSH: every SSH packet is a separate socket write, so
 * pipelined replies cost one syscall each. When input arrives the socket is corked, and uncorked
 * after the I/O phase (setImmediate), so everything written in reaction to that input goes out in one
 * writev. Output produced later (not in reaction to input) is written at once, uncorked.
 */
import type { Socket } from 'node:net';

export function batchWritesPerRead(sock: Socket | undefined): void {
  if (!sock || typeof sock.cork !== 'function') return;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    if (!sock.destroyed) sock.uncork();
  };
  sock.prependListener('data', () => {
    if (corked) return;
    corked = true;
    sock.cork();
    setImmediate(uncork);
  });
}
