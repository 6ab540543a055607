import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFileDigests, digestStream, fetchAndDigest, parseSoftwareUri, readFileDigest, sha256Hex, softwareAllowList } from '../../src/integrity/index.js';
import type { DigestResult, FileDigests, HttpDigestCache } from '../../src/integrity/index.js';
import { FileCache } from '../../src/file-cache.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });

let dir: string;
const payload = randomBytes(3 * 1024 * 1024 + 17);
const payloadDigest = createHash('sha256').update(payload).digest('hex');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hsv-integrity-'));
  writeFileSync(join(dir, 'image.bin'), payload);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseSoftwareUri', () => {
  it('accepts file/http/https and refuses the rest with coded errors', () => {
    expect(parseSoftwareUri('https://example.com/sw.img').hostname).toBe('example.com');
    expect(parseSoftwareUri('file:///tmp/x').protocol).toBe('file:');
    expect(() => parseSoftwareUri('ftp://example.com/x')).toThrow(code('ERR_SOFTWARE_SCHEME'));
    expect(() => parseSoftwareUri('http://example.com/x', ['https'])).toThrow(code('ERR_SOFTWARE_SCHEME'));
    expect(() => parseSoftwareUri('not a uri')).toThrow(code('ERR_SOFTWARE_URI'));
    expect(() => parseSoftwareUri('file://remote.host/x')).toThrow(code('ERR_SOFTWARE_URI'));
    expect(() => parseSoftwareUri('https://user:pw@example.com/x')).toThrow(code('ERR_SOFTWARE_URI'));
  });
});

describe('softwareAllowList', () => {
  it('hosts (default port unless given) and URL prefixes; nothing else', () => {
    const a = softwareAllowList(['Images.Example.net', 'mirror.example:8443', '[2001:db8::5]', 'https://cdn.example/henb/']);
    const ok = ['https://images.example.NET/a.bin', 'http://images.example.net/b', 'https://images.example.net:443/c', 'https://mirror.example:8443/x',
      'https://[2001:db8::5]/x', 'https://cdn.example/henb/2.0/x.bin', 'https://cdn.example/henb/../henb/x'];
    const no = ['https://images.example.net:8443/a', 'https://mirror.example/x', 'https://evil.images.example.net/a', 'https://cdn.example/other/x',
      'http://cdn.example/henb/x', 'https://cdn.example/henb/../x', 'file:///etc/passwd', 'https://u:p@images.example.net/a', 'https://127.0.0.1/x'];
    for (const u of ok) expect(a(new URL(u)), u).toBe(true);
    for (const u of no) expect(a(new URL(u)), u).toBe(false);
    expect(softwareAllowList([])(new URL('https://images.example.net/'))).toBe(false);
    for (const bad of ['https://', 'host/path', 'user@host', 'https://h/?q=1', '']) expect(() => softwareAllowList([bad]), bad).toThrow(RangeError);
  });
});

describe('digestStream', () => {
  it('hashes a chunked source and counts bytes', async () => {
    const chunks = [Buffer.from('ab'), 'c', new Uint8Array([100])];
    const r = await digestStream(Readable.from(chunks));
    expect(r).toEqual({ digest: sha256Hex('abcd'), size: 4 });
  });
  it('stops at maxBytes with ERR_SOFTWARE_TOO_BIG and destroys the source', async () => {
    const src = Readable.from((function* () { for (let i = 0; i < 100; i++) yield Buffer.alloc(1024); })());
    await expect(digestStream(src, { maxBytes: 10_000 })).rejects.toThrow(code('ERR_SOFTWARE_TOO_BIG'));
    expect(src.destroyed).toBe(true);
  });
  it('honours an AbortSignal', async () => {
    const ctl = new AbortController();
    const src = new Readable({ read() { /* never produces */ } });
    const p = digestStream(src, { signal: ctl.signal });
    ctl.abort();
    await expect(p).rejects.toThrow(code('ERR_SOFTWARE_ABORTED'));
  });
});

describe('fetchAndDigest file:', () => {
  it('computes the RIM of a file by streaming', async () => {
    const r = await fetchAndDigest(pathToFileURL(join(dir, 'image.bin')).href);
    expect(r.digest).toBe(payloadDigest);
    expect(r.size).toBe(payload.length);
    const viaSha256sum = execFileSync('sha256sum', [join(dir, 'image.bin')]).toString().slice(0, 64);
    expect(r.digest).toBe(viaSha256sum);
  });
  it('checks an expected digest', async () => {
    const uri = pathToFileURL(join(dir, 'image.bin')).href;
    await expect(fetchAndDigest(uri, { expectedDigest: payloadDigest.toUpperCase() })).resolves.toMatchObject({ digest: payloadDigest });
    await expect(fetchAndDigest(uri, { expectedDigest: sha256Hex('other') })).rejects.toThrow(code('ERR_SOFTWARE_DIGEST_MISMATCH'));
  });
  it('maps missing files, directories, size limits and the root jail to coded errors', async () => {
    await expect(fetchAndDigest(pathToFileURL(join(dir, 'nope.bin')).href)).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    await expect(fetchAndDigest(pathToFileURL(dir).href)).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    await expect(fetchAndDigest(pathToFileURL(join(dir, 'image.bin')).href, { maxBytes: 1000 })).rejects.toThrow(code('ERR_SOFTWARE_TOO_BIG'));
    const jail = mkdtempSync(join(dir, 'jail-'));
    symlinkSync(join(dir, 'image.bin'), join(jail, 'escape.bin'));
    await expect(fetchAndDigest(pathToFileURL(join(jail, 'escape.bin')).href, { fileRoot: jail })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    writeFileSync(join(jail, 'inside.bin'), 'inside');
    await expect(fetchAndDigest(pathToFileURL(join(jail, 'inside.bin')).href, { fileRoot: jail })).resolves.toMatchObject({ digest: sha256Hex('inside') });
  });
  it('the root jail with a root that is not its own realpath (a symlink, a trailing separator, a ..) and a sibling sharing its prefix (issue 15: one realpath per fetch)', async () => {
    const jail = mkdtempSync(join(dir, 'jail-'));
    writeFileSync(join(jail, 'inside.bin'), 'inside');
    const link = join(dir, `link-${Date.now()}`);
    symlinkSync(jail, link);
    const inside = sha256Hex('inside');
    for (const root of [link, `${jail}/`, `${jail}/../${basename(jail)}`]) {
      await expect(fetchAndDigest(pathToFileURL(join(jail, 'inside.bin')).href, { fileRoot: root })).resolves.toMatchObject({ digest: inside });
      await expect(fetchAndDigest(pathToFileURL(join(link, 'inside.bin')).href, { fileRoot: root })).resolves.toMatchObject({ digest: inside });
      await expect(fetchAndDigest(pathToFileURL(join(dir, 'image.bin')).href, { fileRoot: root })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    }
    const sibling = `${jail}-sibling`;
    mkdirSync(sibling);
    writeFileSync(join(sibling, 'x.bin'), 'x');
    await expect(fetchAndDigest(pathToFileURL(join(sibling, 'x.bin')).href, { fileRoot: jail })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    await expect(fetchAndDigest(pathToFileURL(join(sibling, 'x.bin')).href, { fileRoot: link })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
  });
  it('refuses a scheme that is not allowed before touching anything', async () => {
    await expect(fetchAndDigest(pathToFileURL(join(dir, 'image.bin')).href, { allowedSchemes: ['https:'] })).rejects.toThrow(code('ERR_SOFTWARE_SCHEME'));
  });
});

describe('fetchAndDigest file: with fileDigests (a rollout hashes its image once per identity)', () => {
  /** a FileDigests with createFileDigests' read, its reads counted */
  function counted(): { digests: FileDigests; reads: string[] } {
    const reads: string[] = [];
    const digests = new FileCache<DigestResult>((file, st) => {
      reads.push(file);
      return readFileDigest(file, st);
    });
    return { digests, reads };
  }

  it('the same file again is not read again; the digest is the uncached one; confinement and the path checks still apply', async () => {
    const jail = mkdtempSync(join(dir, 'cache-'));
    writeFileSync(join(jail, 'a.bin'), payload);
    const uri = pathToFileURL(join(jail, 'a.bin')).href;
    const { digests, reads } = counted();
    const first = await fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests });
    const again = await fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests });
    expect(first).toEqual({ digest: payloadDigest, size: payload.length, uri });
    expect(again).toEqual(first);
    expect(reads).toHaveLength(1);
    // the checks of every call: a smaller maxBytes, another root, a directory
    await expect(fetchAndDigest(uri, { fileRoot: jail, fileDigests: digests, maxBytes: 1000 })).rejects.toThrow(code('ERR_SOFTWARE_TOO_BIG'));
    await expect(fetchAndDigest(uri, { fileRoot: mkdtempSync(join(dir, 'other-')), fileDigests: digests })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    await expect(fetchAndDigest(pathToFileURL(jail).href, { fileDigests: digests })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    expect(reads).toHaveLength(1);
  });

  it('a file over maxBytes, or not a regular file, is refused from the stat: never read, nothing kept', async () => {
    const jail = mkdtempSync(join(dir, 'cache-'));
    writeFileSync(join(jail, 'big.bin'), payload);
    const { digests, reads } = counted();
    await expect(fetchAndDigest(pathToFileURL(join(jail, 'big.bin')).href, { fileRoot: jail, fileDigests: digests, maxBytes: 1000 }))
      .rejects.toThrow(code('ERR_SOFTWARE_TOO_BIG'));
    mkdirSync(join(jail, 'sub'));
    await expect(fetchAndDigest(pathToFileURL(join(jail, 'sub')).href, { fileRoot: jail, fileDigests: digests })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    expect(reads).toHaveLength(0);
    expect(digests.size).toBe(0);
  });

  it('a file rewritten in place (even with the same size) or replaced by a rename is read again: the new digest', async () => {
    const jail = mkdtempSync(join(dir, 'cache-'));
    const file = join(jail, 'a.bin');
    writeFileSync(file, 'version-1');
    const uri = pathToFileURL(file).href;
    const { digests, reads } = counted();
    expect((await fetchAndDigest(uri, { fileDigests: digests })).digest).toBe(sha256Hex('version-1'));
    writeFileSync(file, 'version-2'); // same size, same inode: a new change time
    expect((await fetchAndDigest(uri, { fileDigests: digests })).digest).toBe(sha256Hex('version-2'));
    writeFileSync(join(jail, 'next.bin'), 'version-3!');
    renameSync(join(jail, 'next.bin'), file);
    expect((await fetchAndDigest(uri, { fileDigests: digests })).digest).toBe(sha256Hex('version-3!'));
    expect(reads).toHaveLength(3);
    rmSync(file);
    await expect(fetchAndDigest(uri, { fileDigests: digests })).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
  });

  it('callers at once share one read; one that gives up does not stop it for the others', async () => {
    const jail = mkdtempSync(join(dir, 'cache-'));
    writeFileSync(join(jail, 'a.bin'), payload);
    const uri = pathToFileURL(join(jail, 'a.bin')).href;
    const digests = createFileDigests();
    const ctl = new AbortController();
    const gone = fetchAndDigest(uri, { fileDigests: digests, signal: ctl.signal });
    const kept = Array.from({ length: 4 }, () => fetchAndDigest(uri, { fileDigests: digests }));
    ctl.abort();
    await expect(gone).rejects.toThrow(code('ERR_SOFTWARE_ABORTED'));
    for (const r of await Promise.all(kept)) expect(r.digest).toBe(payloadDigest);
    expect(digests.size).toBe(1);
  });
});

describe('fetchAndDigest http:', () => {
  let server: http.Server;
  let base: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      switch (req.url) {
        case '/ok': {
          let off = 0;
          const push = (): void => {
            while (off < payload.length) {
              const next = payload.subarray(off, off + 65_536);
              off += next.length;
              if (!res.write(next)) { res.once('drain', push); return; }
            }
            res.end();
          };
          push();
          return;
        }
        case '/redirect': res.writeHead(302, { location: '/ok' }).end(); return;
        case '/loop': res.writeHead(302, { location: '/loop' }).end(); return;
        case '/to-file': res.writeHead(302, { location: 'file:///etc/passwd' }).end(); return;
        case '/to-elsewhere': res.writeHead(302, { location: 'http://localhost:22/' }).end(); return;
        case '/big': res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) }).end(); return;
        case '/cut': res.writeHead(200, { 'content-length': '1000' }); res.write(Buffer.alloc(10)); setTimeout(() => res.destroy(), 20); return;
        case '/hang': return;
        case '/fail': res.writeHead(500).end(); return;
        case '/dated': {
          // validated by Last-Modified only; answers 304 to a matching If-Modified-Since
          const lm = 'Tue, 01 Dec 2026 10:00:00 GMT';
          if (req.headers['if-modified-since'] === lm) { res.writeHead(304).end(); return; }
          res.writeHead(200, { 'last-modified': lm }).end('dated image');
          return;
        }
        case '/plain': res.writeHead(req.headers['if-none-match'] !== undefined ? 400 : 200).end('no validators'); return;
        default: res.writeHead(404).end();
      }
    });
    server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => { for (const s of sockets) s.destroy(); });
  afterAll(async () => { await new Promise((r) => server.close(r)); });

  it('an allow-list is checked on the URI and on every redirect target, before any request to it', async () => {
    const allow = softwareAllowList([`127.0.0.1:${new URL(base).port}`]);
    await expect(fetchAndDigest(`${base}/redirect`, { allowHttpUrl: allow })).resolves.toMatchObject({ digest: payloadDigest });
    await expect(fetchAndDigest(`${base}/to-elsewhere`, { allowHttpUrl: allow })).rejects.toThrow(code('ERR_SOFTWARE_URI'));
    await expect(fetchAndDigest('http://127.0.0.1:1/x', { allowHttpUrl: allow })).rejects.toThrow(code('ERR_SOFTWARE_URI'));
  });

  it('streams and digests a download, following a redirect', async () => {
    await expect(fetchAndDigest(`${base}/ok`)).resolves.toEqual({ digest: payloadDigest, size: payload.length, uri: `${base}/ok` });
    await expect(fetchAndDigest(`${base}/redirect`)).resolves.toMatchObject({ digest: payloadDigest, uri: `${base}/ok` });
  });
  it('maps HTTP failures to coded errors', async () => {
    await expect(fetchAndDigest(`${base}/missing`)).rejects.toThrow(code('ERR_SOFTWARE_NOT_FOUND'));
    await expect(fetchAndDigest(`${base}/fail`)).rejects.toThrow(code('ERR_SOFTWARE_FETCH'));
    await expect(fetchAndDigest(`${base}/loop`)).rejects.toThrow(code('ERR_SOFTWARE_FETCH'));
    await expect(fetchAndDigest(`${base}/to-file`)).rejects.toThrow(code('ERR_SOFTWARE_SCHEME'));
    await expect(fetchAndDigest(`${base}/big`, { maxBytes: 1024 * 1024 })).rejects.toThrow(code('ERR_SOFTWARE_TOO_BIG'));
    await expect(fetchAndDigest(`${base}/ok`, { maxBytes: 1024 * 1024 })).rejects.toThrow(code('ERR_SOFTWARE_TOO_BIG'));
    await expect(fetchAndDigest(`${base}/cut`)).rejects.toThrow(code('ERR_SOFTWARE_FETCH'));
    await expect(fetchAndDigest(`${base}/ok`, { expectedDigest: sha256Hex('x') })).rejects.toThrow(code('ERR_SOFTWARE_DIGEST_MISMATCH'));
  });
  it('with a cache: a Last-Modified download is asked for again conditionally and 304 gives the cached digest; no validator, no entry', async () => {
    const cache: HttpDigestCache = new Map();
    const first = await fetchAndDigest(`${base}/dated`, { cache });
    expect(first).toEqual({ digest: sha256Hex('dated image'), size: 11, uri: `${base}/dated` });
    expect(cache.get(`${base}/dated`)).toEqual({ digest: sha256Hex('dated image'), size: 11, lastModified: 'Tue, 01 Dec 2026 10:00:00 GMT' });
    await expect(fetchAndDigest(`${base}/dated`, { cache })).resolves.toEqual({ digest: sha256Hex('dated image'), size: 11, uri: `${base}/dated`, cached: true });
    // a response without ETag or Last-Modified is not cached (and no conditional header is sent next time)
    await expect(fetchAndDigest(`${base}/plain`, { cache })).resolves.toMatchObject({ digest: sha256Hex('no validators') });
    expect(cache.has(`${base}/plain`)).toBe(false);
    await expect(fetchAndDigest(`${base}/plain`, { cache })).resolves.toMatchObject({ digest: sha256Hex('no validators') });
    // without a cache nothing is conditional: 304 is never asked for
    await expect(fetchAndDigest(`${base}/dated`)).resolves.not.toHaveProperty('cached');
  });
  it('fails with ERR_SOFTWARE_TIMEOUT instead of hanging', async () => {
    await expect(fetchAndDigest(`${base}/hang`, { timeoutMs: 150 })).rejects.toThrow(code('ERR_SOFTWARE_TIMEOUT'));
  });
  it('fails with ERR_SOFTWARE_ABORTED when the caller aborts', async () => {
    const ctl = new AbortController();
    const p = fetchAndDigest(`${base}/hang`, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 20);
    await expect(p).rejects.toThrow(code('ERR_SOFTWARE_ABORTED'));
    await expect(fetchAndDigest(`${base}/ok`, { signal: AbortSignal.abort() })).rejects.toThrow(code('ERR_SOFTWARE_ABORTED'));
  });
  it('reports a refused connection as ERR_SOFTWARE_FETCH', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    await expect(fetchAndDigest(`http://127.0.0.1:${port}/x`)).rejects.toThrow(code('ERR_SOFTWARE_FETCH'));
  });
});

describe('fetchAndDigest https: with a pinned CA', () => {
  let server: https.Server;
  let base: string;
  let caPem: string;
  beforeAll(async () => {
    const d = mkdtempSync(join(dir, 'tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(d, 'key.pem'), '-out', join(d, 'cert.pem'), '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    caPem = readFileSync(join(d, 'cert.pem'), 'utf8');
    server = https.createServer({ key: readFileSync(join(d, 'key.pem')), cert: caPem }, (_req, res) => res.end('signed software'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });

  it('trusts the pinned CA and refuses an unknown one', async () => {
    await expect(fetchAndDigest(`${base}/sw`, { caPem })).resolves.toMatchObject({ digest: sha256Hex('signed software') });
    await expect(fetchAndDigest(`${base}/sw`)).rejects.toThrow(code('ERR_SOFTWARE_FETCH'));
  });
});
