/**
 * Interop: python3-ncclient (a client we did not write) against our RFC 5277 create-subscription: the
 * errors of section 2.1.1 and 6.5 as ncclient reports them, a replay window that ends with
 * notificationComplete, and a new subscription after it. A missing /usr/bin/python3 or ncclient fails
 * the test (scripts/install-peers.sh installs them).
 */
import { describe, expect, it } from 'vitest';
import { el, leaf } from '../../src/netconf/xml/index.js';
import { useTestServers } from '../helpers/netconf-server.js';
import { runNcclient } from './helpers/ncclient.js';

const X = 'urn:example:ev';

interface Step { step: string; error?: { tag: string; type: string; severity: string; info: string | null } | null; [k: string]: unknown }

describe('ncclient and RFC 5277 create-subscription', () => {
  const servers = useTestServers('hsv-ncclient-sub-');

  it('errors, a replay window with notificationComplete, then one subscription at a time', async () => {
    const { server } = servers.start({ standard: true });
    server.registry.addStream({ name: 'henb', description: 'replayed', replaySupport: true });
    server.registry.addStream({ name: 'live', description: 'no replay', replaySupport: false });
    const t = Date.now() - 60_000;
    // two events inside the window, one after it
    for (const [i, at] of [[1, t + 1000], [2, t + 2000], [3, t + 10_000]] as const) {
      await server.registry.notify('henb', el(X, `ev${i}`, leaf(X, 'n', i)), new Date(at));
    }
    const { port } = await server.listen('127.0.0.1', 0);

    const { steps, code, stderr } = await runNcclient<Step>('ncclient_subscribe.py', port, [new Date(t).toISOString(), new Date(t + 5000).toISOString()]);
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);

    // RFC 5277 2.1.1: replay on a stream without replay support -> operation-failed, protocol, no error-info
    expect(steps.get('replay-unsupported')!.error).toMatchObject({ tag: 'operation-failed', type: 'protocol', severity: 'error' });
    expect(steps.get('replay-unsupported')!.error!.info ?? '').not.toContain('bad-element');
    // RFC 3339 5.7: there is no February 30
    expect(steps.get('bad-date')!.error).toMatchObject({ tag: 'invalid-value', type: 'protocol' });
    expect(steps.get('bad-date')!.error!.info).toContain('startTime');
    // 2.1.1 / 3.7: the window's events, replayComplete, notificationComplete; ev3 is after stopTime
    expect(steps.get('window')!.names).toEqual(['ev1', 'ev2', 'replayComplete', 'notificationComplete']);
    // the window's subscription has ended: a new one is accepted; a second while it is active is not (6.5)
    expect(steps.get('after-complete')!.error).toBeNull();
    expect(steps.get('second')!.error).toMatchObject({ tag: 'operation-failed', type: 'protocol', severity: 'error' });
    // :interleave
    expect(steps.get('streams')!.xml as string).toContain('<name>live</name>');
    expect(steps.has('closed')).toBe(true);
  });
});
