/**
 * Interop: python3-ncclient (a client we did not write) drives our server over SSH. A missing
 * /usr/bin/python3 or ncclient fails the test (scripts/install-peers.sh installs them).
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { childText, el, leaf } from '../../src/netconf/xml/index.js';
import { useTestServers } from '../helpers/netconf-server.js';
import { runNcclient } from './helpers/ncclient.js';

const T = 'urn:example:test-plugin';
const X = 'urn:example:inv';

describe('ncclient drives our server', () => {
  const servers = useTestServers('hsv-ncclient-');

  it('connect, capabilities, filtered get, get-schema, plugin RPC, unknown op, edit-config, subscription, close', async () => {
    const { server, std } = servers.start({ standard: true });
    // the test plugin: an RPC and a stream, through the registry (the plugin surface)
    server.registry.addRpc(T, 'echo', async (op) => [leaf(T, 'reply', childText(op, T, 'text') ?? '')]);
    server.registry.addStream({ name: 'henb', description: 'test events', replaySupport: true });
    await server.registry.notify('henb', el(X, 'alarm', leaf(X, 'what', 'replayed-event')), new Date(Date.now() - 5000));
    const { port } = await server.listen('127.0.0.1', 0);

    const { steps, code, stderr } = await runNcclient('ncclient_driver.py', port, [], async (s, send) => {
      if (s.step === 'subscribed') {
        await server.registry.notify('henb', el(X, 'alarm', leaf(X, 'what', 'live-event')));
        send('go');
      }
    });
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);

    const caps = steps.get('connected')!.capabilities as string[];
    expect(caps).toContain('urn:ietf:params:netconf:base:1.1');
    expect(caps).toContain('urn:ietf:params:netconf:capability:notification:1.0');
    expect(caps).toContain('urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04');
    // RFC 8526 section 2 (NMDA), and RFC 7950 5.6.4's for clients of the deprecated /modules-state
    expect(caps.some((c) => /^urn:ietf:params:netconf:capability:yang-library:1\.1\?revision=2019-01-04&content-id=[0-9a-f]{32}$/.test(c))).toBe(true);
    expect(caps.some((c) => /^urn:ietf:params:netconf:capability:yang-library:1\.0\?revision=2019-01-04&module-set-id=[0-9a-f]{32}$/.test(c))).toBe(true);

    const got = steps.get('get-filter')!.xml as string;
    expect(got).toContain('<identifier>ietf-netconf-monitoring</identifier>');
    expect(got).not.toContain('<sessions>');

    const text = std!.ietfModules.find((m) => m.name === 'ietf-netconf-monitoring')!.text;
    expect(steps.get('get-schema')!.sha256).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));

    expect(steps.get('plugin-rpc')!.xml as string).toMatch(/<reply[^>]*>hello ncclient<\/reply>/);

    expect(steps.get('unknown-op')!.error).toMatchObject({ tag: 'operation-not-supported', type: 'protocol', severity: 'error' });
    expect(steps.get('candidate')!.error).toMatchObject({ tag: 'unknown-element', type: 'protocol' });

    expect(steps.get('edit-get-config')!.xml as string).toMatch(/<henb><henb-id>h1<\/henb-id><ip>10\.1\.1\.1<\/ip><\/henb>/);

    const denied = steps.get('lock-denied')!;
    expect(denied.error).toMatchObject({ tag: 'lock-denied', type: 'protocol' });
    expect(JSON.stringify(denied.error)).toContain(`session-id>${String(denied.holder)}<`);
    expect(steps.get('in-use')!.error).toMatchObject({ tag: 'in-use' });
    expect(steps.has('kill-session')).toBe(true);

    const notes = steps.get('notifications')!.xml as string[];
    expect(notes.length).toBe(3);
    expect(notes[0]).toContain('replayed-event');
    expect(notes[1]).toContain('replayComplete');
    expect(notes[2]).toContain('live-event');
    expect(notes[2]).toMatch(/<eventTime>\d{4}-\d{2}-\d{2}T/);

    expect(steps.get('interleave')!.ok).toBe(true);
    expect(steps.has('closed')).toBe(true);
  });
});
