/**
 * Notifications (ServerSession.sendMessage) sent in separate callbacks of one turn of the event loop are written to
 * the transport together, at the end of the turn (issue 15: a verified job's 11 notifications were 11 writes, each
 * an SSH packet and a syscall, whatever else the OAM sent in the same turn). The peer receives the same bytes in
 * the same order: notifications in the order sent, a reply sent after a notification after it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Duplex } from 'node:stream';
import { ServerSession, BASE_10, BASE_11 } from '../../../src/netconf/session/index.js';
import { el, NETCONF_NOTIFICATION_NS } from '../../../src/netconf/xml/index.js';
import { CLIENT_HELLO_10, NS } from './helpers.js';

const sessions: ServerSession[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.kill(new Error('test over'));
});

/** a transport that records each write the session makes, and lets the test feed it input */
function recordingTransport(): { stream: Duplex; writes: string[] } {
  const writes: string[] = [];
  const stream = new Duplex({
    read() { /* input is pushed by the test */ },
    write(chunk: Buffer | string, _enc, cb) {
      writes.push(Buffer.from(chunk as Buffer).toString('utf8'));
      cb();
    },
  });
  return { stream, writes };
}

const note = (i: number): string => `<notification xmlns="${NETCONF_NOTIFICATION_NS}"><eventTime>2026-12-06T00:00:0${i}Z</eventTime><e xmlns="urn:t">${i}</e></notification>`;
const EOM = ']]>]]>';
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function openSession(handleRpc: ConstructorParameters<typeof ServerSession>[1]['handleRpc'] = () => [el(NS, 'ok')]): Promise<{ srv: ServerSession; writes: string[]; stream: Duplex }> {
  const { stream, writes } = recordingTransport();
  const srv = new ServerSession(stream, { sessionId: 3, capabilities: [BASE_10, BASE_11], handleRpc });
  sessions.push(srv);
  stream.push(Buffer.from(CLIENT_HELLO_10 + EOM));
  await turn();
  expect(srv.established).toBe(true);
  writes.length = 0; // the server's hello
  return { srv, writes, stream };
}

describe('notifications of one turn of the event loop', () => {
  it('sent from separate callbacks of the turn are one write, in order, the same bytes', async () => {
    const { srv, writes } = await openSession();
    // three timers due together run in one turn (the timers phase), each callback with its own process.nextTick
    await new Promise<void>((done) => {
      for (const i of [1, 2, 3]) setTimeout(() => { srv.sendMessage(note(i)); }, 1);
      setTimeout(() => setImmediate(() => setImmediate(done)), 1);
    });
    expect(writes).toEqual([note(1) + EOM + note(2) + EOM + note(3) + EOM]);
  });

  it('a reply sent after a notification goes out after it, in the same write', async () => {
    let answer: ((v: ReturnType<typeof el>[]) => void) | undefined;
    const { srv, writes, stream } = await openSession(() => new Promise((r) => { answer = r; }));
    stream.push(Buffer.from(`<rpc xmlns="${NS}" message-id="9"><get/></rpc>${EOM}`));
    await turn();
    expect(answer).toBeDefined();
    await new Promise<void>((done) => {
      setTimeout(() => { srv.sendMessage(note(1)); }, 1);
      setTimeout(() => { answer!([el(NS, 'ok')]); }, 1);
      setTimeout(() => { srv.sendMessage(note(2)); }, 1);
      setTimeout(() => setImmediate(() => setImmediate(done)), 1);
    });
    // the reply (written at the end of its callback) takes the notification queued before it along; the
    // notification after it waits for the end of the turn
    expect(writes).toEqual([note(1) + EOM + `<rpc-reply xmlns="${NS}" message-id="9"><ok/></rpc-reply>` + EOM, note(2) + EOM]);
  });
});
