import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { JWKS_RECHECK_MS, JwksFile, generateSigningKey, memoryReplayCache, newNonce, signResult, verifyResult } from '../../src/tokens/index.js';
import type { Jwks, JwksSource } from '../../src/tokens/index.js';
import type { EarStatus, SigningKey } from '../../src/tokens/types.js';
import { NMS_AUDIENCE, OAM_ISSUER, PVE_ISSUER, createResultTokens } from '../../src/oam/tokens-adapter.js';
import { JobRunner } from '../../src/oam/runner.js';
import type { Job } from '../../src/oam/transition.js';
import type { PveClient, PveIntegrityRequest } from '../../src/oam/ports.js';
import { appraiseCompletion } from '../../src/pve/appraise.js';
import { FakeDevices, FakeFetcher, MemoryStore, deviceKey } from './fakes.js';
import { EXPECTED, OLD_RIM } from './helpers.js';

let pveKey: SigningKey;
let oamKey: SigningKey;
let otherKey: SigningKey;

beforeAll(async () => {
  pveKey = await generateSigningKey('ES256', 'pve');
  oamKey = await generateSigningKey('ES256', 'oam');
  otherKey = await generateSigningKey('ES256', 'mallory');
});

afterEach(() => { vi.useRealTimers(); });

function pveToken(nonce: string, over: { key?: SigningKey; iss?: string; aud?: string; status?: EarStatus; jti?: string; iat?: number } = {}): Promise<string> {
  const status = over.status ?? 'affirming';
  return signResult({
    iss: over.iss ?? PVE_ISSUER, aud: over.aud ?? OAM_ISSUER, sub: 'henb-1', ear_status: status, eat_nonce: nonce,
    ear_verifier_id: { developer: 'test', build: '1' },
    ...(over.jti !== undefined ? { jti: over.jti } : {}),
    ...(over.iat !== undefined ? { iat: over.iat } : {}),
    submods: { platform: { ear_status: status, 'job-id': 'job-1', phase: 'pre-update', 'reported-tim': OLD_RIM } },
  }, over.key ?? pveKey);
}

/** phase post-update as the reference PVE answers it: the real appraisal of the device's evidence, a real JWS */
async function postUpdateToken(req: PveIntegrityRequest, key: SigningKey): Promise<string> {
  const c = req.completion!;
  const a = appraiseCompletion({ status: c.status, tim: c.tim, log: c.measurementLog, evidence: c.evidence, ...(c.selfCheck !== undefined ? { selfCheck: c.selfCheck } : {}) },
    { henbId: req.henbId, jobId: req.jobId, nonce: Buffer.from(req.nonce, 'base64') }, deviceKey(req.henbId));
  return signResult({
    iss: PVE_ISSUER, aud: OAM_ISSUER, sub: req.henbId, ear_status: a.status, eat_nonce: req.nonce, ear_verifier_id: { developer: 'test', build: '1' },
    submods: { completion: { ear_status: a.status, 'job-id': req.jobId, phase: 'post-update', 'reported-tim': c.tim, 'evidence-format': 'software-key' } },
  }, key);
}

function adapter() {
  return createResultTokens({ signingKey: oamKey, pveJwks: { keys: [pveKey.publicJwk] }, replayCache: memoryReplayCache() });
}

describe('createResultTokens', () => {
  it('accepts a good PVE token and returns its claims', async () => {
    const n = newNonce();
    const claims = await adapter().verifyPve(await pveToken(n), n);
    expect(claims).toMatchObject({ sub: 'henb-1', ear_status: 'affirming', eat_nonce: n });
  });

  it.each([
    ['another nonce', async (_n: string) => pveToken(newNonce()), 'ERR_TOKEN_NONCE'],
    ['another issuer', async (n: string) => pveToken(n, { iss: 'urn:evil' }), 'ERR_TOKEN_ISSUER'],
    ['another audience', async (n: string) => pveToken(n, { aud: 'urn:someone-else' }), 'ERR_TOKEN_AUDIENCE'],
    ['an unknown key', async (n: string) => pveToken(n, { key: otherKey }), 'ERR_TOKEN_KEY_UNKNOWN'],
    ['too old', async (n: string) => pveToken(n, { iat: Math.floor(Date.now() / 1000) - 3000 }), 'ERR_TOKEN_TOO_OLD'],
    ['alg none', async (n: string) => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'eat+jwt' })).toString('base64url')}.${(await pveToken(n)).split('.')[1]}.`, 'ERR_TOKEN'],
  ])('refuses a PVE token with %s', async (_what, make, code) => {
    const n = newNonce();
    await expect(adapter().verifyPve(await make(n), n)).rejects.toMatchObject({ code: expect.stringContaining(code) });
  });

  it('refuses a replayed jti', async () => {
    const a = adapter();
    const n = newNonce();
    const t = await pveToken(n, { jti: 'same' });
    await a.verifyPve(t, n);
    await expect(a.verifyPve(t, n)).rejects.toMatchObject({ code: 'ERR_TOKEN_REPLAY' });
  });

  it('signs the final result so that the OAM JWKS verifies it for the NMS audience', async () => {
    const t = await adapter().signFinal({ sub: 'henb-1', ear_status: 'affirming', submods: { 'software-update': { ear_status: 'affirming', 'job-id': 'job-1', phase: 'post-update', 'reported-tim': EXPECTED } } });
    const v = await verifyResult(t, { jwks: { keys: [oamKey.publicJwk] }, issuer: OAM_ISSUER, audience: NMS_AUDIENCE, maxAgeSec: 60, replayCache: memoryReplayCache() });
    expect(v.claims.submods['software-update']?.['reported-tim']).toBe(EXPECTED);
    expect(v.header.typ).toBe('eat+jwt');
  });
});

/** the PVE's keys as config pve.jwks gives them: a file the PVE replaces (tmp + rename) when it rotates its key */
describe("createResultTokens over the PVE's JWKS file", () => {
  let dir: string;
  let file: string;
  // the files' clock: a replaced file is looked at once JWKS_RECHECK_MS passed (publish lets it pass)
  let clock = 0;
  const now = (): number => clock;
  const publish = async (...keys: SigningKey[]): Promise<void> => {
    await writeFile(`${file}.tmp`, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
    await rename(`${file}.tmp`, file);
    clock += JWKS_RECHECK_MS;
  };
  const over = (pveJwks: Jwks | JwksSource) => createResultTokens({ signingKey: oamKey, pveJwks, replayCache: memoryReplayCache() });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-adapter-jwks-'));
    file = join(dir, 'jwks.json');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('a rotation by rename: the new key verifies without a restart; the old one as the file says', async () => {
    await publish(pveKey);
    const a = over(new JwksFile(file, { now }));
    let n = newNonce();
    await expect(a.verifyPve(await pveToken(n), n)).resolves.toMatchObject({ eat_nonce: n });
    // the PVE rotated: the new key first, the old one kept (tokens signed before the rotation)
    await publish(otherKey, pveKey);
    n = newNonce();
    await expect(a.verifyPve(await pveToken(n, { key: otherKey }), n)).resolves.toMatchObject({ eat_nonce: n });
    n = newNonce();
    await expect(a.verifyPve(await pveToken(n), n)).resolves.toMatchObject({ eat_nonce: n });
    // the old key dropped from the file: its tokens are refused, with the error of any unknown key
    await publish(otherKey);
    n = newNonce();
    await expect(a.verifyPve(await pveToken(n), n)).rejects.toMatchObject({ code: 'ERR_TOKEN_KEY_UNKNOWN' });
    n = newNonce();
    await expect(a.verifyPve(await pveToken(n, { key: otherKey }), n)).resolves.toMatchObject({ eat_nonce: n });
  });

  it('an unknown kid: the file is checked once more (a rotation between the stat and the verification)', async () => {
    await publish(pveKey);
    const jwks = new JwksFile(file, { now });
    let asked = 0;
    // the PVE's new jwks.json lands just after this verification's stat
    const racing: JwksSource = {
      async current(o) {
        const keys = await jwks.current(o);
        if (++asked === 1) await publish(otherKey, pveKey);
        return keys;
      },
    };
    const n = newNonce();
    await expect(over(racing).verifyPve(await pveToken(n, { key: otherKey, jti: 'rotated' }), n)).resolves.toMatchObject({ eat_nonce: n });
    expect(asked).toBe(2);
  });

  it('an unknown kid the file really lacks: asked twice, then ERR_TOKEN_KEY_UNKNOWN as with fixed keys; the jti stays unused', async () => {
    const keys: Jwks = { keys: [pveKey.publicJwk] };
    let asked = 0;
    const a = over({ current: async () => { asked++; return keys; } });
    const n = newNonce();
    await expect(a.verifyPve(await pveToken(n, { key: otherKey, jti: 'j-1' }), n)).rejects.toMatchObject({ code: 'ERR_TOKEN_KEY_UNKNOWN' });
    expect(asked).toBe(2);
    // another failure is not a reason to look again
    asked = 0;
    await expect(a.verifyPve(await pveToken(newNonce()), n)).rejects.toMatchObject({ code: 'ERR_TOKEN_NONCE' });
    expect(asked).toBe(1);
    // the refused token's jti was not remembered: the same jti from the right key still verifies
    await expect(a.verifyPve(await pveToken(n, { jti: 'j-1' }), n)).resolves.toMatchObject({ jti: 'j-1' });
  });
});

describe('runner with real tokens', () => {
  it('healthy: the final token verifies with the OAM key; a PVE signed by a foreign key is refused', async () => {
    const store = new MemoryStore();
    await store.putHenb({ henbId: 'henb-1', rim: OLD_RIM, softwareVersion: '1.0.0', state: 'trusted', lastResultToken: null });
    let signer = pveKey;
    const pve: PveClient = {
      integrityRequest: async (req) => ({ token: req.completion !== undefined ? await postUpdateToken(req, signer) : await pveToken(req.nonce, { key: signer }) }),
    };
    const devices = new FakeDevices();
    devices.installMs = 0;
    const results: Job[] = [];
    const r = new JobRunner({
      store, pve, devices, fetcher: new FakeFetcher(), tokens: adapter(), newNonce,
      events: { progress: () => undefined, alarm: () => undefined, result: (j) => { results.push(j); } },
    });
    try {
      const job = await r.start({ henbId: 'henb-1', request: { uri: 'file:///x.img', selfCheck: true, measures: ['alarm'] } });
      for (let i = 0; i < 50 && results.length === 0; i++) await new Promise((res) => setTimeout(res, 5));
      expect(results[0]?.state).toBe('verified');
      const v = await verifyResult(results[0]!.result!.token!, { jwks: { keys: [oamKey.publicJwk] }, issuer: OAM_ISSUER, audience: NMS_AUDIENCE, maxAgeSec: 60, replayCache: memoryReplayCache() });
      expect(v.claims).toMatchObject({ sub: 'henb-1', ear_status: 'affirming' });
      expect(v.claims.submods['software-update']).toMatchObject({ 'job-id': job.jobId, 'expected-rim': EXPECTED, 'reported-tim': EXPECTED });

      signer = otherKey;
      const job2 = await r.start({ henbId: 'henb-1', request: { uri: 'file:///x.img', selfCheck: true, measures: ['alarm'] } });
      for (let i = 0; i < 50 && results.length === 1; i++) await new Promise((res) => setTimeout(res, 5));
      expect(results[1]).toMatchObject({ jobId: job2.jobId, state: 'refused' });
      expect(results[1]?.result?.reason).toContain('ERR_TOKEN_KEY_UNKNOWN');
      expect(devices.updates).toHaveLength(1);
    } finally {
      await r.close();
    }
  });
});
