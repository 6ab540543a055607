// demo (one-shot and serving), rollout against the serving demo (canary halt, resume without redoing
// finished devices), verify-token on a result token: real SSH sessions on loopback.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import type { RolloutReport } from '../../src/cli/rollout/report.js';
import { useServingDemo } from '../helpers/demo.js';

const PW = 'demo-admin-pw';
let dir: string;
let ready: { port: number; hostKey: string; software: string; fleet: string[] };


async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new BufferWritable();
  const stderr = new BufferWritable();
  const code = await runCli(argv, { stdout, stderr, env, signal: new AbortController().signal });
  return { code, out: stdout.text(), err: stderr.text() };
}

useServingDemo('healthy=3,bad-install=1,compromised=1', PW, 'hsv-demo-', (demo) => {
  dir = demo.dir;
  ready = demo.ready;
});

describe('demo', () => {
  it('one-shot: one update over the fleet, a results table, exit 0 when every profile ends as predicted', async () => {
    const r = await run(['demo', '--fleet', 'healthy=1,compromised=1,bad-install=1']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^healthy-1 +1 +verified +verified /m);
    expect(r.out).toMatch(/^compromised-1 +1 +refused +refused /m);
    expect(r.out).toMatch(/^bad-install-1 +1 +mismatch +mismatch .*component rootfs/m);
    expect(r.out).toContain('demo: every device ended as its profile predicts');
  }, 60_000);

  it('serving: the ready line names the devices <profile>-<n>', () => {
    expect(ready.fleet).toEqual(['healthy-1', 'healthy-2', 'healthy-3', 'bad-install-1', 'compromised-1']);
    expect(ready.hostKey).toMatch(/^SHA256:/);
  });
});

describe('rollout against the demo', () => {
  it('halts at the canary threshold, resumes without redoing finished devices, writes a JSON report', async () => {
    const henbs = join(dir, 'henbs.txt');
    await writeFile(henbs, '# canary first\nbad-install-1\nhealthy-1\nhealthy-2\nhealthy-3\ncompromised-1\n');
    const report = join(dir, 'report.json');
    const env = { HENB_SW_VERIFY_PASSWORD: PW };
    const base = ['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey, '--report', report];
    const first = await run([...base, '--software', ready.software, '--henbs', henbs, '--first-wave', '1', '--wave-size', '2', '--max-failures', '0'], env);
    expect(first.code).toBe(4);
    expect(first.out).toContain('rollout halted');
    const halted = JSON.parse(await readFile(report, 'utf8')) as RolloutReport;
    expect(halted.state).toBe('halted');
    expect(halted.devices.map((d) => [d.henbId, d.wave, d.status ?? d.state])).toEqual([
      ['bad-install-1', 1, 'mismatch'], ['healthy-1', 2, 'pending'], ['healthy-2', 2, 'pending'], ['healthy-3', 3, 'pending'], ['compromised-1', 3, 'pending'],
    ]);
    const canaryJob = halted.devices[0]?.jobId;
    // issue 14: the halt says how to continue; progress came as lines (no terminal), one per device
    expect(first.out).toContain('to continue, either:\n  --resume --max-failures N   with N >= 1 (go on despite these failures)\n  --resume --retry-failed     redo the devices that did not verify\n');
    // the component is named once: the OAM's reason names it, the line does not repeat it
    expect(first.err).toMatch(/^rollout: \[1\/5\] wave 1 bad-install-1 mismatch: component rootfs measured [0-9a-f]{64}, expected [0-9a-f]{64}$/m);
    // each device's start is a line too (a slow device is not minutes of silence), before its result
    const started = first.err.search(/^rollout: wave 1 bad-install-1 started \(job [^)]+\)$/m);
    expect(started).toBeGreaterThan(-1);
    expect(started).toBeLessThan(first.err.search(/^rollout: \[1\/5\]/m));
    // the table fits 80 columns and the full reason is there (wrapped, not cut)
    for (const line of first.out.split('\n').filter((l) => !l.startsWith('report: '))) expect(line.length).toBeLessThanOrEqual(80);
    expect(halted.devices[0]!.reason!.length).toBeGreaterThan(70);
    expect(first.out.replace(/\s+/g, '')).toContain(halted.devices[0]!.reason!.replace(/\s+/g, ''));

    // resuming with the same limit would halt again at once: a usage error that says what to do, nothing sent
    const again = await run([...base, '--resume'], env);
    expect(again.code).toBe(2);
    expect(again.err).toContain('Either raise the limit (--resume --max-failures 1 or more) or redo the devices that did not verify (--resume --retry-failed)');
    expect((JSON.parse(await readFile(report, 'utf8')) as RolloutReport).devices[0]?.jobId).toBe(canaryJob);

    const resumed = await run([...base, '--resume', '--max-failures', '2', '--json'], env);
    expect(resumed.code).toBe(1); // completed, but not every device verified
    const final = JSON.parse(resumed.out) as RolloutReport;
    expect(final.state).toBe('completed');
    expect(final.summary).toMatchObject({ total: 5, verified: 3, mismatch: 1, refused: 1, pending: 0 });
    expect(final.devices[0]?.jobId).toBe(canaryJob);
    expect(JSON.parse(await readFile(report, 'utf8'))).toMatchObject({ state: 'completed', summary: { verified: 3 } });

    // a result token verifies against the OAM's JWKS
    const token = final.devices.find((d) => d.henbId === 'healthy-1')?.token;
    const jwks = join(dir, 'demo', 'oam', 'plugins', 'henb-sw-verify', 'keys', 'jwks.json');
    const ok = await run(['verify-token', token!, '--jwks', jwks, '--issuer', 'urn:henb-sw-verify:oam', '--require-affirming', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, claims: { sub: 'healthy-1', ear_status: 'affirming' } });
    const mismatch = final.devices.find((d) => d.henbId === 'bad-install-1')?.token;
    expect((await run(['verify-token', mismatch!, '--jwks', jwks, '--require-affirming'])).code).toBe(1);
    const forged = await run(['verify-token', token!.slice(0, -4) + 'AAAA', '--jwks', jwks]);
    expect(forged.code).toBe(1);
    expect(forged.err).toContain('ERR_TOKEN_SIGNATURE');

    // key rotation: a new current key, and tokens signed before still verify with the new JWKS
    const rotated = await run(['rotate-key', '--data-dir', join(dir, 'demo', 'oam'), '--json']);
    expect(rotated.code).toBe(0);
    const kid = (JSON.parse(rotated.out) as { kid: string; keys: number }).kid;
    const published = JSON.parse(await readFile(jwks, 'utf8')) as { keys: Array<{ kid: string }> };
    expect(published.keys[0]?.kid).toBe(kid);
    expect(published.keys.length).toBe(2);
    expect((await run(['verify-token', token!, '--jwks', jwks])).code).toBe(0);
  }, 90_000);

  it("the README's rollout example does not halt at its canary: healthy devices verify, the halt names the way on", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const list = /printf '([^']+)' > henbs\.txt/.exec(readme)?.[1]?.split('\\n').filter(Boolean);
    const opts = /--henbs henbs\.txt (--first-wave \d+ --wave-size \d+ --max-failures \d+)/.exec(readme)?.[1]?.split(' ');
    expect(list).toBeDefined();
    expect(opts).toBeDefined();
    await writeFile(join(dir, 'readme-henbs.txt'), list!.join('\n') + '\n');
    const report = join(dir, 'readme-report.json');
    const r = await run(['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey, '--software', ready.software,
      '--henbs', join(dir, 'readme-henbs.txt'), ...opts!, '--report', report], { HENB_SW_VERIFY_PASSWORD: PW });
    const final = JSON.parse(await readFile(report, 'utf8')) as RolloutReport;
    expect(final.devices[0]).toMatchObject({ henbId: 'healthy-1', wave: 1, status: 'verified' });
    expect(final.summary).toMatchObject({ verified: 3, refused: 1, mismatch: 1, pending: 0 });
    expect(r.code).toBe(4);
    expect(r.out).toContain('rollout halted after wave 3');
    expect(r.out).toMatch(/^ {2}--resume --retry-failed/m);
  }, 60_000);

  it('a bad --software is one usage error (exit 2) before any device is touched, and leaves no report', async () => {
    const env = { HENB_SW_VERIFY_PASSWORD: PW };
    const base = ['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey];
    const noScheme = await run([...base, '--software', 'firmware.bin', '--report', join(dir, 'r-noscheme.json')], env);
    expect(noScheme.code).toBe(2);
    expect(noScheme.err).toContain("ERR_CLI_USAGE: rollout: --software expects a file:, http: or https: URI, got 'firmware.bin' (a local file is file:///absolute/path");
    // a scheme the server refuses for every device: it stops at the first reply, no job, no per-device lines
    const ftp = await run([...base, '--software', 'ftp://example.invalid/img.bin', '--report', join(dir, 'r-ftp.json')], env);
    expect(ftp.err).toContain('ERR_CLI_USAGE');
    expect(ftp.code).toBe(2);
    const badUri = await run([...base, '--software', 'file://otherhost/img.bin', '--report', join(dir, 'r-host.json')], env);
    expect(badUri.code).toBe(2);
    await expect(readFile(join(dir, 'r-noscheme.json'), 'utf8')).rejects.toThrow();
    await expect(readFile(join(dir, 'r-host.json'), 'utf8')).rejects.toThrow();
  }, 30_000);

  it('a wrong --sha256 for a local image is one usage error (exit 2) before any device, not one failure per device (issue 14 item 4)', async () => {
    const env = { HENB_SW_VERIFY_PASSWORD: PW };
    const report = join(dir, 'r-sha.json');
    const r = await run(['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey, '--software', ready.software,
      '--sha256', 'ab'.repeat(32), '--report', report], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ERR_ROLLOUT_SOFTWARE: the server refused --software .*: rpc-error invalid-value \(software-unavailable\): the software file's SHA-256 is [0-9a-f]{64}, not the given sha256 (ab){32}/);
    expect(r.err).not.toMatch(/^rollout: \[/m);
    await expect(readFile(report, 'utf8')).rejects.toThrow();
  }, 30_000);

  it('a wrong pinned host key is refused', async () => {
    const r = await run(['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', `SHA256:${'A'.repeat(43)}`, '--software', ready.software, '--report', join(dir, 'r2.json')], { HENB_SW_VERIFY_PASSWORD: PW });
    expect(r.code).toBe(3);
  }, 30_000);
});
