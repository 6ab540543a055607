/**
 * The files inventory entries name (issue 15, branch invcache): at every change of running the device driver is
 * handed every entry again; a credentials, CA or client certificate file named by many entries is read once per
 * change, and an unchanged file not at all (stat-checked: dev, ino, size, mtime, ctime). A file replaced on disk is
 * read at the next change; a missing one makes the entries naming it unusable exactly as before (the edit-config is
 * accepted, the entry is logged). The reads are counted by wrapping node:fs readFileSync.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as Fs from 'node:fs';

// readFileSync calls by path (every module of this file's graph reads through the wrapper)
const reads = vi.hoisted(() => new Map<string, number>());
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  const readFileSync = ((...a: Parameters<typeof fs.readFileSync>) => {
    if (typeof a[0] === 'string') reads.set(a[0], (reads.get(a[0]) ?? 0) + 1);
    return fs.readFileSync(...a);
  }) as typeof fs.readFileSync;
  return { ...fs, default: { ...fs, readFileSync }, readFileSync };
});

import { mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { NETCONF_BASE_NS as NC, child, el, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HSV_NS as HSV } from '../../src/oam-plugin/index.js';
import { InventoryFiles, deviceEntryOf, fileHenbsById } from '../../src/oam-plugin/inventory.js';
import type { InventoryEntry } from '../../src/oam-plugin/inventory.js';
import { builtinPluginDir } from '../../src/plugin/host.js';
import { readManifest } from '../../src/plugin/manifest.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
const PEM = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-inventory-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readsOf = (file: string): number => reads.get(file) ?? 0;

/** replaces `file` by a new inode (write aside, rename onto it), as an operator's tooling or a secret store does */
async function replace(file: string, text: string): Promise<void> {
  await writeFile(`${file}.new`, text);
  await rename(`${file}.new`, file);
}

describe('InventoryFiles with deviceEntryOf', () => {
  const ssh = (id: string, credentials: string): InventoryEntry => ({ henbId: id, address: 'h', port: 830, callHome: false, credentials });

  it('a file named by N entries is read once in a pass, not again while unchanged; a replaced file is read at the next pass', async () => {
    const pw = join(dir, 'pw');
    await writeFile(pw, 'one\n');
    const files = new InventoryFiles();
    const pass = (): Array<string | undefined> => files.pass(() =>
      Array.from({ length: 50 }, (_, i) => deviceEntryOf(ssh(`h${i}`, `file:${pw}`), fileHenbsById([]), {}, silentLogger, undefined, files)?.password));
    reads.clear();
    expect(new Set(pass())).toEqual(new Set(['one']));
    expect(readsOf(pw)).toBe(1);
    expect(new Set(pass())).toEqual(new Set(['one']));
    expect(readsOf(pw)).toBe(1); // unchanged: stat'ed, not read
    await replace(pw, 'two\n');
    expect(new Set(pass())).toEqual(new Set(['two']));
    expect(readsOf(pw)).toBe(2);
    // rewritten in place with the same size and modification time: the change time still differs
    await writeFile(pw, 'six\n');
    await utimes(pw, 1_700_000_000, 1_700_000_000);
    expect(new Set(pass())).toEqual(new Set(['six']));
    expect(readsOf(pw)).toBe(3);
  });

  it('a missing file: the entries naming it are unusable as before (logged each), and it is read once it exists', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const pw = join(dir, 'missing-pw');
    const ca = join(dir, 'missing-ca.pem');
    const files = new InventoryFiles();
    const tls = (id: string): InventoryEntry => ({ henbId: id, address: 'h', port: 6513, callHome: false, transport: 'tls', tlsCa: ca, credentials: `file:${pw}` });
    const pass = (): unknown[] => files.pass(() => [
      deviceEntryOf(ssh('s1', `file:${pw}`), fileHenbsById([]), {}, log, undefined, files),
      deviceEntryOf(ssh('s2', `file:${pw}`), fileHenbsById([]), {}, log, undefined, files),
      deviceEntryOf(tls('t1'), fileHenbsById([]), {}, log, { baseDir: dir, cert: PEM }, files),
    ]);
    // the same as without InventoryFiles (every call reads the file)
    const direct = [
      deviceEntryOf(ssh('s1', `file:${pw}`), fileHenbsById([]), {}, log),
      deviceEntryOf(ssh('s2', `file:${pw}`), fileHenbsById([]), {}, log),
      deviceEntryOf(tls('t1'), fileHenbsById([]), {}, log, { baseDir: dir, cert: PEM }),
    ];
    const directLines = lines.splice(0);
    expect(pass()).toEqual(direct);
    const untimed = (ls: Array<Record<string, unknown>>): unknown[] => ls.map(({ time: _t, ...rest }) => rest);
    expect(untimed(lines)).toEqual(untimed(directLines));
    expect(lines.map((l) => [l.msg, l.henbId, l.credentials ?? l.file])).toEqual([
      ['inventory entry: its credentials reference cannot be read (env:NAME or file:PATH); connections will fail', 's1', '[redacted]'],
      ['inventory entry: its credentials reference cannot be read (env:NAME or file:PATH); connections will fail', 's2', '[redacted]'],
      ['inventory entry unusable: its tls-ca is not a readable PEM file', 't1', ca],
    ]);
    expect(direct[0]).toMatchObject({ henbId: 's1' });
    expect((direct[0] as { password?: string }).password).toBeUndefined();
    expect(direct[2]).toBeUndefined();
    // the files appear: the next pass reads them
    await writeFile(pw, KEY);
    await writeFile(ca, PEM);
    lines.length = 0;
    const [s1, , t1] = pass();
    expect(s1).toMatchObject({ privateKey: KEY.replace(/\n$/, '') });
    expect(t1).toMatchObject({ transport: 'tls', tls: { ca: PEM, key: KEY.replace(/\n$/, '') } });
    expect(lines.filter((l) => l.henbId === 's1' || l.henbId === 's2')).toEqual([]);
  });
});

describe('edit-config over a served OAM: the files of N inventory entries', () => {
  let server: RunningOamServer;
  let nc: NetconfClient;
  const lines: Array<Record<string, unknown>> = [];
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'hsv-inventory-files-served-'));
    const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
    const config = await parseConfig('listen: 127.0.0.1:0\n', join(base, 'serve.yaml'), { manifest, env: {} });
    server = await startOamServer({
      listen: { host: '127.0.0.1', port: 0 }, dataDir: join(base, 'data'), config, env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw' },
      log: createLogger({ level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
    });
    nc = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: 'pw', hostKeySha256: server.fingerprint });
  });
  afterAll(async () => {
    await nc.close();
    await server.close();
    await rm(base, { recursive: true, force: true });
  });

  const edit = (...henbs: XmlElement[]): Promise<XmlElement> =>
    nc.rpc(el(NC, 'edit-config', el(NC, 'target', el(NC, 'running')), el(NC, 'config', el(HSV, 'inventory', ...henbs))));

  it('one edit reads each shared file once, an unrelated edit none; a replaced file is read at the next edit; a missing file is accepted and logged as before', async () => {
    const f = { pw: join(base, 'pw'), ca: join(base, 'ca.pem'), cert: join(base, 'cert.pem'), key: join(base, 'key.pem'), missing: join(base, 'missing') };
    await writeFile(f.pw, 'secret\n');
    await writeFile(f.ca, PEM);
    await writeFile(f.cert, PEM);
    await writeFile(f.key, KEY);
    const henbs: XmlElement[] = [];
    for (let i = 0; i < 20; i++) {
      henbs.push(i % 2 === 0
        ? el(HSV, 'henb', leaf(HSV, 'henb-id', `h${i}`), leaf(HSV, 'address', `192.0.2.${i + 1}`), leaf(HSV, 'credentials', `file:${f.pw}`))
        : el(HSV, 'henb', leaf(HSV, 'henb-id', `h${i}`), leaf(HSV, 'address', `192.0.2.${i + 1}`), leaf(HSV, 'transport', 'tls'),
          leaf(HSV, 'tls-ca', f.ca), leaf(HSV, 'tls-client-certificate', f.cert), leaf(HSV, 'credentials', `file:${f.key}`)));
    }
    henbs.push(el(HSV, 'henb', leaf(HSV, 'henb-id', 'lost'), leaf(HSV, 'address', '192.0.2.99'), leaf(HSV, 'credentials', `file:${f.missing}`)));
    reads.clear();
    lines.length = 0;
    // a missing credentials file is no rpc-error (running holds a reference, not the secret): ok, and the entry logged
    const ok = await edit(...henbs);
    expect(child(ok, NC, 'ok')).toBeDefined();
    expect([f.pw, f.ca, f.cert, f.key].map(readsOf)).toEqual([1, 1, 1, 1]);
    const unreadable = (): unknown[] => lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('credentials reference cannot be read')).map((l) => l.henbId);
    expect(unreadable()).toEqual(['lost']);

    // a description: the files are unchanged, none is read
    reads.clear();
    lines.length = 0;
    await edit(el(HSV, 'henb', leaf(HSV, 'henb-id', 'h0'), leaf(HSV, 'description', 'x')));
    expect([f.pw, f.ca, f.cert, f.key].map(readsOf)).toEqual([0, 0, 0, 0]);
    expect(unreadable()).toEqual(['lost']); // still missing, still told at every change, as before

    // the password file replaced on disk and the missing file created: read at the next edit
    await replace(f.pw, 'new-secret\n');
    await writeFile(f.missing, 'found\n');
    reads.clear();
    lines.length = 0;
    await edit(el(HSV, 'henb', leaf(HSV, 'henb-id', 'h0'), leaf(HSV, 'description', 'y')));
    expect([f.pw, f.ca, f.cert, f.key, f.missing].map(readsOf)).toEqual([1, 0, 0, 0, 1]);
    expect(unreadable()).toEqual([]);
  });
});
