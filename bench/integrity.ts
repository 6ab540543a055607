/**
 * Integrity speed and memory: streaming SHA-256 (fetchAndDigest over file: and loopback http:) against a naive
 * read-everything-then-hash baseline, in the same run, on a 256 MiB file.
 *
 * Each variant runs in its own child process so that its peak RSS (getrusage maxrss) is its own; an idle child
 * gives the baseline RSS of Node + tsx. Streaming must stay flat (constant memory); the naive read grows by the
 * file size. Bounded: one pass per variant after a warm-up pass (page cache), well under 60 s in total.
 *
 * Run: node --import tsx bench/integrity.ts [--mib 256]
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { extend, fetchAndDigest, sha256Hex, ZERO_DIGEST } from '../src/integrity/index.js';

type Variant = 'idle' | 'stream-file' | 'stream-http' | 'naive';
interface ChildResult { variant: Variant; ms: number; bytes: number; digest: string; maxRssMiB: number }

const self = fileURLToPath(import.meta.url);

async function child(variant: Variant, file: string): Promise<void> {
  const size = statSync(file).size;
  const t0 = performance.now();
  let digest = '';
  if (variant === 'stream-file') {
    digest = (await fetchAndDigest(pathToFileURL(file).href, { maxBytes: size })).digest;
  } else if (variant === 'stream-http') {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      createReadStream(file, { highWaterMark: 256 * 1024 }).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    digest = (await fetchAndDigest(`http://127.0.0.1:${port}/image`, { maxBytes: size })).digest;
    await new Promise((r) => server.close(r));
  } else if (variant === 'naive') {
    digest = createHash('sha256').update(readFileSync(file)).digest('hex');
  }
  const ms = performance.now() - t0;
  const maxRssMiB = process.resourceUsage().maxRSS / 1024;
  const out: ChildResult = { variant, ms, bytes: variant === 'idle' ? 0 : size, digest, maxRssMiB };
  process.stdout.write(JSON.stringify(out) + '\n');
}

function runChild(variant: Variant, file: string): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', variant, '--file', file], {
    encoding: 'utf8', timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`child ${variant} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as ChildResult;
}

async function main(mib: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hsv-bench-integrity-'));
  const file = join(dir, 'image.bin');
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    const fd = openSync(file, 'w');
    for (let i = 0; i < mib; i++) writeSync(fd, randomFillSync(chunk));
    closeSync(fd);
    readFileSync(file); // warm the page cache so that every variant reads from memory

    runChild('idle', file); // warm-up: tsx's transform cache, discarded
    const idle = runChild('idle', file);
    const results = (['naive', 'stream-file', 'stream-http'] as const).map((v) => runChild(v, file));
    // constant memory: the same streaming read of a file a quarter the size must peak at about the same RSS
    const small = join(dir, 'small.bin');
    const sfd = openSync(small, 'w');
    for (let i = 0; i < Math.max(1, mib / 4); i++) writeSync(sfd, randomFillSync(chunk));
    closeSync(sfd);
    const smallStream = runChild('stream-file', small);
    const digests = new Set(results.map((r) => r.digest));
    if (digests.size !== 1) throw new Error('variants disagree on the digest');

    const naive = results[0] as ChildResult;
    console.log(`SHA-256 of a ${mib} MiB file (node ${process.version}); idle child RSS ${idle.maxRssMiB.toFixed(1)} MiB`);
    console.log('variant        MiB/s   peak RSS MiB  (above idle)  speed vs naive');
    for (const r of results) {
      const mibs = r.bytes / 1024 / 1024 / (r.ms / 1000);
      const naiveMibs = naive.bytes / 1024 / 1024 / (naive.ms / 1000);
      console.log(`${r.variant.padEnd(13)} ${mibs.toFixed(0).padStart(6)}   ${r.maxRssMiB.toFixed(1).padStart(12)}  ${(r.maxRssMiB - idle.maxRssMiB).toFixed(1).padStart(12)}  ${(mibs / naiveMibs).toFixed(2)}x`);
    }
    const sf = results[1] as ChildResult;
    console.log(`memory: streaming file uses ${(Math.max(0, sf.maxRssMiB - idle.maxRssMiB) / Math.max(1, naive.maxRssMiB - idle.maxRssMiB) * 100).toFixed(1)}% of the naive read's extra RSS`);

    console.log(`constant memory: streaming ${Math.max(1, mib / 4)} MiB peaks at ${smallStream.maxRssMiB.toFixed(1)} MiB, ${mib} MiB at ${sf.maxRssMiB.toFixed(1)} MiB (ratio ${(sf.maxRssMiB / smallStream.maxRssMiB).toFixed(2)} for 4x the bytes)`);

    // extend chain: operations per second (a measurement-log replay is a chain of these)
    let v = ZERO_DIGEST;
    const d = sha256Hex('component');
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 500) {
      for (let i = 0; i < 1000; i++) v = extend(v, d);
      n += 1000;
    }
    console.log(`extend: ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} ops/s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { child: { type: 'string' }, file: { type: 'string' }, mib: { type: 'string', default: '256' } } });
if (values.child !== undefined) await child(values.child as Variant, values.file as string);
else await main(Number(values.mib));
