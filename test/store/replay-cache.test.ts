// The store-backed jti replay cache: a token replayed after an OAM restart is still refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { generateSigningKey, signResult, storeReplayCache, verifyResult } from '../../src/tokens/index.js';
import type { SigningKey, VerifyOptions } from '../../src/tokens/index.js';
import type { Store } from '../../src/store/index.js';

let dir: string;
const opened: Store[] = [];
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hsv-jti-')); });
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function opts(key: SigningKey, store: Store): VerifyOptions {
  return { keys: [key.publicJwk], issuer: 'pve', audience: 'oam', maxAgeSec: 120, replayCache: storeReplayCache(store) };
}

describe('storeReplayCache', () => {
  it('refuses a replayed token, also after a restart', async () => {
    const key = await generateSigningKey();
    const token = await signResult({
      iss: 'pve', aud: 'oam', sub: 'henb-1', ear_status: 'affirming', ear_verifier_id: { developer: 'd', build: 'b' },
      submods: { platform: { ear_status: 'affirming', 'job-id': 'job-1', phase: 'pre-update' } },
    }, key);
    const s1 = await openSqliteStore({ dataDir: dir });
    opened.push(s1);
    await expect(verifyResult(token, opts(key, s1))).resolves.toMatchObject({ claims: { sub: 'henb-1' } });
    await expect(verifyResult(token, opts(key, s1))).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_REPLAY' }));
    await s1.close();
    const s2 = await openSqliteStore({ dataDir: dir });
    opened.push(s2);
    await expect(verifyResult(token, opts(key, s2))).rejects.toThrow(expect.objectContaining({ code: 'ERR_TOKEN_REPLAY' }));
  });
});
