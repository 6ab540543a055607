/**
 * RFC 6022 counters for notifications, over real loopback SSH: out-notifications counts the
 * <notification> messages sent, per session (sessions/session) and in total (statistics); replayed
 * events and replayComplete are notifications too. A session with no subscription sends none.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { child, childText, childrenNamed, el, elements, leaf } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { startServer } from '../server/helpers.js';
import type { Started } from '../server/helpers.js';

const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const N = 'urn:ietf:params:xml:ns:netconf:notification:1.0';
const M = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';
const X = 'urn:example:counted';
const YANG_DIR = join(import.meta.dirname, '../../../yang/ietf');

let s: Started | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

async function next(it: AsyncIterator<XmlElement>): Promise<XmlElement> {
  const r = await it.next();
  if (r.done) throw new Error('notification stream ended');
  return r.value;
}

describe('RFC 6022 out-notifications', () => {
  it('counts what each session was sent, and the total', async () => {
    s = await startServer({ operations: [(reg) => void registerStandardOperations(reg, { ietfYangDir: YANG_DIR })] });
    s.server.registry.addStream({ name: 'henb', description: 'H(e)NB events', replaySupport: true });
    await s.server.registry.notify('henb', el(X, 'ev', leaf(X, 'n', 0)), new Date(Date.now() - 5000));
    const subscriber = await s.connect();
    const other = await s.connect();
    const notes = subscriber.notifications()[Symbol.asyncIterator]();
    await subscriber.rpc(`<create-subscription xmlns="${N}"><stream>henb</stream><startTime>${new Date(Date.now() - 60_000).toISOString()}</startTime></create-subscription>`);
    const got: string[] = [];
    const take = async (): Promise<void> => void got.push(elements(await next(notes))[1]!.name);
    await take(); // the replayed event
    await take(); // replayComplete
    for (let i = 1; i <= 2; i++) {
      await s.server.registry.notify('henb', el(X, 'ev', leaf(X, 'n', i)));
      await take();
    }
    expect(got).toEqual(['ev', 'replayComplete', 'ev', 'ev']);

    const reply = await other.rpc(`<get xmlns="${NC}"><filter type="subtree"><netconf-state xmlns="${M}"><sessions/><statistics/></netconf-state></filter></get>`);
    const state = child(child(reply, NC, 'data')!, M, 'netconf-state')!;
    const perSession = new Map(childrenNamed(child(state, M, 'sessions')!, M, 'session')
      .map((e) => [Number(childText(e, M, 'session-id')), Number(childText(e, M, 'out-notifications'))]));
    expect(perSession.get(subscriber.sessionId)).toBe(got.length);
    expect(perSession.get(other.sessionId)).toBe(0);
    expect(Number(childText(child(state, M, 'statistics')!, M, 'out-notifications'))).toBe(got.length);
  });
});
