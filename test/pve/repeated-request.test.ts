/**
 * A repeated integrity request (issue 15: nothing lost to load): the same request again from the same client (same
 * H(e)NB, nonce-value and body) is answered with the first one's outcome, joined while it runs: collected once,
 * signed once. The same nonce with another body, or from another client, is not answered from it: relayed evidence
 * is refused as a replay (nonce-reused), a collected check is a new request (as before: its nonce is the
 * requester's). Clients: every RESTCONF requester is one; NETCONF users are told apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Femtocell, factoryReferenceValues } from '../../src/simulator/model.js';
import { createNetconfPveClient, createPveClient, startPve } from '../../src/pve/index.js';
import type { EvidenceCollector, NetconfPveClient, PveHandle, RestconfPveClient } from '../../src/pve/index.js';
import type { PreUpdateEvidence } from '../../src/oam/index.js';
import { newNonce } from '../../src/tokens/nonce.js';
import { createLogger } from '../../src/log/logger.js';

/** the PVE's answers from a kept outcome, counted from its log */
let repeats = 0;
const log = createLogger({ level: 'info', write: (line) => { if ((JSON.parse(line) as { msg: string }).msg.startsWith('integrity-request repeated')) repeats++; } });

const cell = new Femtocell({ henbId: 'h1', profile: 'healthy' });
let collected = 0;
/** the next collection waits for this (undefined: answers at once) */
let gate: Promise<void> | undefined;
const collector: EvidenceCollector = {
  async collect(_device, nonce) {
    collected++;
    await gate;
    const ev = cell.measure(nonce);
    return { tim: ev.tim, log: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256' };
  },
};

let dataDir: string;
let pve: PveHandle;
let rc: RestconfPveClient;
let ncA: NetconfPveClient;
let ncB: NetconfPveClient;
const signal = (): AbortSignal => new AbortController().signal;

function relayed(nonce: string): PreUpdateEvidence {
  const ev = cell.measure(Buffer.from(nonce, 'base64url'));
  return { format: 'software-key', tim: ev.tim, measurementLog: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256', keyId: cell.keyId() };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-pve-repeat-'));
  pve = await startPve({
    listen: '127.0.0.1:0', dataDir, referenceValues: factoryReferenceValues(), collector,
    devices: [{ henbId: 'h1', host: '127.0.0.1', port: 1, username: 'u', devicePublicKey: cell.publicKeyPem() }],
    netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', password: 'a-secret' }, { username: 'other', password: 'b-secret' }] }, log,
  });
  rc = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 10_000 });
  const nc = { host: pve.netconf!.host, port: pve.netconf!.port, hostKeySha256: pve.netconf!.hostKeySha256 };
  ncA = createNetconfPveClient({ ...nc, username: 'oam', password: 'a-secret' });
  ncB = createNetconfPveClient({ ...nc, username: 'other', password: 'b-secret' });
});

afterAll(async () => {
  rc?.close();
  await pve?.close();
  cell.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('PVE: a repeated integrity request', () => {
  it('the same request while the first runs joins it, and after it is done gets the same signed result: collected once', async () => {
    const before = collected;
    let open!: () => void;
    gate = new Promise<void>((r) => { open = r; });
    const req = { henbId: 'h1', nonce: newNonce(), jobId: 'job-1' };
    const first = rc.integrityRequest(req, signal());
    await new Promise((r) => setTimeout(r, 100));
    const joined = rc.integrityRequest(req, signal());
    await new Promise((r) => setTimeout(r, 100));
    expect(collected).toBe(before + 1);
    open();
    gate = undefined;
    const [a, b] = await Promise.all([first, joined]);
    expect(a.earStatus).toBe('affirming');
    expect(b).toEqual(a);
    await expect(rc.integrityRequest(req, signal())).resolves.toEqual(a);
    expect(collected).toBe(before + 1);
  });

  it('NETCONF: the same user again gets the same result; the same nonce with another body is a new request', async () => {
    const before = collected;
    const req = { henbId: 'h1', nonce: newNonce(), jobId: 'job-2' };
    const a = await ncA.integrityRequest(req, signal());
    await expect(ncA.integrityRequest(req, signal())).resolves.toEqual(a);
    expect(collected).toBe(before + 1);
    const other = await ncA.integrityRequest({ ...req, jobId: 'job-3' }, signal());
    expect(other.token).not.toBe(a.token);
    expect(collected).toBe(before + 2);
  });

  it('relayed evidence: another body with the nonce, or another client with the same body, is refused as a replay', async () => {
    const nonce = newNonce();
    const ev = relayed(nonce);
    const req = { henbId: 'h1', nonce, jobId: 'job-4', evidence: ev };
    const a = await ncA.integrityRequest(req, signal());
    expect(a.earStatus).toBe('affirming');
    await expect(ncA.integrityRequest(req, signal())).resolves.toEqual(a);
    const replay = { code: 'ERR_PVE_REJECTED', appTag: 'nonce-reused' };
    // another NETCONF user, the RESTCONF endpoint: other clients
    await expect(ncB.integrityRequest(req, signal())).rejects.toMatchObject(replay);
    await expect(rc.integrityRequest(req, signal())).rejects.toMatchObject(replay);
    // the same client, the evidence measured again over the nonce (a new ECDSA signature), or another job id
    await expect(ncA.integrityRequest({ ...req, evidence: relayed(nonce) }, signal())).rejects.toMatchObject(replay);
    await expect(ncA.integrityRequest({ ...req, jobId: 'job-5' }, signal())).rejects.toMatchObject(replay);
    // and the first client's repeat still gets its result
    await expect(ncA.integrityRequest(req, signal())).resolves.toEqual(a);
  });

  it('a refusal is an answer: repeated as given, from the kept outcome', async () => {
    const req = { henbId: 'unknown-1', nonce: newNonce(), jobId: 'job-6' };
    await expect(rc.integrityRequest(req, signal())).rejects.toMatchObject({ code: 'ERR_PVE_UNKNOWN_HENB' });
    const before = repeats;
    await expect(rc.integrityRequest(req, signal())).rejects.toMatchObject({ code: 'ERR_PVE_UNKNOWN_HENB' });
    expect(repeats).toBe(before + 1);
  });
});
