/**
 * Interop: python3-ncclient sends the requests whose answers the RFC 6241 conformance audit changed
 * (edit-config attributes and default-operation replace, error-path keys, unknown parameters, with-defaults,
 * delete-config of running) and parses our rpc-errors. A missing /usr/bin/python3 or ncclient fails
 * the test (scripts/install-peers.sh installs them).
 */
import { describe, expect, it } from 'vitest';
import { useTestServers } from '../helpers/netconf-server.js';
import { runNcclient } from './helpers/ncclient.js';

const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';

interface RpcErr { tag: string; type: string; severity: string; path: string | null; message: string | null; info: string | null }
interface Step { step: string; error?: RpcErr | null; xml?: string; [k: string]: unknown }

describe('ncclient against the RFC 6241 conformance fixes', () => {
  const servers = useTestServers('hsv-ncclient-conf-');

  it('unknown-attribute, error-path keys, default-operation replace, unknown-namespace, delete-config running', async () => {
    const { server } = servers.start({ standard: { eventLog: false } });
    const { port } = await server.listen('127.0.0.1', 0);

    const { steps, code, stderr } = await runNcclient<Step>('ncclient_conformance.py', port);
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    const step = (name: string): Step => {
      const s = steps.get(name);
      expect(s, name).toBeDefined();
      return s!;
    };

    // an unqualified operation attribute: unknown-attribute, nothing changed (ncclient gives error-info
    // as XML text with the base namespace as default)
    expect(step('unqualified-operation').error!.info).toContain(`<error-info xmlns="${NC}"`);
    expect(step('unqualified-operation').error).toMatchObject({ tag: 'unknown-attribute', type: 'protocol', severity: 'error' });
    expect(step('unqualified-operation').error!.info).toContain('<bad-attribute>operation</bad-attribute>');
    expect(step('unqualified-operation').error!.info).toContain('<bad-element>henb</bad-element>');
    expect(step('after-unqualified').xml).toContain('<henb-id>a</henb-id>');
    expect(step('after-unqualified').xml).not.toContain('operation=');
    expect(step('qualified-operation').error).toBeNull();
    expect(step('after-qualified').xml).not.toContain('<henb-id>a</henb-id>');
    expect(step('after-qualified').xml).toContain('<henb-id>b</henb-id>');

    // data-exists with the entry named by its key
    expect(step('create-existing').error).toMatchObject({ tag: 'data-exists', type: 'application' });
    expect(step('create-existing').error!.path).toMatch(/^\/(\w+):inv\/\1:henb\[\1:henb-id='b'\]$/);

    // default-operation replace: the untouched top-level <other> is gone, the merged <inv> keeps b
    expect(step('replace-all').error).toBeNull();
    const after = step('after-replace').xml!;
    expect(after).not.toContain('<other');
    expect(after).toContain('<henb-id>b</henb-id>');
    expect(after).toContain('<henb-id>c</henb-id>');

    // RFC 6243 with-defaults (the modes over our YANG defaults: test/netconf/ops/with-defaults.test.ts)
    expect(step('connected').capabilities as string[]).toContain(
      'urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim');
    expect(step('with-defaults').error).toBeNull();
    expect(step('with-defaults').xml).toContain('<henb-id>c</henb-id>');
    expect(step('with-defaults-bad').error).toMatchObject({ tag: 'invalid-value', type: 'application' });
    expect(step('with-defaults-bad').error!.info).toContain('<bad-element>with-defaults</bad-element>');

    // RFC 6241 7.4
    expect(step('delete-running').error).toMatchObject({ tag: 'unknown-element', type: 'protocol' });
    expect(step('delete-running').error!.message).toMatch(/cannot be deleted/);
    expect(step('delete-running').error!.info).toContain('<bad-element>running</bad-element>');
    expect(steps.has('closed')).toBe(true);
  });
});
