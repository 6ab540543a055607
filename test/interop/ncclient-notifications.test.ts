/**
 * Interop: python3-ncclient (a client we did not write) against our RFC 5277 create-subscription: the
 * errors of section 2.1.1 and 6.5 as ncclient reports them, a replay window that ends with
 * notificationComplete, and a new subscription after it. A missing /usr/bin/python3 or ncclient fails
 * the test (scripts/install-peers.sh installs them).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createNetconfServer, generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import type { NetconfServer } from '../../src/netconf/server/index.js';
import { registerStandardOperations } from '../../src/netconf/server/standard-ops.js';
import { el, leaf } from '../../src/netconf/xml/index.js';

const ROOT = join(import.meta.dirname, '../..');
const DRIVER = join(import.meta.dirname, 'helpers/ncclient_subscribe.py');
const X = 'urn:example:ev';

interface Step { step: string; error?: { tag: string; type: string; severity: string; info: string | null } | null; [k: string]: unknown }

describe('ncclient and RFC 5277 create-subscription', () => {
  let server: NetconfServer | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    server = undefined;
    dataDir = undefined;
  });

  it('errors, a replay window with notificationComplete, then one subscription at a time', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hsv-ncclient-sub-'));
    server = createNetconfServer({
      hostKeys: [generateEd25519KeyPair().private],
      auth: { users: [{ username: 'admin', password: 'interop-pw' }] },
      dataDir,
      operations: [(reg) => void registerStandardOperations(reg, { ietfYangDir: join(ROOT, 'yang/ietf') })],
    });
    server.registry.addStream({ name: 'henb', description: 'replayed', replaySupport: true });
    server.registry.addStream({ name: 'live', description: 'no replay', replaySupport: false });
    const t = Date.now() - 60_000;
    // two events inside the window, one after it
    for (const [i, at] of [[1, t + 1000], [2, t + 2000], [3, t + 10_000]] as const) {
      await server.registry.notify('henb', el(X, `ev${i}`, leaf(X, 'n', i)), new Date(at));
    }
    const { port } = await server.listen('127.0.0.1', 0);

    const py = spawn('/usr/bin/python3', [DRIVER, String(port), 'admin', 'interop-pw', new Date(t).toISOString(), new Date(t + 5000).toISOString()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    py.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      py.on('error', reject);
      py.on('close', (code) => resolve(code));
    });
    const steps = new Map<string, Step>();
    for await (const line of createInterface({ input: py.stdout })) {
      const s = JSON.parse(line) as Step;
      steps.set(s.step, s);
    }
    const code = await exited;
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
