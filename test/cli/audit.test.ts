// The audit log end to end: `serve` records what its sessions did and were refused (config edits, NACM denials,
// failed logins), signs the chain head at shutdown with the OAM key; `audit verify` proves the chain (exit 0),
// names the first bad record after tampering (exit 1), refuses bad usage (exit 2); `audit show` and `audit head`
// read it; `rotate-key` is recorded and heads signed before the rotation keep verifying.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { SQLITE_FILE_NAME, openDatabase } from '../../src/store/index.js';
import type { AuditRecord } from '../../src/store/index.js';
import { until } from '../helpers/until.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';
const env = { HENB_SW_VERIFY_ADMIN_PASSWORD: 'audit-admin-pw', FRESH_PW: 'audit-fresh-pw' };
let dir = '';
let dataDir = '';
let dbFile = '';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new BufferWritable();
  const err = new BufferWritable();
  const code = await runCli(args, { stdout: out, stderr: err, env: { ...process.env, ...env }, cwd: dir, tty: false });
  return { code, out: out.text(), err: err.text() };
}

/** serve until `fn` is done, then stop it (the head is signed at shutdown) */
async function serving(fn: (connect: (user: string, password: string) => Promise<NetconfClient>) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const out = new BufferWritable();
  const done = runCli(['serve', '--config', join(dir, 'config.yaml'), '--json'], { stdout: out, stderr: new BufferWritable(), env, signal: stop.signal });
  try {
    await until(() => out.text().includes('\n'), 'the ready line');
    const ready = JSON.parse(out.text()) as { port: number; hostKey: string };
    await fn((username, password) => connectNetconf({ host: '127.0.0.1', port: ready.port, username, password, hostKeySha256: ready.hostKey, rpcTimeoutMs: 20_000 }));
  } finally {
    stop.abort();
    expect(await done).toBe(0);
  }
}

function sql(text: string): void {
  const db = openDatabase(dbFile, { timeout: 5000 });
  try {
    db.exec(text);
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-audit-cli-'));
  dataDir = join(dir, 'oam');
  dbFile = join(dataDir, 'plugins', 'henb-sw-verify', SQLITE_FILE_NAME);
  await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0
data-dir: ${dataDir}
logging: { level: error }
users:
  - name: fresh
    password: { env: FRESH_PW }
audit:
  seal-interval: 0
`);
  await serving(async (connect) => {
    const admin = await connect('admin', env.HENB_SW_VERIFY_ADMIN_PASSWORD);
    await admin.rpc(`<edit-config><target><running/></target><config><inventory xmlns="${HSV}"><henb><henb-id>henb-a</henb-id><address>192.0.2.1</address></henb></inventory></config></edit-config>`);
    await admin.close();
    // a user without a group may read but not write (RFC 8341 write default deny)
    const fresh = await connect('fresh', env.FRESH_PW);
    await expect(fresh.rpc(`<edit-config><target><running/></target><config><inventory xmlns="${HSV}"><henb><henb-id>intruder</henb-id><address>192.0.2.66</address></henb></inventory></config></edit-config>`))
      .rejects.toMatchObject({ errors: [expect.objectContaining({ tag: 'access-denied' })] });
    await fresh.close();
    await expect(connect('fresh', 'wrong-password')).rejects.toThrow();
  });
}, 90_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('audit verify / show / head', () => {
  it('show lists what serve recorded: the config edit, the NACM denial, the failed login, with their actors', async () => {
    const r = await cli(['audit', 'show', '--data-dir', dataDir, '--json']);
    expect(r.code, r.err).toBe(0);
    const recs = JSON.parse(r.out) as Array<Omit<AuditRecord, 'details'> & { details: Record<string, unknown> }>;
    expect(recs.map((x) => x.seq)).toEqual(recs.map((_, i) => i + 1));
    const edit = recs.find((x) => x.action === 'config-edit');
    expect(edit).toMatchObject({ actor: expect.stringMatching(/^netconf:admin@\d+$/), object: 'running', details: { operation: 'edit-config', changed: [{ module: 'henb-sw-verify', node: 'inventory', change: 'created' }] } });
    const denial = recs.find((x) => x.action === 'nacm-denial');
    expect(denial).toMatchObject({ actor: expect.stringMatching(/^netconf:fresh@\d+$/), details: { kind: 'data-write' } });
    expect(denial!.object).toContain('inventory');
    const failed = recs.find((x) => x.action === 'login-failed');
    expect(failed).toMatchObject({ actor: expect.stringMatching(/^ssh:127\.0\.0\.1:\d+$/), object: 'fresh', details: { method: 'password' } });
    // the denied edit changed nothing: one config-edit only
    expect(recs.filter((x) => x.action === 'config-edit')).toHaveLength(1);
    const text = await cli(['audit', 'show', '--data-dir', dataDir, '--after', '1', '--limit', '1']);
    expect(text.out.trim().split('\n')).toHaveLength(1);
    expect(text.out).toMatch(/^2\t/);
  });

  it('verify: an intact chain whose head serve signed at shutdown', async () => {
    const r = await cli(['audit', 'verify', '--data-dir', dataDir]);
    expect(r.code, r.err + r.out).toBe(0);
    expect(r.out).toMatch(/^audit log intact: \d+ record\(s\), signed through record \d+ \(kid [\w-]+\), 0 record\(s\) after the newest signed head/);
    const j = await cli(['audit', 'verify', '--data-dir', dataDir, '--json']);
    expect(JSON.parse(j.out)).toMatchObject({ ok: true, unsignedTail: 0, problem: null });
    const head = await cli(['audit', 'head', '--data-dir', dataDir]);
    expect(head.code).toBe(0);
    expect(head.out.trim().split('.')).toHaveLength(3);
  });

  it('usage errors exit 2: no action, a bad action, a data dir without a store, a missing JWKS', async () => {
    expect((await cli(['audit', '--data-dir', dataDir])).code).toBe(2);
    const bad = await cli(['audit', 'check', '--data-dir', dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("ACTION must be verify, show or head, got 'check'");
    const empty = await cli(['audit', 'verify', '--data-dir', join(dir, 'nothing'), '--jwks', join(dataDir, 'plugins', 'henb-sw-verify', 'keys', 'jwks.json')]);
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('no store database');
    const nokeys = await cli(['audit', 'verify', '--data-dir', dataDir, '--jwks', join(dir, 'none.json')]);
    expect(nokeys.code).toBe(2);
    expect(nokeys.err).toContain('no JWKS file');
    expect((await cli(['audit', 'show', '--data-dir', dataDir, '--limit', '0'])).code).toBe(2);
  });

  it('verify with another key set: the head does not verify (exit 1)', async () => {
    const { generateSigningKey } = await import('../../src/tokens/index.js');
    const other = await generateSigningKey('ES256', 'other');
    await writeFile(join(dir, 'other.json'), JSON.stringify({ keys: [other.publicJwk] }));
    const r = await cli(['audit', 'verify', '--data-dir', dataDir, '--jwks', join(dir, 'other.json')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/TAMPERED: record \d+ head-signature: .*no key with kid/);
  });

  it('rotate-key is recorded; heads signed before the rotation keep verifying', async () => {
    const rot = await cli(['rotate-key', '--data-dir', dataDir, '--json']);
    expect(rot.code, rot.err).toBe(0);
    const kid = (JSON.parse(rot.out) as { kid: string }).kid;
    const shown = JSON.parse((await cli(['audit', 'show', '--data-dir', dataDir, '--json', '--limit', '1000'])).out) as Array<{ action: string; actor: string; details: { to: string } }>;
    const rec = shown.at(-1)!;
    expect(rec).toMatchObject({ action: 'key-rotation', actor: expect.stringMatching(/^cli:rotate-key:/), details: { to: kid } });
    const v = await cli(['audit', 'verify', '--data-dir', dataDir, '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ ok: true, unsignedTail: 1 });
    // the next serve signs the head with the new key
    await serving(async () => undefined);
    const after = JSON.parse((await cli(['audit', 'verify', '--data-dir', dataDir, '--json'])).out) as { ok: boolean; signedKid: string; unsignedTail: number };
    expect(after).toMatchObject({ ok: true, signedKid: kid, unsignedTail: 0 });
  }, 60_000);

  it('tampering is named: a modified record, then a deleted one (exit 1)', async () => {
    const before = (JSON.parse((await cli(['audit', 'show', '--data-dir', dataDir, '--json'])).out) as AuditRecord[]).find((x) => x.action === 'nacm-denial')!;
    const seq = before.seq;
    sql(`UPDATE audit_log SET actor = 'netconf:admin@1' WHERE seq = ${seq}`);
    const r = await cli(['audit', 'verify', '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(`audit log TAMPERED: record ${seq} modified: record ${seq} does not hash to its stored hash (a field was changed)\n`);
    const j = JSON.parse((await cli(['audit', 'verify', '--data-dir', dataDir, '--json'])).out) as { ok: boolean; problem: { kind: string; seq: number } };
    expect(j).toMatchObject({ ok: false, problem: { kind: 'modified', seq } });
    // put it back exactly: intact again; then delete it
    sql(`UPDATE audit_log SET actor = '${before.actor}' WHERE seq = ${seq}`);
    expect((await cli(['audit', 'verify', '--data-dir', dataDir])).code).toBe(0);
    sql(`DELETE FROM audit_log WHERE seq = ${seq}`);
    const d = await cli(['audit', 'verify', '--data-dir', dataDir]);
    expect(d.code).toBe(1);
    expect(d.out).toContain(`record ${seq} deleted: record ${seq} is missing`);
  });
});
