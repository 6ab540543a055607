/**
 * The PVE keeps each TPM device's last TPM clock (issue 10, src/pve/tpm-clocks.ts): tokens carry the quote's
 * `tpm-clock` and say `rebooted` when resetCount or restartCount advanced since the previous quote; a clock that
 * went backwards without a reset or restart, or counters that went back, are refused (a restored TPM state or a
 * replayed quote) and do not move the record; the record survives a PVE restart, belongs to the enrolled AK, and
 * a damaged record file stops the start (ERR_PVE_TPM_CLOCK_FILE). Quotes are made in software with an AK-shaped
 * key; the same against swtpm is test/interop/tpm-clock.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { completionQualifyingData, createPveClient, startPve } from '../../src/pve/index.js';
import type { EvidenceCollector, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import { EV, TPM_ALG, parsePublic } from '../../src/integrity/tpm/index.js';
import type { EventToWrite } from '../../src/integrity/tpm/index.js';
import { replayLog } from '../../src/integrity/index.js';
import { newNonce } from '../../src/tokens/nonce.js';
import type { EarClaims, EarSubmod } from '../../src/tokens/types.js';
import { base64urlToBase64 } from '../../src/pve/restconf.js';
import { makeAk, softQuote } from '../helpers/tpm-structures.js';
import type { SoftAk } from '../helpers/tpm-structures.js';
import { openTpmClocks, readTpmClocks } from '../../src/pve/tpm-clocks.js';
import { silentLogger } from '../../src/log/logger.js';

const nameOf = (k: SoftAk): string => {
  const p = parsePublic(k.public);
  if (!p.ok) throw new Error(p.reason);
  return p.value.name.toString('hex');
};
const events = (log: Array<{ component: string; digest: string }>): EventToWrite[] =>
  log.map((e) => ({ pcr: 9, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.from(e.digest, 'hex')]]), data: Buffer.from(e.component) }));

const cell = new Femtocell({ henbId: 'tpm-1' });
let ak = makeAk('ecc');
/** the TPMS_CLOCK_INFO the device's next quote carries */
let tpmClock = { clock: 1000n, resetCount: 5, restartCount: 0 };

const collector: EvidenceCollector = {
  async collect(_device, nonce) {
    const log = cell.measurementLog();
    const q = softQuote(ak, nonce, events(log), { fields: tpmClock });
    return {
      format: 'tpm2-quote', tim: cell.tim(), log, signature: '', signatureAlgorithm: 'ES256',
      tpm: { quote: q.attest.toString('base64'), signature: q.signature.toString('base64'), eventLog: q.log.toString('base64'), certificateName: nameOf(ak) },
    };
  },
};

let dataDir: string;
let pve: PveHandle | undefined;
let client: RestconfPveClient | undefined;

async function start(): Promise<void> {
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir, referenceValues: factoryReferenceValues(), collector,
    devices: [{ henbId: 'tpm-1', host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: cell.publicKeyPem(), trustRoot: 'tpm', akPublic: ak.public.toString('base64') }],
  });
  client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 10_000 });
}
async function stop(): Promise<void> {
  client?.close();
  await pve?.close();
  client = undefined;
  pve = undefined;
}

async function platform(token: string): Promise<EarSubmod> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(pve!.jwks as never), { issuer: pve!.issuer, audience: pve!.audience as string, algorithms: ['ES256', 'EdDSA'] });
  return (payload as unknown as EarClaims).submods.platform!;
}
async function check(): Promise<{ earStatus: string; reason?: string; sub: EarSubmod }> {
  const r = await client!.integrityRequest({ henbId: 'tpm-1', nonce: newNonce(), jobId: 'j' }, new AbortController().signal);
  return { earStatus: r.earStatus, ...(r.reason !== undefined ? { reason: r.reason } : {}), sub: await platform(r.token) };
}
async function recorded(): Promise<unknown> {
  return (await readTpmClocks(dataDir))['tpm-1'];
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-pve-clock-'));
  await start();
});

afterAll(async () => {
  await stop();
  cell.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the PVE keeps each TPM device\'s last clock', () => {
  it('first quote: tpm-clock in the token, no rebooted claim (nothing to compare with); recorded with the AK', async () => {
    const r = await check();
    expect(r.earStatus).toBe('affirming');
    expect(r.sub['tpm-clock']).toEqual({ 'reset-count': 5, 'restart-count': 0, clock: 1000 });
    expect(r.sub.rebooted).toBeUndefined();
    expect(await recorded()).toMatchObject({ akName: nameOf(ak), resetCount: 5, restartCount: 0, clock: 1000 });
  });

  it('the clock moved on, same counters: rebooted false', async () => {
    tpmClock = { clock: 4000n, resetCount: 5, restartCount: 0 };
    const r = await check();
    expect(r).toMatchObject({ earStatus: 'affirming', sub: { rebooted: false, 'tpm-clock': { clock: 4000 } } });
  });

  it('a TPM Restart (restartCount advanced) and a TPM Reset (resetCount advanced, clock back to its saved value): rebooted true', async () => {
    tpmClock = { clock: 5000n, resetCount: 5, restartCount: 1 };
    expect(await check()).toMatchObject({ earStatus: 'affirming', sub: { rebooted: true } });
    tpmClock = { clock: 200n, resetCount: 6, restartCount: 0 };
    expect(await check()).toMatchObject({ earStatus: 'affirming', sub: { rebooted: true, 'tpm-clock': { 'reset-count': 6, 'restart-count': 0, clock: 200 } } });
  });

  it('the clock went backwards without a reset: refused (restored TPM state or replay), the record does not move', async () => {
    tpmClock = { clock: 150n, resetCount: 6, restartCount: 0 };
    const r = await check();
    expect(r.earStatus).toBe('contraindicated');
    expect(r.reason).toBe('evidence-invalid: the TPM clock went backwards (150 ms, previously 200 ms) without a reset or restart: a restored (rolled back) TPM state or a replayed quote');
    expect(r.sub['tpm-clock']).toBeUndefined();
    expect(await recorded()).toMatchObject({ resetCount: 6, clock: 200 });
  });

  it('counters that went back are refused too', async () => {
    tpmClock = { clock: 9000n, resetCount: 4, restartCount: 0 };
    expect((await check()).reason).toBe('evidence-invalid: the TPM\'s resetCount went back from 6 to 4: a restored (rolled back) TPM state or a replayed quote');
    tpmClock = { clock: 9000n, resetCount: 6, restartCount: 0 };
    expect(await check()).toMatchObject({ earStatus: 'affirming', sub: { rebooted: false } });
  });

  it('the record survives a PVE restart', async () => {
    await stop();
    await start();
    tpmClock = { clock: 8999n, resetCount: 6, restartCount: 0 };
    expect((await check()).earStatus).toBe('contraindicated');
    tpmClock = { clock: 9500n, resetCount: 6, restartCount: 0 };
    expect(await check()).toMatchObject({ earStatus: 'affirming', sub: { rebooted: false } });
  });

  it('the completion\'s quote (phase post-update) is held to the same record: tpm-clock and rebooted in its token, backwards refused', async () => {
    const completion = (nonceText: string, jobId: string) => {
      const log = [...cell.measurementLog(), { component: 'rootfs', digest: 'ab'.repeat(32) }];
      const tim = replayLog(null, log);
      const nonce = Buffer.from(base64urlToBase64(nonceText), 'base64');
      const q = softQuote(ak, completionQualifyingData({ henbId: 'tpm-1', jobId, nonce, status: 'completed', selfCheck: 'passed', tim, log }), events(log), { fields: tpmClock });
      return {
        status: 'completed', selfCheck: 'passed', tim, measurementLog: log,
        evidence: { format: 'tpm2-quote' as const, nonce: nonceText, signatureAlgorithm: 'ES256', keyId: nameOf(ak), signature: q.signature.toString('base64'), quote: q.attest.toString('base64'), eventLog: q.log.toString('base64') },
      };
    };
    const post = async (jobId: string) => {
      const nonce = newNonce();
      const r = await client!.integrityRequest({ henbId: 'tpm-1', nonce, jobId, completion: completion(nonce, jobId) }, new AbortController().signal);
      const { payload } = await jwtVerify(r.token, createLocalJWKSet(pve!.jwks as never), { issuer: pve!.issuer, audience: pve!.audience as string });
      return { earStatus: r.earStatus, reason: r.reason, sub: (payload as unknown as EarClaims).submods.completion! };
    };
    tpmClock = { clock: 100n, resetCount: 7, restartCount: 0 };
    expect(await post('job-1')).toMatchObject({ earStatus: 'affirming', sub: { rebooted: true, 'tpm-clock': { 'reset-count': 7, clock: 100 } } });
    tpmClock = { clock: 50n, resetCount: 7, restartCount: 0 };
    const back = await post('job-2');
    expect(back.earStatus).toBe('contraindicated');
    expect(back.reason).toMatch(/^evidence-invalid: the TPM clock went backwards \(50 ms, previously 100 ms\)/);
  });

  it('another AK enrolled for the device (a new TPM): the old record does not apply', async () => {
    await stop();
    ak = makeAk('ecc');
    await start();
    tpmClock = { clock: 10n, resetCount: 1, restartCount: 0 };
    const r = await check();
    expect(r.earStatus).toBe('affirming');
    expect(r.sub.rebooted).toBeUndefined();
    expect(await recorded()).toMatchObject({ akName: nameOf(ak), resetCount: 1, clock: 10 });
  });
});

describe('the record file', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('keeps the later clock only; a damaged file stops the start with ERR_PVE_TPM_CLOCK_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-clock-file-'));
    dirs.push(dir);
    const c = await openTpmClocks({ dataDir: dir, log: silentLogger, now: () => 42 });
    await c.record('h', 'aa', { resetCount: 2, restartCount: 0, clock: 50 });
    await c.record('h', 'aa', { resetCount: 1, restartCount: 9, clock: 99 });
    await c.record('h', 'aa', { resetCount: 2, restartCount: 0, clock: 40 });
    expect(c.previous('h', 'aa')).toEqual({ resetCount: 2, restartCount: 0, clock: 50 });
    expect(c.previous('h', 'bb')).toBeUndefined();
    await c.close();
    expect((await openTpmClocks({ dataDir: dir, log: silentLogger })).previous('h', 'aa')).toEqual({ resetCount: 2, restartCount: 0, clock: 50 });
    for (const text of ['{', JSON.stringify({ format: 'other', devices: {} }), JSON.stringify({ format: 'henb-sw-verify-pve-tpm-clocks/1', devices: { h: { akName: 'aa', resetCount: -1, restartCount: 0, clock: 1, seenAt: 1 } } })]) {
      const bad = await mkdtemp(join(tmpdir(), 'hsv-clock-bad-'));
      dirs.push(bad);
      await mkdir(join(bad, 'tpm-clock'));
      await writeFile(join(bad, 'tpm-clock', 'clocks.json'), text);
      await expect(openTpmClocks({ dataDir: bad, log: silentLogger })).rejects.toMatchObject({ code: 'ERR_PVE_TPM_CLOCK_FILE' });
    }
  });

  const clockOf = (i: number): { resetCount: number; restartCount: number; clock: number } => ({ resetCount: 1, restartCount: 0, clock: 1000 + i });
  const journalLines = async (dir: string): Promise<string[]> => (await readFile(join(dir, 'tpm-clock', 'clocks.journal'), 'utf8')).split('\n').filter((l) => l !== '');

  it('a quote appends one line to clocks.journal (clocks.json is not rewritten per quote); records made at once share an append', async () => {
    // regression: each record rewrote the whole clocks.json, one after the other: O(n^2) bytes for a fleet
    // (3,000 TPM devices' first quotes: 18 s of CPU and 61 s of waiting appraisals)
    const dir = await mkdtemp(join(tmpdir(), 'hsv-clock-journal-'));
    dirs.push(dir);
    const c = await openTpmClocks({ dataDir: dir, log: silentLogger, now: () => 7, compactAfter: 1000 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => c.record(`h${i}`, 'aa', clockOf(i))));
    await expect(stat(join(dir, 'tpm-clock', 'clocks.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    const lines = await journalLines(dir);
    expect(lines).toHaveLength(200);
    expect(JSON.parse(lines[199]!)).toEqual({ henb: 'h199', entry: { akName: 'aa', ...clockOf(199), seenAt: 7 } });
    // an earlier clock changes nothing and writes nothing; a later one appends its line
    await c.record('h0', 'aa', { ...clockOf(0), clock: 5 });
    await c.record('h1', 'aa', clockOf(50));
    expect(await journalLines(dir)).toHaveLength(201);
    // what a PVE starting now reads: the journal over the (absent) snapshot
    const read = await readTpmClocks(dir);
    expect(Object.keys(read)).toHaveLength(200);
    expect(read.h1).toMatchObject(clockOf(50));
    expect((await openTpmClocks({ dataDir: dir, log: silentLogger })).previous('h0', 'aa')).toEqual(clockOf(0));
    await c.close();
  });

  it('the journal is folded into clocks.json when it is long, on open and at close: after a clean stop clocks.json alone holds the record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-clock-fold-'));
    dirs.push(dir);
    const c = await openTpmClocks({ dataDir: dir, log: silentLogger, compactAfter: 10 });
    for (let i = 0; i < 10; i++) await c.record(`h${i}`, 'aa', clockOf(i));
    expect(await journalLines(dir)).toHaveLength(0); // ten lines: folded
    await c.record('h0', 'aa', clockOf(20));
    expect(await journalLines(dir)).toHaveLength(1);
    await c.close();
    expect(await journalLines(dir)).toHaveLength(0);
    const snapshot = JSON.parse(await readFile(join(dir, 'tpm-clock', 'clocks.json'), 'utf8')) as { format: string; devices: Record<string, { clock: number }> };
    expect(snapshot.format).toBe('henb-sw-verify-pve-tpm-clocks/1');
    expect(Object.keys(snapshot.devices)).toHaveLength(10);
    expect(snapshot.devices.h0!.clock).toBe(1020);
  });

  it('reads a clocks.json written before the journal (pretty-printed, no journal); a cut-short last line is ignored, a damaged line stops the start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-clock-old-'));
    dirs.push(dir);
    await mkdir(join(dir, 'tpm-clock'));
    const old = { format: 'henb-sw-verify-pve-tpm-clocks/1', devices: { h: { akName: 'aa', resetCount: 3, restartCount: 1, clock: 77, seenAt: 5 } } };
    await writeFile(join(dir, 'tpm-clock', 'clocks.json'), JSON.stringify(old, null, 2) + '\n');
    await writeFile(join(dir, 'tpm-clock', 'clocks.journal'), JSON.stringify({ henb: 'g', entry: { akName: 'bb', resetCount: 1, restartCount: 0, clock: 9, seenAt: 6 } }) + '\n{"henb":"x","entry":{"akN');
    const c = await openTpmClocks({ dataDir: dir, log: silentLogger });
    expect(c.previous('h', 'aa')).toEqual({ resetCount: 3, restartCount: 1, clock: 77 });
    expect(c.previous('g', 'bb')).toEqual({ resetCount: 1, restartCount: 0, clock: 9 });
    expect(c.previous('x', 'aa')).toBeUndefined();
    await writeFile(join(dir, 'tpm-clock', 'clocks.journal'), '{"henb":"g","entry":{"akName":"bb","resetCount":-1,"restartCount":0,"clock":9,"seenAt":6}}\n');
    await expect(openTpmClocks({ dataDir: dir, log: silentLogger })).rejects.toMatchObject({ code: 'ERR_PVE_TPM_CLOCK_FILE', message: expect.stringContaining('clocks.journal line 1 is not a TPM clock record') as string });
  });
});
