/** The built-in plugin's config checks: pve transport (restconf | netconf), software {ca, file-root}, store. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer as createHttpsServer } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import { readManifest, validatePluginConfig } from '../../src/plugin/manifest.js';
import { activate, createSoftwareFetcher, SOFTWARE_FETCH_FAILED, pveFromConfig, pveTargetFromConfig, softwareFromConfig, storeFromConfig } from '../../src/oam-plugin/index.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';
import { insideRoot } from '../../src/oam-plugin/index.js';
import { recordingRegistry } from '../helpers/registry.js';
import { startStallProxy } from '../helpers/stall-proxy.js';
import { createTestPki } from '../helpers/tls-pki.js';

const KEY = `SHA256:${'A'.repeat(43)}`;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oam-plugin-config-'));
  await mkdir(join(dir, 'root', 'sub'), { recursive: true });
  await writeFile(join(dir, 'root', 'sub', 'a.bin'), 'a');
  await writeFile(join(dir, 'out.bin'), 'b');
  await symlink(join(dir, 'out.bin'), join(dir, 'root', 'escape.bin'));
  await symlink(join(dir), join(dir, 'root', 'up'));
  await writeFile(join(dir, 'not-a-cert.pem'), 'hello');
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMII=\n-----END CERTIFICATE-----\n');
  await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const nc = (over: Partial<NonNullable<OamPluginConfig['pve']>> = {}): NonNullable<OamPluginConfig['pve']> => ({
  endpoint: 'ssh://pve.example:4830', transport: 'netconf', 'ssh-host-key': KEY, username: 'oam', password: 's3cret', jwks: 'jwks.json', ...over,
});

describe('pve transport', () => {
  it('restconf (the default) needs an https endpoint and a CA', () => {
    expect(pveTargetFromConfig({ endpoint: 'https://pve.example:8443/restconf', ca: 'ca.pem', jwks: 'j' })).toBeUndefined();
    expect(() => pveTargetFromConfig({ endpoint: 'https://pve.example/restconf', jwks: 'j' })).toThrow(/pve\.ca: expected the PEM file/);
    expect(() => pveTargetFromConfig({ endpoint: 'ssh://pve.example:830', ca: 'ca.pem' })).toThrow(/pve\.endpoint: .*ssh:\/\/ needs pve\.transport: netconf/);
  });

  it('netconf: host, port (default 830), pinned key, user and secret', () => {
    expect(pveTargetFromConfig(nc())).toEqual({ host: 'pve.example', port: 4830, username: 'oam', password: 's3cret', hostKeySha256: KEY });
    expect(pveTargetFromConfig(nc({ endpoint: 'ssh://[::1]', password: undefined, 'private-key': 'PEM' }))).toEqual({ host: '::1', port: 830, username: 'oam', privateKey: 'PEM', hostKeySha256: KEY });
  });

  it('netconf: every missing or wrong field is named', () => {
    const err = (over: Partial<NonNullable<OamPluginConfig['pve']>>): unknown => {
      try {
        pveTargetFromConfig(nc(over));
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(err({ endpoint: 'https://pve.example/restconf' })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.endpoint: expected ssh://HOST[:PORT]') });
    expect(err({ endpoint: 'ssh://oam:pw@pve.example' })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('must not embed credentials') });
    expect(err({ endpoint: 'not a url' })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.endpoint') });
    expect(err({ 'ssh-host-key': undefined })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.ssh-host-key') });
    expect(err({ username: undefined })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.username') });
    expect(err({ password: undefined })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.password') });
    expect(err({ transport: 'soap' as never })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.transport') });
  });

  it('activate refuses a bad netconf config before opening anything', async () => {
    const registry = recordingRegistry();
    const dataDir = join(dir, 'oam');
    await expect(activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, config: { pve: nc({ 'ssh-host-key': undefined }) }, signal: new AbortController().signal }))
      .rejects.toMatchObject({ code: 'ERR_OAM_CONFIG' });
    const pve = { endpoint: 'https://127.0.0.1:1/restconf', ca: join(dir, 'ca.pem'), jwks: join(dir, 'jwks.json') };
    await expect(activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, config: { pve, software: { 'file-root': join(dir, 'nope') } }, signal: new AbortController().signal }))
      .rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.file-root') });
    await expect(activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, config: { pve, software: { ca: join(dir, 'not-a-cert.pem') } }, signal: new AbortController().signal }))
      .rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.ca') });
    await expect(activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, config: { pve: { ...pve, ca: join(dir, 'missing-ca.pem') } }, signal: new AbortController().signal }))
      .rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('pve.ca: cannot read') });
    // nothing was written: no store, no keys
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('pve connect-timeout', () => {
  it('seconds, 1..3600, default 10; reaches the client: a connection not made in that time is retried, the reason says so', async () => {
    const manifest = await readManifest(join(process.cwd(), 'plugin.json'));
    const restconf = { endpoint: 'https://pve.example:8443/restconf', ca: 'ca.pem', jwks: 'jwks.json' };
    expect((validatePluginConfig(manifest, { pve: restconf }) as OamPluginConfig).pve?.['connect-timeout']).toBe(10);
    for (const bad of [0, 3601, 1.5]) {
      expect(() => validatePluginConfig(manifest, { pve: { ...restconf, 'connect-timeout': bad } })).toThrow(/pve\/connect-timeout|connect-timeout/);
    }
    // a PVE that accepts TCP and never sends its SSH banner: each attempt ends after 1 s, until the deadline
    const proxy = await startStallProxy(1, Number.POSITIVE_INFINITY);
    try {
      // validated as the host does (the secret still a reference), then resolved
      const pveSection = { ...nc({ endpoint: `ssh://127.0.0.1:${proxy.port}`, 'connect-timeout': 1 }), password: { env: 'HSV_TEST_PVE_PASSWORD' } };
      const cfg = validatePluginConfig(manifest, { pve: pveSection, retry: { 'base-delay': 1, 'max-delay': 1 } }) as OamPluginConfig;
      const { pve } = await pveFromConfig({ ...cfg, pve: { ...cfg.pve!, password: 's3cret' } }, { log: silentLogger, baseDir: dir });
      const e = await pve.integrityRequest({ henbId: 'h1', nonce: 'a1'.repeat(32), jobId: 'job-1' }, new AbortController().signal, Date.now() + 1_500)
        .then(() => undefined, (x: unknown) => x as Error);
      pve.close();
      expect(e).toMatchObject({ code: 'ERR_PVE_UNREACHABLE' });
      expect(e?.message).toMatch(/^the integrity request: no connection to the PVE after 2 attempts within the step's deadline; last error: timed out connecting to the PVE at 127\.0\.0\.1:\d+: no (SSH handshake|NETCONF session) with 127\.0\.0\.1:\d+ within 1000 ms$/);
      expect(proxy.stalled).toBe(2);
    } finally {
      await proxy.close();
    }
  }, 20_000);
});

describe('relative file names', () => {
  it('resolve against the host\'s baseDir (the config file\'s directory), not the working directory', async () => {
    expect(process.cwd()).not.toBe(dir);
    expect(await softwareFromConfig({ software: { ca: 'ca.pem', 'file-root': 'root/sub/..' } }, dir))
      .toEqual({ caPem: expect.stringContaining('BEGIN CERTIFICATE'), fileRoot: join(dir, 'root') });
    await expect(softwareFromConfig({ software: { 'file-root': 'root' } })).rejects.toMatchObject({ message: expect.stringContaining(join(process.cwd(), 'root')) });
    // activate: pve.ca and pve.jwks relative to baseDir; it gets as far as the store (a bad one, so nothing is opened)
    const registry = recordingRegistry();
    const dataDir = join(dir, 'oam-relative');
    const host = (baseDir: string | undefined) => ({
      apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, signal: new AbortController().signal, ...(baseDir !== undefined ? { baseDir } : {}),
      config: { pve: { endpoint: 'https://127.0.0.1:1/restconf', ca: 'ca.pem', jwks: 'jwks.json' }, software: { 'file-root': 'root' }, store: { driver: 'postgres' } },
    });
    await expect(activate(host(dir))).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('store.url') });
    // without a baseDir (a host of contract 1.0.0): the working directory, where these files are not
    await expect(activate(host(undefined))).rejects.toMatchObject({ message: expect.stringContaining(join(process.cwd(), 'jwks.json')) });
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('store config', () => {
  it('sqlite in the data directory by default; postgres needs a url without a password', () => {
    expect(storeFromConfig(undefined, '/data')).toEqual({ driver: 'sqlite', dataDir: '/data', groupCommit: true });
    expect(storeFromConfig({ driver: 'sqlite' }, '/data')).toEqual({ driver: 'sqlite', dataDir: '/data', groupCommit: true });
    expect(storeFromConfig({ driver: 'postgres', url: 'postgres://oam@db.example:5432/hsv', password: 'pw', 'pool-size': 4 }, '/data'))
      .toEqual({ driver: 'postgres', url: 'postgres://oam@db.example:5432/hsv', password: 'pw', poolSize: 4, groupCommit: true });
  });

  it('group-commit for either driver: on by default with both, off when asked', () => {
    const pgUrl = 'postgres://oam@db.example:5432/hsv';
    expect(storeFromConfig({ 'group-commit': true }, '/data')).toEqual({ driver: 'sqlite', dataDir: '/data', groupCommit: true });
    expect(storeFromConfig({}, '/data')).toEqual({ driver: 'sqlite', dataDir: '/data', groupCommit: true });
    expect(storeFromConfig({ 'group-commit': false }, '/data')).toEqual({ driver: 'sqlite', dataDir: '/data' });
    expect(storeFromConfig({ driver: 'postgres', url: pgUrl, 'group-commit': true }, '/data')).toEqual({ driver: 'postgres', url: pgUrl, groupCommit: true });
    expect(storeFromConfig({ driver: 'postgres', url: pgUrl }, '/data')).toEqual({ driver: 'postgres', url: pgUrl, groupCommit: true });
    expect(storeFromConfig({ driver: 'postgres', url: pgUrl, 'group-commit': false }, '/data')).toEqual({ driver: 'postgres', url: pgUrl });
  });

  it('a sqlite store section as the host validates it (defaults applied) is accepted (it was refused: a pool-size default)', async () => {
    const manifest = await readManifest(join(process.cwd(), 'plugin.json'));
    for (const store of [{ 'job-retention': 7 }, { 'group-commit': true }, {}]) {
      const cfg = validatePluginConfig(manifest, { store }) as OamPluginConfig;
      expect(storeFromConfig(cfg.store, '/data')).toMatchObject({ driver: 'sqlite', dataDir: '/data' });
    }
  });

  it('names the field and what it expected', () => {
    const err = (c: OamPluginConfig['store']): unknown => {
      try {
        storeFromConfig(c, '/data');
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(err({ driver: 'postgres' })).toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('store.url: expected postgres://USER@HOST:PORT/DATABASE') });
    expect(err({ driver: 'postgres', url: 'postgres://oam:hunter2x@db/hsv' })).toMatchObject({ message: expect.stringContaining('store.url: must not embed the password') });
    expect(String((err({ driver: 'postgres', url: 'postgres://oam:hunter2x@db/hsv' }) as Error).message)).not.toContain('hunter2x');
    expect(err({ driver: 'postgres', url: 'postgres://db.example:5432' })).toMatchObject({ message: expect.stringContaining('database are required') });
    expect(err({ driver: 'postgres', url: 'not a url' })).toMatchObject({ message: expect.stringContaining('store.url') });
    expect(err({ url: 'postgres://oam@db/hsv' })).toMatchObject({ message: expect.stringContaining('store.url: is for driver postgres') });
    expect(err({ driver: 'mysql' as 'sqlite' })).toMatchObject({ message: expect.stringContaining('store.driver: expected sqlite or postgres') });
  });

  it('activate refuses a bad store config before opening anything', async () => {
    const registry = recordingRegistry();
    const dataDir = join(dir, 'oam-store');
    const pve = { endpoint: 'https://127.0.0.1:1/restconf', ca: join(dir, 'ca.pem'), jwks: join(dir, 'jwks.json') };
    await expect(activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir, config: { pve, store: { driver: 'postgres' } }, signal: new AbortController().signal }))
      .rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('store.url') });
    await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('software config', () => {
  it('ca must be a readable PEM certificate file; file-root an existing directory', async () => {
    await expect(softwareFromConfig({ software: { ca: join(dir, 'missing.pem') } })).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.ca: cannot read') });
    await expect(softwareFromConfig({ software: { ca: join(dir, 'not-a-cert.pem') } })).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('holds no PEM certificate') });
    await expect(softwareFromConfig({ software: { 'file-root': join(dir, 'out.bin') } })).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.file-root: expected a directory') });
    await expect(softwareFromConfig({ software: { 'file-root': join(dir, 'missing') } })).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG' });
    expect(await softwareFromConfig({})).toEqual({});
    expect(await softwareFromConfig({ software: { 'file-root': join(dir, 'root', 'sub', '..') } })).toEqual({ fileRoot: join(dir, 'root') });
  });

  it('insideRoot resolves symbolic links and paths that do not exist yet', async () => {
    const root = join(dir, 'root');
    const u = (p: string): URL => pathToFileURL(p);
    expect(await insideRoot(u(join(root, 'sub', 'a.bin')), root)).toBe(true);
    expect(await insideRoot(u(join(root, 'sub', 'new', 'b.bin')), root)).toBe(true);
    expect(await insideRoot(u(join(dir, 'out.bin')), root)).toBe(false);
    expect(await insideRoot(u(join(root, 'escape.bin')), root)).toBe(false);
    expect(await insideRoot(u(join(root, 'up', 'out.bin')), root)).toBe(false);
    expect(await insideRoot(u(join(root, 'up', 'root', 'sub', 'a.bin')), root)).toBe(true);
    expect(await insideRoot(u(`${root}-twin/a.bin`), root)).toBe(false);
  });

  it('software.allow: hosts or URL prefixes; a bad entry is ERR_OAM_CONFIG naming the field', async () => {
    expect(await softwareFromConfig({ software: { allow: ['images.example.net', 'https://cdn.example/henb/'] } })).toEqual({ allow: ['images.example.net', 'https://cdn.example/henb/'] });
    await expect(softwareFromConfig({ software: { allow: ['host/path'] } })).rejects.toMatchObject({ code: 'ERR_OAM_CONFIG', message: expect.stringContaining('software.allow: not a host or host:port: host/path') });
  });

  it('the fetcher fails closed: file: without a file root, http(s) without an allow-list', async () => {
    const lines: string[] = [];
    const f = createSoftwareFetcher({}, createLogger({ level: 'warn', write: (l) => void lines.push(l) }));
    await expect(f.fetchAndDigest(pathToFileURL(join(dir, 'root', 'sub', 'a.bin')).href, new AbortController().signal)).rejects.toMatchObject({ code: 'ERR_SOFTWARE_FETCH', message: SOFTWARE_FETCH_FAILED });
    await expect(f.fetchAndDigest('http://127.0.0.1:9/x', new AbortController().signal)).rejects.toMatchObject({ code: 'ERR_SOFTWARE_FETCH', message: SOFTWARE_FETCH_FAILED });
    expect(lines.join('')).toContain('file: software URIs are refused without software.file-root');
    expect(lines.join('')).toContain('not an allowed software source');
  });

  it('the fetcher applies file-root at fetch time too', async () => {
    const lines: string[] = [];
    const f = createSoftwareFetcher({ fileRoot: join(dir, 'root') }, createLogger({ level: 'warn', write: (l) => void lines.push(l) }));
    // towards the NMS one opaque reason; the log says why
    await expect(f.fetchAndDigest(pathToFileURL(join(dir, 'root', 'escape.bin')).href, new AbortController().signal)).rejects.toMatchObject({ code: 'ERR_SOFTWARE_FETCH', message: SOFTWARE_FETCH_FAILED });
    expect(lines.join('')).toContain('ERR_SOFTWARE_NOT_FOUND: software file is outside the allowed directory');
    expect(await f.fetchAndDigest(pathToFileURL(join(dir, 'root', 'sub', 'a.bin')).href, new AbortController().signal)).toMatchObject({ size: 1 });
  });
});

describe('pve max-batch', () => {
  it('1..64, default 32; reaches the RESTCONF client: with 1 every request goes alone, by default requests made at once go together', async () => {
    const manifest = await readManifest(join(process.cwd(), 'plugin.json'));
    const base = { endpoint: 'https://127.0.0.1:1/restconf', ca: 'ca.pem', jwks: 'jwks.json' };
    expect((validatePluginConfig(manifest, { pve: base }) as OamPluginConfig).pve?.['max-batch']).toBe(32);
    for (const bad of [0, 65, 2.5]) expect(() => validatePluginConfig(manifest, { pve: { ...base, 'max-batch': bad } })).toThrow(/max-batch/);

    // a PVE that answers every integrity request (alone or in a list) after 20 ms
    const pki = createTestPki();
    const seen: string[] = [];
    const server = createHttpsServer({ cert: pki.server.cert, key: pki.server.key }, (rq, res) => {
      const chunks: Buffer[] = [];
      rq.on('data', (c: Buffer) => chunks.push(c));
      rq.on('end', () => setTimeout(() => {
        seen.push(rq.url!);
        const input = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, { request?: Array<{ index: number }> }>)['henb-sw-verify-pve:input']!;
        const verdict = { 'ear-status': 'affirming', 'attestation-result': 'a.b.c' };
        const out = input.request !== undefined ? { result: input.request.map((r) => ({ index: r.index, ...verdict })) } : verdict;
        const body = JSON.stringify({ 'henb-sw-verify-pve:output': out });
        res.writeHead(200, { 'Content-Type': 'application/yang-data+json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      }, 20));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await writeFile(join(dir, 'test-ca.pem'), pki.ca.cert);
    const evidence = { format: 'software-key' as const, tim: 'ab'.repeat(32), measurementLog: [], signature: 'c2ln', signatureAlgorithm: 'ES256' };
    const sendFive = async (maxBatch?: number): Promise<string[]> => {
      seen.length = 0;
      const pveSection = { ...base, endpoint: `https://127.0.0.1:${(server.address() as { port: number }).port}/restconf`, ca: 'test-ca.pem', ...(maxBatch !== undefined ? { 'max-batch': maxBatch } : {}) };
      const { pve } = await pveFromConfig(validatePluginConfig(manifest, { pve: pveSection }) as OamPluginConfig, { log: silentLogger, baseDir: dir });
      try {
        await Promise.all(Array.from({ length: 5 }, (_, i) => pve.integrityRequest({ henbId: `h${i}`, nonce: 'a1'.repeat(16), jobId: `j${i}`, evidence }, new AbortController().signal)));
      } finally {
        pve.close();
      }
      return [...seen];
    };
    try {
      const alone = await sendFive(1);
      expect(alone).toHaveLength(5);
      expect(new Set(alone)).toEqual(new Set(['/restconf/operations/henb-sw-verify-pve:integrity-request']));
      // the default: two alone (two operations on their way), then the other three in one list
      expect(await sendFive()).toEqual([
        '/restconf/operations/henb-sw-verify-pve:integrity-request', '/restconf/operations/henb-sw-verify-pve:integrity-request',
        '/restconf/operations/henb-sw-verify-pve:integrity-requests',
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      pki.cleanup();
    }
  });
});
