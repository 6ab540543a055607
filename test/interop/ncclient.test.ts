/**
 * Interop: python3-ncclient (a client we did not write) drives our server over SSH. A missing
 * /usr/bin/python3 or ncclient fails the test (scripts/install-peers.sh installs them).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createNetconfServer, generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import type { NetconfServer } from '../../src/netconf/server/index.js';
import { registerStandardOperations } from '../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../src/netconf/server/standard-ops.js';
import { childText, el, leaf } from '../../src/netconf/xml/index.js';

const T = 'urn:example:test-plugin';
const X = 'urn:example:inv';
const ROOT = join(import.meta.dirname, '../..');
const DRIVER = join(import.meta.dirname, 'helpers/ncclient_driver.py');

interface Step { step: string; [k: string]: unknown }

describe('ncclient drives our server', () => {
  let server: NetconfServer | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    server = undefined;
    dataDir = undefined;
  });

  it('connect, capabilities, filtered get, get-schema, plugin RPC, unknown op, edit-config, subscription, close', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hsv-ncclient-'));
    let std: StandardOperations | undefined;
    server = createNetconfServer({
      hostKeys: [generateEd25519KeyPair().private],
      auth: { users: [{ username: 'admin', password: 'interop-pw' }] },
      dataDir,
      operations: [(reg) => {
        std = registerStandardOperations(reg, { ietfYangDir: join(ROOT, 'yang/ietf') });
      }],
    });
    // the test plugin: an RPC and a stream, through the registry (the plugin surface)
    server.registry.addRpc(T, 'echo', async (op) => [leaf(T, 'reply', childText(op, T, 'text') ?? '')]);
    server.registry.addStream({ name: 'henb', description: 'test events', replaySupport: true });
    await server.registry.notify('henb', el(X, 'alarm', leaf(X, 'what', 'replayed-event')), new Date(Date.now() - 5000));
    const { port } = await server.listen('127.0.0.1', 0);

    const py = spawn('/usr/bin/python3', [DRIVER, String(port), 'admin', 'interop-pw'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    py.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      py.on('error', reject);
      py.on('close', (code) => resolve(code));
    });
    const steps = new Map<string, Step>();
    const rl = createInterface({ input: py.stdout });
    for await (const line of rl) {
      const s = JSON.parse(line) as Step;
      steps.set(s.step, s);
      if (s.step === 'subscribed') {
        await server.registry.notify('henb', el(X, 'alarm', leaf(X, 'what', 'live-event')));
        py.stdin.write('go\n');
      }
    }
    const code = await exited;
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);

    const caps = steps.get('connected')!.capabilities as string[];
    expect(caps).toContain('urn:ietf:params:netconf:base:1.1');
    expect(caps).toContain('urn:ietf:params:netconf:capability:notification:1.0');
    expect(caps).toContain('urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04');
    expect(caps.some((c) => /^urn:ietf:params:netconf:capability:yang-library:1\.0\?revision=2016-06-21&module-set-id=[0-9a-f]{32}$/.test(c))).toBe(true);

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
