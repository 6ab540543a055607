/**
 * After our side ends a connection, the peer has a bounded time to close its side; then the socket is destroyed.
 *
 * Why: ending a socket (ours, or ssh2's end() of an SSH connection) sends FIN and waits for the peer's. A peer
 * that never closes (a hung client, a device that stopped reading, a middlebox that lost the flow) leaves the
 * socket half-closed, FIN-WAIT-2 here and CLOSE-WAIT there, for as long as the process runs: node holds the
 * socket while its read side is open, so the kernel's FIN-WAIT-2 timeout (tcp_fin_timeout, for orphaned sockets
 * only) never applies, and a server counts the connection against its connection limit. ssh2's destroy() does
 * nothing once the connection was ended (it destroys only a socket that is still writable), so an SSH
 * connection's socket is destroyed here directly.
 *
 * The timer is unref'd (it never keeps the process alive) and cleared when the socket closes (nothing is left
 * per connection); a socket gets one timer however many times it is armed. A peer that closes within the bound
 * sees an ordinary close, never a reset.
 */
import type { Socket } from 'node:net';

/** how long a peer has to close its side after we ended the connection */
export const PEER_CLOSE_MS = 5_000;

/** sockets whose timer is set */
const armed = new WeakSet<Socket>();

/** Our side has ended (or is ending) `socket`: destroy it unless it closes within `ms`. */
export function destroyUnlessClosed(socket: Socket, ms: number = PEER_CLOSE_MS): void {
  if (socket.destroyed || armed.has(socket)) return;
  armed.add(socket);
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** End our side of `socket` (unless ended already), then destroyUnlessClosed. */
export function endSocket(socket: Socket, ms: number = PEER_CLOSE_MS): void {
  if (socket.destroyed) return;
  if (!socket.writableEnded) socket.end();
  destroyUnlessClosed(socket, ms);
}

/**
 * For a socket that a layer above ends on its own (the NETCONF session ends a TLS socket, ssh2 ends its socket on
 * a protocol error or the peer's disconnect): destroyUnlessClosed once our end has been written ('finish').
 * Where we call end() ourselves, endSocket / endSshConnection also cover an end that cannot be written because
 * the peer stopped reading.
 */
export function destroyUnlessClosedAfterEnd(socket: Socket, ms: number = PEER_CLOSE_MS): void {
  socket.once('finish', () => destroyUnlessClosed(socket, ms));
}

/** an ssh2 Client or server Connection: end() sends SSH_MSG_DISCONNECT and ends the socket it keeps in `_sock` */
export interface SshConnectionLike {
  end(): unknown;
}

/** the TCP socket under an ssh2 connection (undefined before connect) */
export function sshSocketOf(conn: SshConnectionLike): Socket | undefined {
  return (conn as { _sock?: Socket })._sock;
}

/** End an SSH connection (ssh2's end: disconnect, then end the socket), then destroyUnlessClosed its socket. */
export function endSshConnection(conn: SshConnectionLike, ms: number = PEER_CLOSE_MS): void {
  conn.end();
  const socket = sshSocketOf(conn);
  if (socket !== undefined) destroyUnlessClosed(socket, ms);
}
