/**
 * The sockets this process connects while a capture is on (net.Socket.prototype.connect, which ssh2's client and
 * tls.connect both call), with the port each dialled: a test finds the socket a library made for it and waits for
 * that socket's 'close'. `stop()` puts the original method back.
 */
import { Socket } from 'node:net';

export interface ConnectCapture {
  /** the sockets that dialled `port`, oldest first */
  to(port: number): Socket[];
  stop(): void;
}

export function captureConnects(): ConnectCapture {
  const seen: Array<{ socket: Socket; port: number | undefined }> = [];
  const proto = Socket.prototype as unknown as { connect: (...args: unknown[]) => unknown };
  const original = proto.connect;
  proto.connect = function (this: Socket, ...args: unknown[]) {
    const first = args[0];
    const port = typeof first === 'number' ? first
      : typeof first === 'object' && first !== null && 'port' in first ? Number((first as { port: unknown }).port) : undefined;
    seen.push({ socket: this, port });
    return original.apply(this, args);
  };
  return {
    to: (port) => seen.filter((s) => s.port === port).map((s) => s.socket),
    stop: () => {
      proto.connect = original;
    },
  };
}

/** resolves when `socket` has closed (at once when it has) */
export function closed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}
