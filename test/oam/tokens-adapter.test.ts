import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateSigningKey, memoryReplayCache, newNonce, signResult, verifyResult } from '../../src/tokens/index.js';
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
