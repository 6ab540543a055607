/**
 * Interop: python3-ncclient's `get(filter=('xpath', ...))` and `get_config(filter=('xpath', ...))`
 * (:xpath, RFC 6241 8.9), with a plain expression and with (namespaces, expression); a bad expression
 * is an rpc-error ncclient parses. A missing /usr/bin/python3 or ncclient fails the test.
 */
import { describe, expect, it } from 'vitest';
import { useTestServers } from '../helpers/netconf-server.js';
import { runNcclient } from './helpers/ncclient.js';

const NCM = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';
const X = 'urn:example:inv';

interface RpcErr { tag: string; type: string; severity: string; path: string | null; message: string | null; info: string | null }
interface Step { step: string; error?: RpcErr | null; xml?: string; [k: string]: unknown }

describe('ncclient XPath filters against our server', () => {
  const servers = useTestServers('hsv-ncclient-xpath-');

  it('get and get-config with xpath filters return the selected data; bad expressions are invalid-value', async () => {
    const { server } = servers.start({ standard: { eventLog: false } });
    const { port } = await server.listen('127.0.0.1', 0);
    const { steps, code, stderr } = await runNcclient<Step>('ncclient_xpath.py', port);
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    const step = (name: string): Step => {
      const s = steps.get(name);
      expect(s, name).toBeDefined();
      return s!;
    };
    const squash = (x: string): string => x.replace(/>\s+</g, '><').replace(/ xmlns:nc="[^"]*"/g, '');
    expect(step('connected').capabilities).toContain('urn:ietf:params:netconf:capability:xpath:1.0');
    const sid = String(step('connected').session_id);

    const sessions = squash(step('sessions').xml!);
    expect(step('sessions').error).toBeNull();
    expect(sessions).toContain(`<netconf-state xmlns="${NCM}"><sessions><session><session-id>${sid}</session-id>`);
    expect(sessions).not.toContain('<schemas>');

    // the session list keeps its key: session-id comes with each username
    expect(step('usernames').error).toBeNull();
    expect(squash(step('usernames').xml!)).toContain(
      `<netconf-state xmlns="${NCM}"><sessions><session><session-id>${sid}</session-id><username>admin</username></session></sessions></netconf-state>`);

    expect(step('config').error).toBeNull();
    expect(squash(step('config').xml!)).toContain(`<inv xmlns="${X}"><henb><henb-id>b</henb-id><address>10.0.0.2</address></henb></inv>`);
    expect(step('config').xml).not.toContain('10.0.0.1');

    expect(step('bad').error).toMatchObject({ tag: 'invalid-value', type: 'protocol', severity: 'error' });
    expect(step('bad').error!.message).toContain('XPath expression "/x:inv/x:henb["');
    expect(step('bad').error!.info).toContain('<bad-attribute>select</bad-attribute>');
    expect(step('undeclared').error).toMatchObject({ tag: 'invalid-value', type: 'protocol' });
    expect(step('undeclared').error!.message).toContain('prefix "y" is not declared');
    expect(steps.has('closed')).toBe(true);
  });
});
