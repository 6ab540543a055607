/**
 * provided.ts saves the statements of many H(e)NBs in groups (one append to the record's journal covers every
 * statement accepted before it started): statements accepted at once are all on disk when their accept resolves, and
 * a PVE that opens the record again has every one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log/logger.js';
import { openProvidedReferenceValues } from '../../src/pve/provided.js';
import { readProvidedRecord } from '../../src/pve/provided-record.js';
import { generateSigningKey, signReferenceValues } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';

const OAM = 'urn:henb-sw-verify:oam';
const PVE = 'urn:henb-sw-verify:pve';
const digest = (i: number): string => i.toString(16).padStart(2, '0').repeat(32);

let dir: string;
let key: SigningKey;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-group-'));
  key = await generateSigningKey('ES256', 'oam');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('provided reference values, saved in groups', () => {
  it('40 statements accepted at once: each is in the file when its accept resolves, and all are there after a reopen', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `henb-${i}`);
    const open = () => openProvidedReferenceValues({ dataDir: dir, audience: PVE, oamJwks: { keys: [key.publicJwk] }, knownHenb: (id) => ids.includes(id), log: silentLogger });
    const provided = await open();
    const record = join(dir, 'reference-values');
    const jws = await Promise.all(ids.map((id, i) => signReferenceValues({ iss: OAM, aud: PVE, sub: id, 'job-id': `job-${i}`, 'reference-values': [{ component: 'rootfs', digest: digest(i) }] }, key)));
    await Promise.all(jws.map(async (j, i) => {
      const claims = await provided.accept(j);
      expect(claims.sub).toBe(ids[i]);
      const onDisk = await readProvidedRecord(record); // read from disk, as a PVE starting now would
      expect(onDisk.henbs[ids[i]!]?.jobId).toBe(`job-${i}`);
    }));
    const again = await open();
    for (const [i, id] of ids.entries()) expect(again.valuesFor(id)).toEqual({ rootfs: [digest(i)] });
    // after the reopen the stored jti still says which statement is current: sent again (a retry after a lost
    // answer), it is answered as accepted and changes nothing
    const before = (await readProvidedRecord(record)).henbs['henb-3'];
    await expect(again.accept(jws[3]!)).resolves.toMatchObject({ sub: 'henb-3', 'job-id': 'job-3' });
    expect((await readProvidedRecord(record)).henbs['henb-3']).toEqual(before);
    // once a newer statement replaced it, it is refused
    await again.accept(await signReferenceValues({ iss: OAM, aud: PVE, sub: 'henb-3', 'job-id': 'job-3b', 'reference-values': [{ component: 'rootfs', digest: digest(99) }] }, key, { now: () => Date.now() / 1000 + 2 }));
    await expect(again.accept(jws[3]!)).rejects.toMatchObject({ entry: { 'error-app-tag': 'reference-values-stale' } });
    expect(again.valuesFor('henb-3')).toEqual({ rootfs: [digest(99)] });
    await provided.close();
    await again.close();
  });
});
