/**
 * Nothing lost to load (issue 15), step 9: the PVE's answer to provide-reference-values lost after it accepted the
 * statement. A proxy resets the connection as the PVE is about to answer; the client sends the same statement
 * again and the PVE answers it as accepted (its current statement, changed nothing) instead of refusing it as a
 * replay, so the OAM does not alarm "reference values not provided" for values the PVE holds. Over RESTCONF/HTTPS
 * and NETCONF/SSH.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { startPve } from '../../src/pve/service.js';
import type { PveHandle } from '../../src/pve/service.js';
import { cellCollector, cellEntry } from './cells.js';
import { createPveClient } from '../../src/pve/client.js';
import { createNetconfPveClient } from '../../src/pve/netconf-client.js';
import { readProvidedRecord } from '../../src/pve/provided-record.js';
import { createLogger } from '../../src/log/logger.js';
import { generateSigningKey, signReferenceValues } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';
import { startCutProxy } from '../helpers/cut-proxy.js';
import type { CutProxy } from '../helpers/cut-proxy.js';

const ACCEPTED = 'reference values accepted';
const AGAIN = 'reference values provided again: already accepted, nothing changed';
const DIGEST = 'ab'.repeat(32);
const signal = (): AbortSignal => new AbortController().signal;
/** no waiting between attempts: the test is about what is sent again, not when */
const retry = { sleep: async (): Promise<void> => undefined };

let dir: string;
let oamKey: SigningKey;
let pve: PveHandle;
let proxy: CutProxy | undefined;
let said: string[] = [];
const cells = new Map<string, Femtocell>();

const collector = cellCollector(cells);
const entry = cellEntry;

/** the PVE's log; the proxy armed when the PVE accepted a statement (its answer is next) */
const log = createLogger({
  level: 'info',
  write: (line) => {
    const msg = (JSON.parse(line) as { msg: string }).msg;
    said.push(msg);
    if (msg === ACCEPTED) proxy?.arm();
  },
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-provide-retry-'));
  oamKey = await generateSigningKey('ES256', 'oam');
  await writeFile(join(dir, 'oam-jwks.json'), JSON.stringify({ keys: [oamKey.publicJwk] }));
  for (const id of ['cell-rc', 'cell-nc']) cells.set(id, new Femtocell({ henbId: id, installMs: 1 }));
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir: join(dir, 'pve'), devices: [...cells.values()].map(entry), referenceValues: factoryReferenceValues(), collector,
    oamJwks: join(dir, 'oam-jwks.json'), netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'pve-secret' }] }, log,
  });
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  await pve?.close();
  for (const c of cells.values()) c.close();
  await rm(dir, { recursive: true, force: true });
});

function statement(henbId: string): Promise<string> {
  return signReferenceValues({ iss: 'urn:henb-sw-verify:oam', aud: 'urn:henb-sw-verify:pve', sub: henbId, 'job-id': `job-${henbId}`, 'reference-values': [{ component: 'rootfs', digest: DIGEST }] }, oamKey);
}

async function recordedJob(henbId: string): Promise<string | undefined> {
  return (await readProvidedRecord(join(dir, 'pve', 'reference-values'))).henbs[henbId]?.jobId;
}

describe('provide-reference-values whose answer was lost after the PVE accepted it', () => {
  const clients = {
    RESTCONF: (port: number) => createPveClient({ url: `https://127.0.0.1:${port}`, ca: pve.ca, retry }),
    NETCONF: (port: number) => createNetconfPveClient({ host: '127.0.0.1', port, username: 'oam', password: 'pve-secret', hostKeySha256: pve.netconf!.hostKeySha256, retry }),
  };
  it.each([['RESTCONF', 'cell-rc'], ['NETCONF', 'cell-nc']] as const)('%s: sent again, answered as accepted; the values are the PVE\'s once', async (transport, henbId) => {
    said = [];
    proxy = await startCutProxy(transport === 'RESTCONF' ? pve.port : pve.netconf!.port);
    const client = clients[transport](proxy.port);
    try {
      await client.provideReferenceValues(await statement(henbId), signal());
    } finally {
      client.close();
    }
    expect(proxy.resets).toBe(1);
    expect(said.filter((m) => m === ACCEPTED)).toHaveLength(1);
    expect(said.filter((m) => m === AGAIN)).toHaveLength(1);
    expect(pve.providedReferenceValues(henbId)).toEqual({ rootfs: [DIGEST] });
    expect(await recordedJob(henbId)).toBe(`job-${henbId}`);
  });
});
