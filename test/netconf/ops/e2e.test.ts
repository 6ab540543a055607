/** The standard operations over real loopback SSH with the server core and client of this project. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationRegistrar } from '../../../src/netconf/server/operations.js';
import { registerStandardOperations } from '../../../src/netconf/server/standard-ops.js';
import type { StandardOperations } from '../../../src/netconf/server/standard-ops.js';
import { el, leaf, serializeXml, textOf, child, elements } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';
import { startServer } from '../server/helpers.js';
import type { Started } from '../server/helpers.js';
import { rpcError } from '../../helpers/rpc-errors.js';

const NC = 'urn:ietf:params:xml:ns:netconf:base:1.0';
const N = 'urn:ietf:params:xml:ns:netconf:notification:1.0';
const M = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';
const X = 'urn:example:inv';
const YANG_DIR = join(import.meta.dirname, '../../../yang/ietf');


async function nextNotification(it: AsyncIterator<XmlElement>): Promise<XmlElement> {
  const r = await it.next();
  if (r.done) throw new Error('notification stream ended');
  return r.value;
}
const bodyName = (n: XmlElement): string => elements(n)[1]!.name;

describe('standard operations end to end (SSH loopback)', () => {
  let started: Started | undefined;
  let std: StandardOperations | undefined;
  afterEach(async () => {
    await started?.stop();
    started = undefined;
    std = undefined;
  });
  const start = async (): Promise<Started> => {
    started = await startServer({
      operations: [(reg) => {
        std = registerStandardOperations(reg, { ietfYangDir: YANG_DIR });
      }],
    });
    started.server.registry.addStream({ name: 'henb', description: 'H(e)NB events', replaySupport: true });
    return started;
  };

  it('edit-config, get-config, get with filter, lock between two sessions', async () => {
    const s = await start();
    const a = await s.connect();
    const b = await s.connect();
    expect(a.serverCapabilities).toContain('urn:ietf:params:netconf:capability:writable-running:1.0');
    expect(a.serverCapabilities).toContain('urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring?module=ietf-netconf-monitoring&revision=2010-10-04');
    await a.rpc(`<edit-config xmlns="${NC}"><target><running/></target><config><inv xmlns="${X}"><henb><henb-id>a</henb-id><ip>10.0.0.1</ip></henb></inv></config></edit-config>`);
    const reply = await b.rpc(`<get-config xmlns="${NC}"><source><running/></source><filter type="subtree"><inv xmlns="${X}"><henb><ip/></henb></inv></filter></get-config>`);
    expect(serializeXml(child(reply, NC, 'data')!)).toBe(`<data xmlns="${NC}"><inv xmlns="${X}"><henb><ip>10.0.0.1</ip></henb></inv></data>`);
    expect(serializeXml(s.server.registry.getRunning())).toContain('<henb-id>a</henb-id>');

    await a.rpc(`<lock xmlns="${NC}"><target><running/></target></lock>`);
    const denied = await rpcError(b.rpc(`<lock xmlns="${NC}"><target><running/></target></lock>`));
    expect(denied.errors[0]!.tag).toBe('lock-denied');
    expect(textOf(denied.errors[0]!.info![0]!)).toBe(String(a.sessionId));
    const inUse = await rpcError(b.rpc(`<edit-config xmlns="${NC}"><target><running/></target><config><inv xmlns="${X}"/></config></edit-config>`));
    expect(inUse.errors[0]!.tag).toBe('in-use');
    await a.close();
    // the lock goes with the session
    for (let i = 0; i < 100 && std!.locks.running; i++) await new Promise((r) => setTimeout(r, 10));
    await b.rpc(`<lock xmlns="${NC}"><target><running/></target></lock>`);
    const st = await b.rpc(`<get xmlns="${NC}"><filter type="subtree"><netconf-state xmlns="${M}"><datastores/></netconf-state></filter></get>`);
    expect(serializeXml(st)).toContain(`<locked-by-session>${b.sessionId}</locked-by-session>`);
  });

  it('running config and the event log survive a restart: a reconnecting NMS replays what it missed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hsv-restart-'));
    try {
      const opts = { dataDir, operations: [(reg: OperationRegistrar) => void registerStandardOperations(reg, { ietfYangDir: YANG_DIR })] };
      const first = await startServer(opts);
      first.server.registry.addStream({ name: 'henb', description: 'H(e)NB events', replaySupport: true });
      const c1 = await first.connect();
      await c1.rpc(`<edit-config xmlns="${NC}"><target><running/></target><config><inv xmlns="${X}"><henb><henb-id>kept</henb-id></henb></inv></config></edit-config>`);
      const before = new Date(Date.now() - 1000);
      await first.server.registry.notify('henb', el(X, 'result', leaf(X, 'v', 'while-you-were-away')));
      await first.stop();

      started = await startServer(opts);
      started.server.registry.addStream({ name: 'henb', description: 'H(e)NB events', replaySupport: true });
      const c2 = await started.connect();
      const cfg = await c2.rpc(`<get-config xmlns="${NC}"><source><running/></source></get-config>`);
      expect(serializeXml(cfg)).toContain('<henb-id>kept</henb-id>');
      const notes = c2.notifications()[Symbol.asyncIterator]();
      await c2.rpc(`<create-subscription xmlns="${N}"><stream>henb</stream><startTime>${before.toISOString()}</startTime></create-subscription>`);
      expect(serializeXml(await nextNotification(notes))).toContain('while-you-were-away');
      expect(bodyName(await nextNotification(notes))).toBe('replayComplete');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('get-schema over the wire returns the module text unchanged', async () => {
    const s = await start();
    const c = await s.connect();
    const r = await c.rpc(`<get-schema xmlns="${M}"><identifier>ietf-netconf-monitoring</identifier></get-schema>`);
    const data = child(r, M, 'data')!;
    expect(textOf(data)).toBe(std!.ietfModules.find((m) => m.name === 'ietf-netconf-monitoring')!.text);
  });

  it('create-subscription: replay, replayComplete, live events, interleaved RPCs', async () => {
    const s = await start();
    const t0 = new Date(Date.now() - 10_000);
    await s.server.registry.notify('henb', el(X, 'alarm', leaf(X, 'v', 'old')), new Date(t0.getTime() + 1000));
    const c = await s.connect();
    const notes = c.notifications()[Symbol.asyncIterator]();
    await c.rpc(`<create-subscription xmlns="${N}"><stream>henb</stream><startTime>${t0.toISOString()}</startTime></create-subscription>`);
    const first = await nextNotification(notes);
    expect(serializeXml(first)).toContain('<v>old</v>');
    expect(bodyName(await nextNotification(notes))).toBe('replayComplete');
    // interleave: an RPC while subscribed
    await c.rpc(`<get-config xmlns="${NC}"><source><running/></source></get-config>`);
    await s.server.registry.notify('henb', el(X, 'alarm', leaf(X, 'v', 'new')));
    const live = await nextNotification(notes);
    expect(live.ns).toBe(N);
    expect(serializeXml(live)).toContain('<v>new</v>');
    const again = await rpcError(c.rpc(`<create-subscription xmlns="${N}"/>`));
    expect(again.errors[0]).toMatchObject({ type: 'protocol', tag: 'operation-failed' }); // RFC 5277 6.5
  });
});
