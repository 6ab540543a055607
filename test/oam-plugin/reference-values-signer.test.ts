/**
 * The built-in plugin's PVE client signs the reference values it sends (issue 15): referenceValuesSignerFromConfig
 * makes the signer over the OAM's key in DATA_DIR/keys (read at the first signature, nothing opened before), and
 * pveFromConfig gives it to the client, whose signAndProvideReferenceValues sends the values of several H(e)NBs made
 * while others are on their way as one list statement, one signature, which the reference PVE takes.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pveFromConfig, referenceValuesSignerFromConfig } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import type { ReferenceValuesInput, ReferenceValuesSigner } from '../../src/oam/index.js';
import { startPve } from '../../src/pve/index.js';
import type { PveHandle } from '../../src/pve/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { loadOrCreateSigningKey, memoryReplayCache, publishJwks, verifyReferenceValuesList } from '../../src/tokens/index.js';
import { cellEntry } from '../pve/cells.js';

let dir: string;
let pve: PveHandle;
const cells = ['cell-a', 'cell-b', 'cell-c', 'cell-d'].map((id) => new Femtocell({ henbId: id, installMs: 1 }));
const D = 'e1'.repeat(32);
const values = (henbId: string): ReferenceValuesInput => ({ henbId, jobId: `job-${henbId}`, values: [{ component: 'rootfs', digest: D, version: '6.0.0' }] });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-rv-signer-'));
  // the OAM's key made as activation makes it (DATA_DIR/keys, oam); the PVE trusts it
  await loadOrCreateSigningKey(join(dir, 'oam', 'keys'), 'oam');
  await publishJwks(join(dir, 'oam', 'keys'));
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: cells.map(cellEntry), referenceValues: factoryReferenceValues(),
    oamJwks: join(dir, 'oam', 'keys', 'jwks.json'),
  });
  await writeFile(join(dir, 'pve-jwks.json'), JSON.stringify(pve.jwks));
});

afterAll(async () => {
  await pve?.close();
  for (const c of cells) c.close();
  await rm(dir, { recursive: true, force: true });
});

const config = (): OamPluginConfig => ({ pve: { endpoint: pve.url, transport: 'restconf', ca: pve.caPath, jwks: join(dir, 'pve-jwks.json'), issuer: 'urn:example:pve' } });

describe('the OAM\'s reference-values signer for its PVE client', () => {
  it('none without a PVE; with one, nothing is opened before the first signature, then the OAM key signs, aud the PVE\'s name', async () => {
    expect(referenceValuesSignerFromConfig({}, join(dir, 'none'))).toBeUndefined();
    const dataDir = join(dir, 'fresh');
    const signer = referenceValuesSignerFromConfig(config(), dataDir)!;
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
    const jws = await signer.list([values('cell-a'), values('cell-b')]);
    const jwks = await publishJwks(join(dataDir, 'keys'));
    const v = await verifyReferenceValuesList(jws, { jwks, issuer: 'urn:henb-sw-verify:oam', audience: 'urn:example:pve', maxAgeSec: 300, replayCache: memoryReplayCache() });
    expect(v.entries.map((e) => ('claims' in e ? e.claims.sub : e.problem))).toEqual(['cell-a', 'cell-b']);
  });

  it('pveFromConfig gives it to the client: values made while others are on their way leave as one list statement the PVE takes', async () => {
    const made = referenceValuesSignerFromConfig({ ...config(), pve: { ...config().pve!, issuer: undefined } }, join(dir, 'oam'))!;
    const counted = { ones: 0, lists: [] as number[] };
    const signer: ReferenceValuesSigner = {
      one: (v) => (counted.ones++, made.one(v)),
      list: (vs) => (counted.lists.push(vs.length), made.list(vs)),
    };
    const unsigned = await pveFromConfig(config(), { log: silentLogger, baseDir: dir });
    expect(unsigned.pve.signAndProvideReferenceValues).toBeUndefined();
    unsigned.pve.close();
    const { pve: client } = await pveFromConfig({ ...config(), pve: { ...config().pve!, issuer: undefined } }, { log: silentLogger, baseDir: dir }, signer);
    try {
      // two operations on their way at once (the default): the first two alone, the next two together
      await Promise.all(cells.map((c) => client.signAndProvideReferenceValues!(values(c.henbId), new AbortController().signal)));
      expect(counted).toEqual({ ones: 2, lists: [2] });
      for (const c of cells) expect(pve.providedReferenceValues(c.henbId)).toEqual({ rootfs: [D] });
    } finally {
      client.close();
    }
  });
});
