/**
 * Nothing lost to load (issue 15): "timeout while connecting" towards the PVE. A connection whose TCP connect, TLS or
 * SSH handshake or NETCONF hello does not finish within the client's connect timeout carried no request: it is
 * retried like a refused one, within the step's deadline, and the reason names the connecting that timed out. A
 * request that was written and got no answer in time (the PVE is appraising) is still ERR_PVE_TIMEOUT, never sent
 * again. A real PVE (RESTCONF/HTTPS and NETCONF/SSH) on loopback, behind a proxy that holds the first connections
 * silent (test/helpers/stall-proxy.ts); an evidence collector that can stall keeps the PVE busy after the request.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import type { EvidenceCollector } from '../../src/pve/types.js';
import { cellCollector, cellEntry } from './cells.js';
import { createPveClient } from '../../src/pve/client.js';
import { createNetconfPveClient } from '../../src/pve/netconf-client.js';
import type { PveIntegrityResult } from '../../src/pve/client.js';
import { DeviceConnectError } from '../../src/device/connect.js';
import type { DeviceConnector, DeviceSession } from '../../src/device/connect.js';
import { PVE_NS } from '../../src/pve/restconf.js';
import { el, leaf } from '../../src/netconf/xml/build.js';
import { NETCONF_BASE_NS } from '../../src/netconf/xml/types.js';
import { startStallProxy } from '../helpers/stall-proxy.js';
import type { StallProxy } from '../helpers/stall-proxy.js';
import type { PveIntegrityRequest } from '../../src/oam/index.js';

const signal = (): AbortSignal => new AbortController().signal;
/** no waiting between attempts (the backoff itself is tested in retry.test.ts): this file is about what is retried */
const noWait = { sleep: async (): Promise<void> => undefined };

let dir: string;
let pve: PveHandle;
let proxy: StallProxy | undefined;
const cells = new Map<string, Femtocell>();
const inner = cellCollector(cells);
/** evidence collections the PVE started (one per integrity request it received and appraises) */
let collections = 0;
/** the collector holds every collection until the PVE aborts it (the PVE "appraising" for longer than the client waits) */
let stallCollections = false;
const collector: EvidenceCollector = {
  collect(device, nonce, s) {
    collections++;
    if (!stallCollections) return inner.collect(device, nonce, s);
    return new Promise((_resolve, reject) => s.addEventListener('abort', () => reject(s.reason as Error), { once: true }));
  },
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-connect-timeout-'));
  for (const id of ['cell-rc', 'cell-nc']) cells.set(id, new Femtocell({ henbId: id, installMs: 1 }));
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: [...cells.values()].map(cellEntry), referenceValues: factoryReferenceValues(), collector,
    // the PVE gives up a stalled collection after 3 s; the clients below wait 2 s at most
    deviceTimeoutMs: 3_000, netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] },
  });
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  stallCollections = false;
  collections = 0;
});

afterAll(async () => {
  await pve?.close();
  for (const c of cells.values()) c.close();
  await rm(dir, { recursive: true, force: true });
});

type Transport = 'RESTCONF' | 'NETCONF';
const HENB: Record<Transport, string> = { RESTCONF: 'cell-rc', NETCONF: 'cell-nc' };

function client(transport: Transport, port: number, o: { timeoutMs: number; connectTimeoutMs: number; attempts?: number }): {
  integrityRequest(req: PveIntegrityRequest, s: AbortSignal, deadline?: number): Promise<PveIntegrityResult>; close(): void;
} {
  const retry = { ...noWait, ...(o.attempts !== undefined ? { attempts: o.attempts } : {}) };
  return transport === 'RESTCONF'
    ? createPveClient({ url: `https://127.0.0.1:${port}`, ca: pve.ca, timeoutMs: o.timeoutMs, connectTimeoutMs: o.connectTimeoutMs, retry })
    : createNetconfPveClient({
      host: '127.0.0.1', port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256,
      timeoutMs: o.timeoutMs, connectTimeoutMs: o.connectTimeoutMs, retry,
    });
}

const targetPort = (t: Transport): number => (t === 'RESTCONF' ? pve.port : pve.netconf!.port);
const request = (t: Transport): PveIntegrityRequest => ({ henbId: HENB[t], nonce: randomBytes(32).toString('base64url'), jobId: `job-${t}` });

describe('PVE: a connection not made within the connect timeout is retried (real PVE on loopback)', () => {
  it.each(['RESTCONF', 'NETCONF'] as const)('%s: the first connection never completes its handshake; the request succeeds on the second, sent once', async (t) => {
    proxy = await startStallProxy(targetPort(t), 1);
    // the connect timeout is what ends the stalled attempt: the whole-request timeout (20 s) would end the test first
    const c = client(t, proxy.port, { timeoutMs: 20_000, connectTimeoutMs: 1_500 });
    try {
      const out = await c.integrityRequest(request(t), signal(), Date.now() + 20_000);
      expect(out.earStatus).toBe('affirming');
    } finally {
      c.close();
    }
    expect(proxy.stalled).toBe(1);
    expect(proxy.connections).toBe(2);
    // the stalled attempt carried no request: the PVE appraised one
    expect(collections).toBe(1);
  }, 30_000);

  it.each([
    ['RESTCONF', /^the integrity request: no connection to the PVE after 2 attempts; last error: timed out connecting to the PVE at 127\.0\.0\.1:\d+: no TLS handshake within 300 ms$/],
    ['NETCONF', /^the integrity request: no connection to the PVE after 2 attempts; last error: timed out connecting to the PVE at 127\.0\.0\.1:\d+: no (SSH handshake|NETCONF session) with 127\.0\.0\.1:\d+ within 300 ms$/],
  ] as const)('%s: every connection stalls: the attempts used up, and the reason says that connecting timed out', async (t, reason) => {
    proxy = await startStallProxy(targetPort(t), Number.POSITIVE_INFINITY);
    const c = client(t, proxy.port, { timeoutMs: 20_000, connectTimeoutMs: 300, attempts: 2 });
    let e: (Error & { code?: string }) | undefined;
    try {
      e = await c.integrityRequest(request(t), signal()).then(() => undefined, (x: unknown) => x as Error);
    } finally {
      c.close();
    }
    expect(e?.code).toBe('ERR_PVE_UNREACHABLE');
    expect(e?.message).toMatch(reason);
    expect(proxy.stalled).toBe(2);
    expect(collections).toBe(0);
  }, 30_000);

  it.each(['RESTCONF', 'NETCONF'] as const)('%s: the request was written and the PVE is still appraising: ERR_PVE_TIMEOUT, not sent again', async (t) => {
    stallCollections = true;
    // a pass-through proxy (nothing stalled) counts the connections
    proxy = await startStallProxy(targetPort(t), 0);
    const c = client(t, proxy.port, { timeoutMs: 2_000, connectTimeoutMs: 2_000 });
    let e: (Error & { code?: string }) | undefined;
    try {
      e = await c.integrityRequest(request(t), signal(), Date.now() + 20_000).then(() => undefined, (x: unknown) => x as Error);
    } finally {
      c.close();
    }
    expect(e?.code).toBe('ERR_PVE_TIMEOUT');
    expect(e?.message).toBe('the PVE did not answer within 2000 ms');
    expect(proxy.connections).toBe(1);
    expect(collections).toBe(1);
  }, 30_000);
});

describe('NETCONF PVE client: the connect budget (injected connector)', () => {
  const target = { host: '127.0.0.1', port: 1, username: 'u', password: 'p', hostKeySha256: 'SHA256:' + 'A'.repeat(43) };
  const verdict = el(NETCONF_BASE_NS, 'rpc-reply', leaf(PVE_NS, 'attestation-result', 'tok.en.jws'), leaf(PVE_NS, 'ear-status', 'affirming'));
  const session = (): DeviceSession => ({
    rpc: async () => verdict,
    notifications: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ value: undefined, done: true as const }) }) }),
    closed: false,
    whenClosed: async () => undefined,
    close: async () => undefined,
  });

  it('the connector gets the connect timeout (at most the request timeout); its ERR_DEVICE_TIMEOUT is retried', async () => {
    const budgets: number[] = [];
    const connector: DeviceConnector = async (_t, o) => {
      budgets.push(o.timeoutMs);
      if (budgets.length === 1) throw new DeviceConnectError('ERR_DEVICE_TIMEOUT', 'no SSH handshake with 127.0.0.1:1 within 700 ms');
      return session();
    };
    const pve = createNetconfPveClient({ ...target, connector, timeoutMs: 5_000, connectTimeoutMs: 700, retry: noWait });
    await expect(pve.integrityRequest({ henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' }, signal(), Date.now() + 30_000)).resolves.toEqual({ token: 'tok.en.jws', earStatus: 'affirming' });
    expect(budgets).toEqual([700, 700]);

    const capped: number[] = [];
    const pve2 = createNetconfPveClient({ ...target, connector: async (_t, o) => { capped.push(o.timeoutMs); return session(); }, timeoutMs: 400, connectTimeoutMs: 700 });
    await pve2.integrityRequest({ henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' }, signal());
    const defaults: number[] = [];
    const pve3 = createNetconfPveClient({ ...target, connector: async (_t, o) => { defaults.push(o.timeoutMs); return session(); } });
    await pve3.integrityRequest({ henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' }, signal());
    expect([capped, defaults]).toEqual([[400], [10_000]]);
  });
});
