/**
 * The conformance kit over NETCONF over TLS (RFC 7589) against simulated femtocells on loopback (src/simulator
 * with `tls`: each device serves TLS with a certificate from the fleet CA and maps the fleet's client certificate
 * to its user): dialled (the device's certificate checked by CA and name, or by its pinned SHA-256) and calling
 * home over TLS (RFC 8071 section 4: the kit listens, the device is known by its certificate only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIREMENTS, loadOrCreateKitTls, runConformance } from '../../src/conformance/index.js';
import type { ConformanceOptions, ConformanceReport, Exchange } from '../../src/conformance/index.js';
import { startFleet } from '../../src/simulator/index.js';
import { runCalledHome } from '../helpers/kit-call-home.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/index.js';

let dir: string;
let fleet: Fleet;
let chFleet: Fleet;
/** the port the kit listened on for calls home in the last run (port 0: a port found free could be taken first) */
let chPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-kit-tls-'));
  const kitTls = await loadOrCreateKitTls(join(dir, 'kit-tls'));
  fleet = await startFleet({
    profiles: { 'healthy': 1, 'flaw-unsigned-completion': 1 }, tls: true,
    fetchSoftware: { caPem: kitTls.cert, timeoutMs: 10_000 }, installMs: 20, dataDir: join(dir, 'fleet'),
  });
  // told where to call home by each run, once the kit listens (runCh); tls: the fleet PKI the calls over TLS need
  chFleet = await startFleet({
    profiles: { 'healthy': 1, 'flaw-no-replay': 1 }, tls: true, fetchSoftware: { caPem: kitTls.cert, timeoutMs: 10_000 }, installMs: 20, dataDir: join(dir, 'ch-fleet'),
    callHomeBackoff: { initialMs: 50, maxMs: 400, stableMs: 1000 },
  });
}, 60_000);

afterAll(async () => {
  await fleet?.close();
  await chFleet?.close();
  await rm(dir, { recursive: true, force: true });
});

const outcomes = (r: ConformanceReport, which: 'pass' | 'fail' | 'skip'): string[] => r.results.filter((x) => x.outcome === which).map((x) => x.id);

/** the TLS settings an OAM inventory entry would have for the device (client certificate, and CA and/or pin) */
async function tlsOf(d: SimulatedDevice, check: { ca?: boolean; pin?: string; serverName?: string }): Promise<NonNullable<ConformanceOptions['target']['tls']>> {
  const t = d.netconfTls!;
  return {
    cert: await readFile(t.clientCertFile, 'utf8'), key: await readFile(t.clientKeyFile, 'utf8'),
    ...(check.ca === true ? { ca: await readFile(t.caFile, 'utf8') } : {}),
    ...(check.pin !== undefined ? { certSha256: check.pin } : {}),
    ...(check.serverName !== undefined ? { serverName: check.serverName } : {}),
  };
}

async function dialled(d: SimulatedDevice, check: { ca?: boolean; pin?: string; serverName?: string }, over: Partial<ConformanceOptions> = {}): Promise<ConformanceOptions> {
  return {
    // no username, password or host key: over TLS the kit is its client certificate, the device its certificate
    target: { host: '127.0.0.1', port: d.netconfTls!.port, username: '', transport: 'tls', tls: await tlsOf(d, check) },
    devicePublicKey: d.devicePublicKey, henbId: d.henbId, tlsDir: join(dir, 'kit-tls'), completionTimeoutMs: 10_000, rpcTimeoutMs: 5_000, ...over,
  };
}

describe('the kit dialling a device over TLS (RFC 7589)', () => {
  const dev = (p: string): SimulatedDevice => fleet.devices.find((x) => x.profile === p)!;

  it('a healthy device passes every requirement; its certificate checked by the CA and its name (the henb-id)', async () => {
    const d = dev('healthy');
    const timBefore = fleet.cell(d.henbId)!.tim();
    const transcript: Exchange[] = [];
    const r = await runConformance(await dialled(d, { ca: true, serverName: d.netconfTls!.serverName }, { transcript }));
    expect(outcomes(r, 'fail')).toEqual([]);
    expect(outcomes(r, 'skip')).toEqual([]);
    expect(r.results).toHaveLength(REQUIREMENTS.length);
    expect(r.ok).toBe(true);
    expect(r.device).toBe(`127.0.0.1:${d.netconfTls!.port} (NETCONF over TLS)`);
    expect(r.results.find((x) => x.id === 'HSV-NC-01')!.detail).toContain('over TLS (RFC 7589)');
    // the replay check reconnected: over TLS a new connection (one session per connection)
    expect(transcript.some((e) => e.sent.includes('<startTime>'))).toBe(true);
    expect(r.leftState).toContain('(as found)');
    expect(fleet.cell(d.henbId)!.tim()).toBe(timBefore);
  });

  it('pinned certificate only, and unpinned evidence key: every requirement passes, the signatures with the presented key', async () => {
    const d = dev('healthy');
    const { devicePublicKey: _k, ...o } = await dialled(d, { pin: d.netconfTls!.certSha256 });
    const r = await runConformance(o);
    expect(outcomes(r, 'fail')).toEqual([]);
    expect(r.keySource).toBe('presented');
    expect(r.results.filter((x) => x.unpinned === true).map((x) => x.id)).toEqual(['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02']);
  });

  it('a flawed device fails exactly its requirement over TLS too', async () => {
    const r = await runConformance(await dialled(dev('flaw-unsigned-completion'), { ca: true, serverName: dev('flaw-unsigned-completion').henbId }));
    expect(outcomes(r, 'fail')).toEqual(['HSV-CPL-02']);
  });

  it('a certificate that is not the pinned one: unreachable (ERR_CONFORMANCE_UNREACHABLE naming the certificate), nothing tested', async () => {
    const d = dev('healthy');
    const other = dev('flaw-unsigned-completion').netconfTls!.certSha256;
    const e = await runConformance(await dialled(d, { pin: other }, { connectTimeoutMs: 5000 })).then(() => undefined, (x: unknown) => x as Error & { code?: string });
    expect(e?.code).toBe('ERR_CONFORMANCE_UNREACHABLE');
    expect(e?.message).toMatch(/cannot open a NETCONF session to 127\.0\.0\.1:\d+ \(NETCONF over TLS\): .*certificate/);
  });

  it('the CA, but another name than the certificate carries: unreachable, the name named', async () => {
    const d = dev('healthy');
    const e = await runConformance(await dialled(d, { ca: true, serverName: 'not-this-device' }, { connectTimeoutMs: 5000 })).then(() => undefined, (x: unknown) => x as Error & { code?: string });
    expect(e?.code).toBe('ERR_CONFORMANCE_UNREACHABLE');
    expect(e?.message).toContain('not-this-device');
  });
});

describe('the kit listening for a device that calls home over TLS (RFC 8071 section 4)', () => {
  const chDev = (p: string): SimulatedDevice => chFleet.devices.find((x) => x.profile === p)!;
  const chOptions = async (d: SimulatedDevice, check: { ca?: boolean; pin?: string; serverName?: string }, over: Partial<ConformanceOptions> = {}): Promise<ConformanceOptions> => ({
    ...(await dialled(d, check)), target: { host: '127.0.0.1', port: 0, username: '', transport: 'tls', tls: await tlsOf(d, check) },
    callHomeListen: { host: '127.0.0.1', port: 0 }, callHomeWaitMs: 10_000, ...over,
  });
  /** a run of the kit: once it listens, the devices are told its port and call it over TLS until the run ends */
  const runCh = (o: ConformanceOptions): Promise<ConformanceReport> => runCalledHome(chFleet, o, (p) => { chPort = p; }, 'tls');

  it('a healthy device known by its pinned certificate passes every requirement (the other device of the fleet calls the same port)', async () => {
    const d = chDev('healthy');
    const transcript: Exchange[] = [];
    let ready: { callHome?: { host: string; port: number } } | undefined;
    const r = await runCh(await chOptions(d, { pin: d.netconfTls!.certSha256 }, { transcript, onReady: (i) => { ready = i; } }));
    expect(ready?.callHome).toEqual({ host: '127.0.0.1', port: chPort });
    expect(chPort).not.toBe(0);
    expect(d.callHomeTransport).toBe('tls');
    expect(outcomes(r, 'fail')).toEqual([]);
    expect(outcomes(r, 'skip')).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.device).toMatch(new RegExp(`^127\\.0\\.0\\.1:\\d+ \\(called home over TLS to 127\\.0\\.0\\.1:${chPort}\\)$`));
    expect(transcript.some((e) => e.sent.includes('<startTime>'))).toBe(true);
    expect(r.leftState).toContain('(as found)');
  });

  it('known by the CA and the name in its certificate: a device without an event log fails exactly its requirements', async () => {
    const d = chDev('flaw-no-replay');
    const r = await runCh(await chOptions(d, { ca: true, serverName: d.henbId }));
    expect(outcomes(r, 'fail')).toEqual(['HSV-NC-04', 'HSV-CPL-03']);
    expect(outcomes(r, 'skip')).toEqual([]);
  });

  it('by CA without the name it carries: an options error (the kit has no address to check it against)', async () => {
    await expect(runCh(await chOptions(chDev('healthy'), { ca: true }))).rejects.toMatchObject({ code: 'ERR_CONFORMANCE_OPTIONS', message: expect.stringContaining('--tls-server-name') });
  });

  it('no device with the pinned certificate calls: unreachable, naming the certificates that were refused', async () => {
    const d = chDev('healthy');
    const e = await runCh(await chOptions(d, { pin: fleet.devices[0]!.netconfTls!.certSha256 }, { callHomeWaitMs: 1500 })).then(() => undefined, (x: unknown) => x as Error & { code?: string });
    expect(e?.code).toBe('ERR_CONFORMANCE_UNREACHABLE');
    expect(e?.message).toContain(`no device with certificate ${fleet.devices[0]!.netconfTls!.certSha256} called home over TLS to 127.0.0.1:${chPort}`);
    expect(e?.message).toContain('is --tls-certificate / --tls-ca right?');
  });
});
