/**
 * The conformance kit against simulated femtocells over real SSH on loopback (src/simulator): a healthy device
 * passes every requirement, and each negative-control profile fails exactly the requirement(s) of its flaw and
 * passes all the others; every device is left running the software it ran before the kit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIREMENTS, loadOrCreateKitTls, reportJunit, runConformance } from '../../src/conformance/index.js';
import type { ConformanceOptions, ConformanceReport, Exchange } from '../../src/conformance/index.js';
import { startFleet } from '../../src/simulator/index.js';
import { runCalledHome } from '../helpers/kit-call-home.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/index.js';
import { parseXml } from '../../src/netconf/xml/index.js';
import { createServer } from 'node:net';

const EXPECTED_FAILS: Record<string, string[]> = {
  'healthy': [],
  'healthy-reboot': [],
  'flaw-no-replay': ['HSV-NC-04', 'HSV-CPL-03'],
  'flaw-nonce-ignored': ['HSV-MEAS-02'],
  'flaw-digest-unchecked': ['HSV-UPD-02'],
  'flaw-unsigned-completion': ['HSV-CPL-02'],
  'flaw-wrong-namespace': ['HSV-YANG-01', 'HSV-YANG-02'],
  // pinned with the key it signs with: it presents another one
  'flaw-foreign-key': ['HSV-KEY-01'],
  'flaw-key-id-mismatch': ['HSV-KEY-01'],
};

const SIGNATURE_CHECKS = ['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02'];

let dir: string;
let fleet: Fleet;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-kit-test-'));
  const tls = await loadOrCreateKitTls(join(dir, 'tls'));
  fleet = await startFleet({
    profiles: Object.fromEntries(Object.keys(EXPECTED_FAILS).map((p) => [p, 1])),
    fetchSoftware: { caPem: tls.cert, timeoutMs: 10_000 }, installMs: 20, dataDir: join(dir, 'fleet'),
  });
}, 30_000);

afterAll(async () => {
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
});

function device(profile: string): SimulatedDevice {
  const d = fleet.devices.find((x) => x.profile === profile);
  if (!d) throw new Error(`no ${profile} device`);
  return d;
}

function options(d: SimulatedDevice, over: Partial<ConformanceOptions> = {}): ConformanceOptions {
  return {
    target: { host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 },
    devicePublicKey: d.devicePublicKey, henbId: d.henbId, tlsDir: join(dir, 'tls'),
    completionTimeoutMs: 10_000, rpcTimeoutMs: 5_000, ...over,
  };
}

function outcomes(r: ConformanceReport, which: 'pass' | 'fail' | 'skip'): string[] {
  return r.results.filter((x) => x.outcome === which).map((x) => x.id);
}

describe('conformance kit against simulated femtocells', () => {
  it.each(Object.entries(EXPECTED_FAILS))('%s fails exactly %j and passes the rest', async (profile, fails) => {
    const d = device(profile);
    const slotsBefore = fleet.cell(d.henbId)!.slots().find((s) => s.running)!.name;
    const timBefore = fleet.cell(d.henbId)!.tim();
    const r = await runConformance(options(d));
    expect(r.results.map((x) => x.id)).toEqual(REQUIREMENTS.map((q) => q.id));
    expect(outcomes(r, 'fail')).toEqual(fails);
    expect(outcomes(r, 'skip')).toEqual([]);
    expect(r.ok).toBe(fails.length === 0);
    // every fail says what was expected and shows what was sent and what came back
    for (const f of r.results.filter((x) => x.outcome === 'fail')) {
      expect(f.expected).toBeTruthy();
      expect(f.exchanges.length).toBeGreaterThan(0);
    }
    // the device runs what it ran before, with the same TIM (recoverable, here even recovered)
    expect(fleet.cell(d.henbId)!.slots().find((s) => s.running)!.name).toBe(slotsBefore);
    expect(fleet.cell(d.henbId)!.tim()).toBe(timBefore);
    expect(r.leftState).toContain('(as found)');
    expect(fleet.cell(d.henbId)!.busy()).toBe(false);
  });

  it('unpinned (no --device-public-key): signatures checked with the key the device presents, each such pass marked unpinned', async () => {
    const { devicePublicKey: _k, ...rest } = options(device('healthy'));
    const r = await runConformance(rest);
    expect(r.keyPinned).toBe(false);
    expect(r.keySource).toBe('presented');
    expect(outcomes(r, 'fail')).toEqual([]);
    expect(outcomes(r, 'skip')).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.results.filter((x) => x.unpinned === true).map((x) => x.id)).toEqual(SIGNATURE_CHECKS);
    for (const id of SIGNATURE_CHECKS) expect(r.results.find((x) => x.id === id)!.detail).toMatch(/^unpinned key \(presented by the device\): /);
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail).toContain(`key-id ${device('healthy').keyId}`);
    // the JUnit form keeps the mark on the passing testcase
    expect(reportJunit(r)).toContain('<system-out>unpinned key (presented by the device): ES256 signature over nonce-value || TIM');
  });

  it('pinned: the same checks pass without the unpinned mark', async () => {
    const r = await runConformance(options(device('healthy')));
    expect(r.keySource).toBe('pinned');
    expect(r.results.filter((x) => x.unpinned === true)).toEqual([]);
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail).toContain('presents the enrolled key');
  });

  it('unpinned, a presented key that does not verify the device\'s signatures fails every signature check', async () => {
    const { devicePublicKey: _k, ...rest } = options(device('flaw-foreign-key'));
    const r = await runConformance(rest);
    expect(r.keySource).toBe('presented');
    expect(outcomes(r, 'fail')).toEqual(SIGNATURE_CHECKS);
    expect(outcomes(r, 'skip')).toEqual([]);
    // the key is self-consistent (its key-id is its thumbprint): the measurement names the key it really signs with
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.outcome).toBe('pass');
    expect(r.results.find((x) => x.id === 'HSV-MEAS-01')!.detail).toContain('the key the device presents (unpinned) is key-id');
    expect(r.results.find((x) => x.id === 'HSV-CPL-02')!.detail).toContain('does not verify with the key the device presents');
    expect(r.ok).toBe(false);
  });

  it('unpinned, a presented key whose key-id is not its own fails HSV-KEY-01 and is not used (signature checks skip)', async () => {
    const { devicePublicKey: _k, ...rest } = options(device('flaw-key-id-mismatch'));
    const r = await runConformance(rest);
    expect(r.keySource).toBe('none');
    expect(outcomes(r, 'fail')).toEqual(['HSV-KEY-01']);
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail).toMatch(/key-id \S+ is not the presented key's \(RFC 7638 thumbprint \S+\)/);
    expect(outcomes(r, 'skip')).toEqual(SIGNATURE_CHECKS);
    expect(r.ok).toBe(false);
  });

  it('unpinned still catches stale evidence (the same signature answered to a fresh nonce)', async () => {
    const { devicePublicKey: _k, ...rest } = options(device('flaw-nonce-ignored'));
    // this device answers the evidence of its very first measurement ever (perhaps made by an earlier test); after
    // one run that is certain, and with the key it presents the second run's first measurement is caught too
    expect(outcomes(await runConformance(rest), 'fail')).toContain('HSV-MEAS-02');
    const r = await runConformance(rest);
    expect(outcomes(r, 'fail')).toEqual(['HSV-MEAS-01', 'HSV-MEAS-02']);
    expect(r.results.find((x) => x.id === 'HSV-MEAS-01')!.detail).toBe('the signature does not verify with the key the device presents (unpinned) over nonce-value || TIM');
    expect(r.results.find((x) => x.id === 'HSV-MEAS-02')!.detail).toContain('stale evidence');
  });

  it('a wrong enrolled key: HSV-KEY-01 says the presented key is not the enrolled one, and every signature check fails', async () => {
    const r = await runConformance(options(device('healthy'), { devicePublicKey: device('healthy-reboot').devicePublicKey }));
    expect(outcomes(r, 'fail')).toEqual(['HSV-KEY-01', ...SIGNATURE_CHECKS]);
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail)
      .toBe(`the device presents key-id ${device('healthy').keyId}, not the enrolled key (--device-public-key, key-id ${device('healthy-reboot').keyId}): it is another device, or its key changed since enrolment`);
  });

  it('without --henb-id the completion signature cannot be checked (skip, not a pass)', async () => {
    const { henbId: _h, ...rest } = options(device('healthy'));
    const r = await runConformance(rest);
    expect(outcomes(r, 'skip')).toEqual(['HSV-CPL-02']);
    expect(r.ok).toBe(false);
  });

  it('records a transcript of real XML and writes well-formed JUnit', async () => {
    const transcript: Exchange[] = [];
    const r = await runConformance(options(device('flaw-unsigned-completion'), { transcript }));
    expect(transcript.some((e) => e.sent.includes('<software-update') && e.sent.includes('<nonce-value>'))).toBe(true);
    expect(transcript.some((e) => e.received.includes('software-update-complete'))).toBe(true);
    const junit = reportJunit(r);
    const doc = parseXml(junit.replace(/^<\?xml[^>]*\?>\n/, ''));
    expect(doc.name).toBe('testsuites');
    expect(junit).toContain('<failure type="MUST" message="the completion carries no evidence');
    expect(junit.match(/<testcase /g)).toHaveLength(REQUIREMENTS.length);
  });

  it('interrupted during the update: stops after that check, still rolls the kit\'s update back', async () => {
    const d = device('healthy');
    const timBefore = fleet.cell(d.henbId)!.tim();
    const ac = new AbortController();
    const transcript: Exchange[] = [];
    const push = transcript.push.bind(transcript);
    transcript.push = (...items: Exchange[]): number => {
      if (items.some((e) => e.sent.includes('<software-update') && e.sent.includes('<version>'))) ac.abort(new Error('SIGINT'));
      return push(...items);
    };
    const r = await runConformance(options(d, { transcript, signal: ac.signal }));
    expect(r.interrupted).toBe(true);
    expect(r.results.find((x) => x.id === 'HSV-UPD-03')!.outcome).toBe('pass');
    expect(r.results.find((x) => x.id === 'HSV-CPL-03')).toMatchObject({ outcome: 'skip', detail: 'interrupted before this check' });
    expect(r.results.find((x) => x.id === 'HSV-RBK-01')!.outcome).toBe('pass');
    expect(fleet.cell(d.henbId)!.tim()).toBe(timBefore);
    expect(r.ok).toBe(false);
  });

  it('a device that cannot be reached is ERR_CONFORMANCE_UNREACHABLE (nothing tested)', async () => {
    const d = device('healthy');
    await expect(runConformance(options(d, { target: { host: d.host, port: d.port, username: d.username, password: 'wrong', hostKeySha256: d.hostKeySha256 }, connectTimeoutMs: 5_000 })))
      .rejects.toMatchObject({ code: 'ERR_CONFORMANCE_UNREACHABLE' });
  });
});

describe('conformance kit with a device that calls home (RFC 8071: the kit listens, the device dials it)', () => {
  // two simulated devices call the same kit port from 127.0.0.1: the kit must take the one its --host-key pins
  let chFleet: Fleet;
  /** the port the kit listened on in the last run (it listens on port 0: a port found free could be taken first) */
  let port: number;
  beforeAll(async () => {
    chFleet = await startFleet({
      profiles: { 'healthy': 1, 'flaw-unsigned-completion': 1, 'flaw-no-replay': 1 }, fetchSoftware: { caPem: (await loadOrCreateKitTls(join(dir, 'tls'))).cert, timeoutMs: 10_000 },
      installMs: 20, dataDir: join(dir, 'ch-fleet'), callHomeBackoff: { initialMs: 50, maxMs: 400, stableMs: 1000 },
    });
  }, 30_000);
  afterAll(async () => {
    await chFleet?.close();
  });

  const chDevice = (profile: string): SimulatedDevice => chFleet.devices.find((x) => x.profile === profile)!;
  const chOptions = (d: SimulatedDevice, over: Partial<ConformanceOptions> = {}): ConformanceOptions => ({
    // no address to dial: host/port are not used with callHomeListen (0 would refuse if the kit dialled)
    ...options(d), target: { host: '127.0.0.1', port: 0, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 },
    callHomeListen: { host: '127.0.0.1', port: 0 }, callHomeWaitMs: 10_000, ...over,
  });
  /** a run of the kit: once it listens, the devices are told its port and call it until the run ends */
  const runCh = (o: ConformanceOptions): Promise<ConformanceReport> => runCalledHome(chFleet, o, (p) => { port = p; });

  it('a healthy device that calls home passes every requirement over its call-home connection; the other caller is refused by host key', async () => {
    const d = chDevice('healthy');
    const timBefore = chFleet.cell(d.henbId)!.tim();
    let ready: { callHome?: { host: string; port: number } } | undefined;
    const transcript: Exchange[] = [];
    const r = await runCh(chOptions(d, { transcript, onReady: (i) => { ready = i; } }));
    expect(ready?.callHome).toEqual({ host: '127.0.0.1', port });
    expect(outcomes(r, 'fail')).toEqual([]);
    expect(outcomes(r, 'skip')).toEqual([]);
    expect(r.results).toHaveLength(REQUIREMENTS.length);
    expect(r.ok).toBe(true);
    // the report names the connection the device opened (its source port is not the kit's)
    expect(r.device).toMatch(new RegExp(`^127\\.0\\.0\\.1:\\d+ \\(called home to 127\\.0\\.0\\.1:${port}\\)$`));
    expect(r.leftState).toContain('(as found)');
    expect(chFleet.cell(d.henbId)!.tim()).toBe(timBefore);
    // the replay check reconnected (a second session with a startTime) on the call-home connection
    expect(transcript.some((e) => e.sent.includes('<startTime>'))).toBe(true);
    expect(chFleet.cell(d.henbId)!.busy()).toBe(false);
  });

  it.each([['flaw-unsigned-completion', ['HSV-CPL-02']], ['flaw-no-replay', ['HSV-NC-04', 'HSV-CPL-03']]])('%s calling home fails exactly %j', async (profile, fails) => {
    const r = await runCh(chOptions(chDevice(profile)));
    if (outcomes(r, 'fail').length !== fails.length) console.log(JSON.stringify(r.results.filter((x) => x.outcome === 'fail'), null, 1));
    expect(outcomes(r, 'fail')).toEqual(fails);
    expect(outcomes(r, 'skip')).toEqual([]);
  });

  it('no device with the pinned host key calls: ERR_CONFORMANCE_UNREACHABLE naming the refused keys', async () => {
    const d = chDevice('healthy');
    const other = device('healthy'); // a key no call-home device has
    const started = Date.now();
    const e = await runCh(chOptions(d, { target: { host: '127.0.0.1', port: 0, username: d.username, password: d.password, hostKeySha256: other.hostKeySha256 }, callHomeWaitMs: 1500 }))
      .then(() => undefined, (x: unknown) => x as Error & { code?: string });
    expect(e?.code).toBe('ERR_CONFORMANCE_UNREACHABLE');
    expect(e?.message).toContain(`no device with host key ${other.hostKeySha256} called home to 127.0.0.1:${port} within 2 s`);
    expect(e?.message).toContain(chDevice('healthy').hostKeySha256);
    expect(e?.message).toContain('is --host-key right?');
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('the device calls but refuses the credentials: unreachable, and the message says the login failed', async () => {
    const d = chDevice('healthy');
    const e = await runCh(chOptions(d, { target: { host: '127.0.0.1', port: 0, username: d.username, password: 'wrong', hostKeySha256: d.hostKeySha256 }, callHomeWaitMs: 1500 }))
      .then(() => undefined, (x: unknown) => x as Error & { code?: string });
    expect(e?.code).toBe('ERR_CONFORMANCE_UNREACHABLE');
    expect(e?.message).toContain('the device with that key called, but: call-home SSH connection failed');
    expect(e?.message).toContain('All configured authentication methods failed');
  });

  it('interrupted while waiting for the call: every requirement skipped, interrupted, nothing sent', async () => {
    const d = device('healthy');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('SIGINT')), 300);
    const r = await runCh(chOptions(d, { target: { host: '127.0.0.1', port: 0, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 }, signal: ac.signal }));
    expect(r.interrupted).toBe(true);
    expect(outcomes(r, 'skip')).toHaveLength(REQUIREMENTS.length);
    expect(r.leftState).toBe('unchanged (no session)');
  });

  it('a port the kit cannot bind is ERR_CONFORMANCE_SETUP', async () => {
    const busy = createServer();
    await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      await expect(runConformance(chOptions(chDevice('healthy'), { callHomeListen: { host: '127.0.0.1', port: busyPort } })))
        .rejects.toMatchObject({ code: 'ERR_CONFORMANCE_SETUP', message: expect.stringContaining('EADDRINUSE') });
    } finally {
      await new Promise<void>((ok) => busy.close(() => ok()));
    }
  });
});
