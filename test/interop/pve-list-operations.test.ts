/**
 * Interop: the PVE's list operations (henb-sw-verify-pve 2026-12-07) with clients and a validator we did not write.
 * curl POSTs integrity-requests and provide-reference-values-list over RESTCONF/HTTPS; python3-ncclient calls both
 * over NETCONF/SSH; yanglint (libyang) validates every input and every reply against the module (JSON as RFC 7951
 * RPC input and output, XML as NETCONF rpc and rpc-reply). The PVE collects the evidence of real simulated
 * femtocells over NETCONF. A missing curl, python3/ncclient or yanglint fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import type { PveHandle } from '../../src/pve/service.js';
import { INTEGRITY_REQUESTS_PATH, PROVIDE_LIST_PATH } from '../../src/pve/restconf.js';
import { signReferenceValues, signReferenceValuesList } from '../../src/tokens/index.js';
import type { SigningKey } from '../../src/tokens/index.js';
import { runNcclient } from './helpers/ncclient.js';
import { startPveTrustingOam } from './helpers/pve-trusting-oam.js';

const run = promisify(execFile);
const YANG = join(import.meta.dirname, '../../yang');
const MODULE = join(YANG, 'henb-sw-verify-pve.yang');
const DIGEST = 'ef'.repeat(32);
let dir: string;
let fleet: Fleet;
let pve: PveHandle;
let oam: SigningKey;
let other: SigningKey;
let henbs: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-interop-lists-'));
  fleet = await startFleet({ profiles: { healthy: 3 }, dataDir: join(dir, 'fleet') });
  henbs = fleet.devices.map((d) => d.henbId);
  ({ pve, oam, other } = await startPveTrustingOam(dir, fleet));
}, 60_000);

afterAll(async () => {
  await pve?.close();
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

const statement = (henbId: string, key: SigningKey): Promise<string> =>
  signReferenceValues({ iss: 'urn:henb-sw-verify:oam', aud: 'urn:henb-sw-verify:pve', sub: henbId, 'job-id': `job-${henbId}`, 'reference-values': [{ component: 'rootfs', digest: DIGEST }] }, key);

/** a list statement (issue 15): the values of `ids` under one signature of `key` */
const listStatement = (ids: string[], key: SigningKey, digest = DIGEST): Promise<string> => signReferenceValuesList({
  iss: 'urn:henb-sw-verify:oam', aud: 'urn:henb-sw-verify:pve',
  entries: ids.map((sub) => ({ sub, 'job-id': `job-list-${sub}`, 'reference-values': [{ component: 'rootfs', digest }] })),
}, key);

async function curlPost(path: string, body: unknown): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--cacert', join(dir, 'ca.pem'), '-X', 'POST', '-H', 'Content-Type: application/yang-data+json',
    '-H', 'Accept: application/yang-data+json', '--data-binary', JSON.stringify(body), '-w', '\n%{http_code}', `${pve.url}${path}`], { timeout: 30_000 });
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

/** yanglint -t TYPE on `text` (written to a file); its stderr, empty when valid */
async function yanglint(type: string, name: string, text: string, rpcFile?: string): Promise<string> {
  const f = join(dir, name);
  await writeFile(f, text);
  const args = ['-p', join(YANG, 'ietf'), '-t', type, ...(rpcFile !== undefined ? ['-R', rpcFile] : []), MODULE, f];
  const r = await run('yanglint', args, { timeout: 30_000 }).catch((e: { stdout: string; stderr: string }) => ({ ...e, stderr: e.stderr || 'yanglint failed' }));
  return r.stderr.trim();
}

/** an RFC 8040 operation's input or output member as libyang's JSON RPC form (the operation's member holding it) */
const asRpcJson = (op: string, content: unknown): string => JSON.stringify({ [`henb-sw-verify-pve:${op}`]: content });

describe('integrity-requests and provide-reference-values-list, with clients and a validator we did not write', () => {
  it('curl: integrity-requests answers each request (the PVE collects from the femtocells), a refused one in its own result; yanglint validates input and reply', async () => {
    const request = [
      { index: 0, 'henb-id': henbs[0], 'nonce-value': randomBytes(32).toString('base64') },
      { index: 1, 'henb-id': henbs[1], 'nonce-value': randomBytes(32).toString('base64'), 'job-id': 'job-curl-1' },
      { index: 2, 'henb-id': 'no-such-henb', 'nonce-value': randomBytes(32).toString('base64') },
    ];
    expect(await yanglint('rpc', 'ir-in.json', asRpcJson('integrity-requests', { request }))).toBe('');
    const r = await curlPost(INTEGRITY_REQUESTS_PATH, { 'henb-sw-verify-pve:input': { request } });
    expect(r.status, r.body).toBe(200);
    const out = (JSON.parse(r.body) as Record<string, { result: Array<Record<string, unknown>> }>)['henb-sw-verify-pve:output']!;
    expect(out.result.map((x) => x.index)).toEqual([0, 1, 2]);
    expect(out.result[0]).toMatchObject({ 'ear-status': 'affirming' });
    expect(out.result[1]).toMatchObject({ 'ear-status': 'affirming' });
    expect(out.result[2]!.error).toMatchObject({ 'error-type': 'application', 'error-app-tag': 'unknown-henb' });
    expect(await yanglint('reply', 'ir-out.json', asRpcJson('integrity-requests', out))).toBe('');
  }, 60_000);

  it('curl: provide-reference-values-list accepts the OAM\'s statement and refuses another key\'s in its own result; yanglint validates input and reply', async () => {
    const statementList = [{ index: 0, 'reference-values': await statement(henbs[2]!, oam) }, { index: 1, 'reference-values': await statement(henbs[2]!, other) }];
    expect(await yanglint('rpc', 'pl-in.json', asRpcJson('provide-reference-values-list', { statement: statementList }))).toBe('');
    const r = await curlPost(PROVIDE_LIST_PATH, { 'henb-sw-verify-pve:input': { statement: statementList } });
    expect(r.status, r.body).toBe(200);
    const out = (JSON.parse(r.body) as Record<string, { result: Array<Record<string, unknown>> }>)['henb-sw-verify-pve:output']!;
    expect(out.result[0]).toEqual({ index: 0, accepted: [null] });
    expect(out.result[1]!.error).toMatchObject({ 'error-tag': 'access-denied', 'error-app-tag': 'reference-values-untrusted' });
    expect(await yanglint('reply', 'pl-out.json', asRpcJson('provide-reference-values-list', out))).toBe('');
    expect(pve.providedReferenceValues(henbs[2]!)).toEqual({ rootfs: [DIGEST] });
  }, 60_000);

  it('curl: provide-reference-values-list with one list statement: each entry answered by its position; a list not signed by the OAM refused whole; yanglint validates input and reply', async () => {
    const digest = 'a7'.repeat(32);
    const input = { 'reference-values-list': await listStatement([henbs[0]!, 'no-such-henb', henbs[1]!], oam, digest) };
    expect(await yanglint('rpc', 'sl-in.json', asRpcJson('provide-reference-values-list', input))).toBe('');
    const r = await curlPost(PROVIDE_LIST_PATH, { 'henb-sw-verify-pve:input': input });
    expect(r.status, r.body).toBe(200);
    const out = (JSON.parse(r.body) as Record<string, { result: Array<Record<string, unknown>> }>)['henb-sw-verify-pve:output']!;
    expect(out.result.map((x) => x.index)).toEqual([0, 1, 2]);
    expect(out.result[0]).toEqual({ index: 0, accepted: [null] });
    expect(out.result[1]!.error).toMatchObject({ 'error-type': 'application', 'error-app-tag': 'unknown-henb' });
    expect(out.result[2]).toEqual({ index: 2, accepted: [null] });
    expect(await yanglint('reply', 'sl-out.json', asRpcJson('provide-reference-values-list', out))).toBe('');
    expect(pve.providedReferenceValues(henbs[1]!)).toEqual({ rootfs: [digest] });
    // another key: the operation refused, every entry with it
    const refused = await curlPost(PROVIDE_LIST_PATH, { 'henb-sw-verify-pve:input': { 'reference-values-list': await listStatement([henbs[0]!], other, 'a8'.repeat(32)) } });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ 'ietf-restconf:errors': { error: [{ 'error-tag': 'access-denied', 'error-app-tag': 'reference-values-untrusted' }] } });
    // both input forms at once are not valid input (the choice), for yanglint as for the PVE
    const both = { ...input, statement: [{ index: 0, 'reference-values': await statement(henbs[0]!, oam) }] };
    expect(await yanglint('rpc', 'sl-both.json', asRpcJson('provide-reference-values-list', both))).not.toBe('');
    expect((await curlPost(PROVIDE_LIST_PATH, { 'henb-sw-verify-pve:input': both })).status).toBe(400);
  }, 60_000);

  it('ncclient over NETCONF: both list operations answered entry by entry; yanglint validates each rpc and rpc-reply; an index twice is an rpc-error', async () => {
    const good = await statement(henbs[0]!, oam);
    const byOther = await statement(henbs[1]!, other);
    const signedList = `list:${await listStatement([henbs[2]!, 'no-such-henb'], oam, 'b9'.repeat(32))}`;
    const refusedList = `list:${await listStatement([henbs[2]!], other, 'ba'.repeat(32))}`;
    const { steps, code, stderr } = await runNcclient('ncclient_lists.py', pve.netconf!.port, [`${henbs[0]},${henbs[1]},no-such-henb`, good, byOther, signedList, refusedList],
      undefined, { user: 'oam', password: 'pve-secret' });
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    for (const step of ['provide-signed-list-0', 'provide-list', 'integrity-requests']) {
      const s = steps.get(step)!;
      expect(s.ok, JSON.stringify(s)).toBe(true);
      const rpcFile = join(dir, `${step}.rpc.xml`);
      await writeFile(rpcFile, `<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">${s.rpc as string}</rpc>`);
      expect(await yanglint('nc-rpc', `${step}.rpc.xml`, `<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">${s.rpc as string}</rpc>`)).toBe('');
      expect(await yanglint('nc-reply', `${step}.reply.xml`, (s.xml as string).replace(/message-id="[^"]*"/, 'message-id="1"'), rpcFile)).toBe('');
    }
    const provided = steps.get('provide-list')!.xml as string;
    expect(provided).toMatch(/<result xmlns="[^"]+"><index>0<\/index><accepted\/><\/result>/);
    expect(provided).toMatch(/<index>1<\/index><error>.*<error-app-tag>reference-values-untrusted<\/error-app-tag>/s);
    const signed = steps.get('provide-signed-list-0')!.xml as string;
    expect(signed).toMatch(/<result xmlns="[^"]+"><index>0<\/index><accepted\/><\/result>/);
    expect(signed).toMatch(/<index>1<\/index><error>.*<error-app-tag>unknown-henb<\/error-app-tag>/s);
    expect(pve.providedReferenceValues(henbs[2]!)).toEqual({ rootfs: ['b9'.repeat(32)] });
    expect(steps.get('provide-signed-list-1')).toMatchObject({ ok: false, error: { tag: 'access-denied', app_tag: 'reference-values-untrusted' } });
    const ir = steps.get('integrity-requests')!.xml as string;
    expect(ir.match(/<ear-status>affirming<\/ear-status>/g)).toHaveLength(2);
    expect(ir).toMatch(/<index>12<\/index><error>.*<error-app-tag>unknown-henb<\/error-app-tag>/s);
    expect(steps.get('index-twice')).toMatchObject({ ok: false });
  }, 60_000);
});
