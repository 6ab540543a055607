// issue 14 item 4 (leftover): a wrong --sha256 for an http(s) image is one usage error before any device, as for a
// file: image. `serve --config` (software: {ca, allow}) fetches and hashes the image from a loopback HTTPS server
// once for the request, answers one rpc-error at .../software/sha256, and the rollout exits 2 (ERR_ROLLOUT_SOFTWARE)
// with no job started: the HTTPS server sees no job's step-5 download and the devices are untouched. A second
// request for the unchanged image is a conditional request (If-None-Match -> 304), not a second download.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { startFleet } from '../../src/simulator/simulator.js';
import type { Fleet } from '../../src/simulator/simulator.js';
import { loadOrCreatePveTls } from '../../src/pve/tls.js';
import { until } from '../helpers/until.js';

const IMAGE = Buffer.from('firmware 7.0.0 '.repeat(4000));
const RIM = createHash('sha256').update(IMAGE).digest('hex');
const PW = 'admin-secret';

let dir: string;
let fleet: Fleet;
let https: Server;
let imageUrl: string;
/** every request the image server answered: method, path, If-None-Match, status */
const requests: Array<{ method: string; path: string; ifNoneMatch: string | undefined; status: number }> = [];
let etag = '"v1"';
const stop = new AbortController();
let serving: Promise<number>;
let ready: { port: number; hostKey: string };

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new BufferWritable();
  const stderr = new BufferWritable();
  const code = await runCli(argv, { stdout, stderr, env: { HENB_SW_VERIFY_PASSWORD: PW }, cwd: dir, signal: new AbortController().signal });
  return { code, out: stdout.text(), err: stderr.text() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-rollout-https-'));
  fleet = await startFleet({ profiles: { healthy: 2 }, dataDir: join(dir, 'fleet') });
  const tls = await loadOrCreatePveTls(join(dir, 'tls'), ['127.0.0.1']);
  https = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const ifNoneMatch = req.headers['if-none-match'];
    let status = 404;
    if (req.url === '/image.bin' && ifNoneMatch === etag) status = 304;
    else if (req.url === '/image.bin') status = 200;
    requests.push({ method: req.method ?? '', path: req.url ?? '', ifNoneMatch, status });
    if (status === 200) res.writeHead(200, { etag, 'content-length': IMAGE.length }).end(IMAGE);
    else res.writeHead(status, status === 304 ? { etag } : {}).end();
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  const port = (https.address() as AddressInfo).port;
  imageUrl = `https://127.0.0.1:${port}/image.bin`;
  const henbs = fleet.devices.map((d) => `  - henb-id: ${d.henbId}\n    address: ${d.host}\n    port: ${d.port}\n    ssh-host-key: ${d.hostKeySha256}\n    username: ${d.username}\n    password: { env: DEV_PW }\n`).join('');
  await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0
data-dir: oam
logging: { level: silent }
henbs:
${henbs}software:
  ca: ${tls.caPath}
  allow: ['127.0.0.1:${port}']
policies:
  step-timeout: 20
`);
  const out = new BufferWritable();
  serving = runCli(['serve', '--config', join(dir, 'config.yaml'), '--json'], { stdout: out, stderr: new BufferWritable(), env: { HENB_SW_VERIFY_ADMIN_PASSWORD: PW, DEV_PW: fleet.devices[0]!.password }, signal: stop.signal });
  await until(() => out.text().includes('\n'), 'the ready line');
  ready = JSON.parse(out.text()) as typeof ready;
  if (typeof ready.hostKey !== 'string') throw new Error(`serve did not start: ${out.text()}`);
}, 60_000);

afterAll(async () => {
  stop.abort();
  expect(await serving).toBe(0);
  https?.closeAllConnections();
  await new Promise((r) => https?.close(r));
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

const rollout = (sha256: string, report: string): Promise<{ code: number; out: string; err: string }> =>
  run(['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey, '--software', imageUrl, '--sha256', sha256, '--report', report]);

describe('rollout --sha256 with an https image', () => {
  it('a wrong --sha256 is one usage error (exit 2) before any device; the image is downloaded once, then asked for conditionally', async () => {
    const slotsBefore = fleet.devices.map((d) => JSON.stringify(fleet.cell(d.henbId)!.slots()));
    const wrong = 'ab'.repeat(32);
    const r = await rollout(wrong, 'r1.json');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`ERR_ROLLOUT_SOFTWARE: the server refused --software ${imageUrl}: rpc-error invalid-value (software-unavailable): the SHA-256 of the software at the URI is ${RIM}, not the given sha256 ${wrong}`);
    expect(r.err).not.toMatch(/^rollout: \[/m);
    await expect(readFile(join(dir, 'r1.json'), 'utf8')).rejects.toThrow();
    // one download by the check (the rollout asks once per device of its first wave: the others, or any later
    // request, are conditional and answered 304); no job ran step 5 (each would have downloaded the image in full)
    expect(requests[0]).toEqual({ method: 'GET', path: '/image.bin', ifNoneMatch: undefined, status: 200 });
    expect(requests.slice(1).every((q) => q.ifNoneMatch === '"v1"' && q.status === 304)).toBe(true);
    const seen = requests.length;

    const again = await rollout(wrong, 'r2.json');
    expect(again.code).toBe(2);
    expect(again.err).toContain(`the SHA-256 of the software at the URI is ${RIM}`);
    expect(requests.length).toBeGreaterThan(seen);
    expect(requests.slice(seen).every((q) => q.ifNoneMatch === '"v1"' && q.status === 304)).toBe(true);
    // no device was touched
    expect(fleet.devices.map((d) => JSON.stringify(fleet.cell(d.henbId)!.slots()))).toEqual(slotsBefore);
    for (const d of fleet.devices) expect(fleet.cell(d.henbId)!.busy()).toBe(false);
  }, 60_000);

  it('a changed image (new ETag) is downloaded again; the right --sha256 passes the check and the jobs start', async () => {
    etag = '"v2"';
    requests.length = 0;
    const r = await rollout(RIM, 'r3.json');
    // no PVE configured: every job is refused by the flow (not by the check), so the rollout ends with failures
    const rep = JSON.parse(await readFile(join(dir, 'r3.json'), 'utf8')) as { devices: Array<{ henbId: string; jobId?: string }> };
    expect(rep.devices.map((d) => d.henbId).sort()).toEqual(fleet.devices.map((d) => d.henbId).sort());
    expect(rep.devices.every((d) => typeof d.jobId === 'string')).toBe(true);
    expect(r.code).not.toBe(2);
    // the check sent the old validator, got the new image (200) and hashed it
    expect(requests[0]).toEqual({ method: 'GET', path: '/image.bin', ifNoneMatch: '"v1"', status: 200 });
  }, 60_000);
});
