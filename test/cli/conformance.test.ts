/** `henb-sw-verify conformance` through the CLI dispatcher: options, table, --json, --junit, exit codes 0/1/2/3. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { loadOrCreateKitTls } from '../../src/conformance/index.js';
import { startFleet } from '../../src/simulator/index.js';
import type { Fleet, SimulatedDevice } from '../../src/simulator/index.js';
import { loadOrCreateDeviceHostKey } from '../../src/device/index.js';
import { refusedPort } from '../helpers/net.js';

let dir: string;
let fleet: Fleet;

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new BufferWritable();
  const stderr = new BufferWritable();
  const code = await runCli(argv, { stdout, stderr, env, cwd: dir, signal: new AbortController().signal });
  return { code, out: stdout.text(), err: stderr.text() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-kit-cli-'));
  const tls = await loadOrCreateKitTls(join(dir, 'tls'));
  fleet = await startFleet({ profiles: { 'healthy': 1, 'flaw-digest-unchecked': 1 }, fetchSoftware: { caPem: tls.cert }, installMs: 20, dataDir: join(dir, 'fleet'), tls: true });
  for (const d of fleet.devices) await writeFile(join(dir, `${d.henbId}.pem`), d.devicePublicKey);
}, 30_000);

afterAll(async () => {
  await fleet?.close();
  await rm(dir, { recursive: true, force: true });
});

function args(d: SimulatedDevice, ...more: string[]): string[] {
  return ['conformance', '--device', `${d.host}:${d.port}`, '--username', d.username, '--password-env', 'DEV_PW', '--host-key', d.hostKeySha256,
    '--device-public-key', `${d.henbId}.pem`, '--henb-id', d.henbId, '--tls-dir', 'tls', '--timeout', '10', ...more];
}
const dev = (p: string): SimulatedDevice => fleet.devices.find((d) => d.profile === p)!;

describe('henb-sw-verify conformance', () => {
  it('a conforming device: the table, every requirement passed, exit 0', async () => {
    const d = dev('healthy');
    const r = await run(args(d, '--junit', 'kit.xml'), { DEV_PW: d.password });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^HSV-NC-01 +MUST +pass +NETCONF over SSH/m);
    expect(r.out).toMatch(/^HSV-RBK-01 +MUST +pass/m);
    expect(r.out).toContain('23 passed, 0 failed, 0 skipped; every MUST requirement passed');
    expect(r.out).toContain('(trust root software, enrolled key pinned)');
    expect(r.out).not.toContain('unpinned');
    expect(r.out).toContain('(as found)');
    expect(r.err).toContain('must trust');
    const junit = await readFile(join(dir, 'kit.xml'), 'utf8');
    expect(junit).toContain('tests="23" failures="0" skipped="0"');
  });

  it('without --device-public-key: signatures checked with the key the device presents, shown as "pass (unpinned key)"; exit 0', async () => {
    const d = dev('healthy');
    const r = await run(args(d).filter((a, i, all) => a !== '--device-public-key' && all[i - 1] !== '--device-public-key'), { DEV_PW: d.password });
    expect(r.code).toBe(0);
    expect(r.out).toContain('(trust root software, unpinned: no --device-public-key, signatures checked with the key the device presents)');
    expect(r.out).toMatch(/^HSV-KEY-01 +MUST +pass +attestation-key state/m);
    for (const id of ['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02']) expect(r.out).toMatch(new RegExp(`^${id} +MUST +pass \\(unpinned key\\)`, 'm'));
    expect(r.out).toContain('HSV-MEAS-01, HSV-MEAS-02, HSV-CPL-02 pass (unpinned key): verified with the key the device presents');
    expect(r.out).toContain('23 passed, 0 failed, 0 skipped; every MUST requirement passed');
    const j = await run([...args(d).filter((a, i, all) => a !== '--device-public-key' && all[i - 1] !== '--device-public-key'), '--json'], { DEV_PW: d.password });
    const doc = JSON.parse(j.out) as { keyPinned: boolean; keySource: string; results: Array<{ id: string; unpinned?: boolean }> };
    expect(doc).toMatchObject({ keyPinned: false, keySource: 'presented' });
    expect(doc.results.filter((x) => x.unpinned === true).map((x) => x.id)).toEqual(['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02']);
  });

  it('a flawed device: the failing requirement with what was sent, what came back and what was expected; exit 1; --json', async () => {
    const d = dev('flaw-digest-unchecked');
    const r = await run(args(d), { DEV_PW: d.password });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^HSV-UPD-02 +MUST +fail/m);
    expect(r.out).toMatch(/HSV-UPD-02 fail: .*completion status completed/);
    expect(r.out).toContain('  expected: status started, then software-update-complete with status integrity-error');
    expect(r.out).toMatch(/ {2}sent: +<software-update xmlns="urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-device">/);
    expect(r.out).toMatch(/ {2}received: .*<status>completed<\/status>/);
    const j = await run(args(d, '--json', '--transcript', 't.txt'), { DEV_PW: d.password });
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.out) as { ok: boolean; results: Array<{ id: string; outcome: string }> };
    expect(doc.ok).toBe(false);
    expect(doc.results.filter((x) => x.outcome === 'fail').map((x) => x.id)).toEqual(['HSV-UPD-02']);
    expect(await readFile(join(dir, 't.txt'), 'utf8')).toContain('>>> <integrity-measurement');
  });

  it('--transport tls: NETCONF over TLS with the kit\'s client certificate, the device checked by CA and name; exit 0', async () => {
    const d = dev('healthy');
    const t = d.netconfTls!;
    const tlsArgs = ['conformance', '--device', `127.0.0.1:${t.port}`, '--transport', 'tls', '--tls-client-cert', t.clientCertFile, '--tls-client-key', t.clientKeyFile,
      '--tls-ca', t.caFile, '--tls-server-name', t.serverName, '--device-public-key', `${d.henbId}.pem`, '--henb-id', d.henbId, '--tls-dir', 'tls', '--timeout', '10'];
    const r = await run(tlsArgs);
    expect(r.err).toContain('must trust');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`conformance of 127.0.0.1:${t.port} (NETCONF over TLS) (trust root software, enrolled key pinned)`);
    expect(r.out).toContain('23 passed, 0 failed, 0 skipped; every MUST requirement passed');
    // pinned by its certificate's SHA-256 instead, without a CA
    const pinned = await run([...tlsArgs.filter((a, i, all) => !['--tls-ca', '--tls-server-name'].includes(a) && !['--tls-ca', '--tls-server-name'].includes(all[i - 1]!)), '--tls-certificate', t.certSha256]);
    expect(pinned.code).toBe(0);
    // another device's certificate pinned: cannot be reached, nothing tested
    const wrong = await run([...tlsArgs.filter((a, i, all) => !['--tls-ca', '--tls-server-name'].includes(a) && !['--tls-ca', '--tls-server-name'].includes(all[i - 1]!)),
      '--tls-certificate', dev('flaw-digest-unchecked').netconfTls!.certSha256]);
    expect(wrong.code).toBe(3);
    expect(wrong.err).toContain('ERR_CONFORMANCE_UNREACHABLE');
    // usage: SSH options with TLS, TLS options with SSH, nothing to check the device's certificate against
    const mixed = await run([...tlsArgs, '--host-key', d.hostKeySha256]);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain('--host-key is for SSH');
    const sshWithTls = await run([...args(d), '--tls-ca', t.caFile], { DEV_PW: d.password });
    expect(sshWithTls.code).toBe(2);
    expect(sshWithTls.err).toContain('--tls-ca is for --transport tls');
    const noCheck = await run(tlsArgs.filter((a, i, all) => !['--tls-ca', '--tls-server-name'].includes(a) && !['--tls-ca', '--tls-server-name'].includes(all[i - 1]!)));
    expect(noCheck.code).toBe(2);
    expect(noCheck.err).toContain('--transport tls needs --tls-ca FILE or --tls-certificate FP');
  });

  it('usage errors exit 2 and name the problem', async () => {
    const d = dev('healthy');
    const both = await run([...args(d), '--key', 'x'], { DEV_PW: 'p' });
    expect(both.code).toBe(2);
    expect(both.err).toContain('exactly one of --password-env VAR and --key FILE');
    expect((await run(args(d), {})).err).toContain('DEV_PW (--password-env) is not set');
    const noDevice = await run(['conformance', '--username', 'u', '--password-env', 'P', '--host-key', d.hostKeySha256], { P: 'x' });
    expect(noDevice.code).toBe(2);
    expect(noDevice.err).toContain('give exactly one of --device HOST:PORT');
    const tr = await run(args(d, '--trust-root', 'hsm'), { DEV_PW: 'p' });
    expect(tr.code).toBe(2);
    expect(tr.err).toContain('--trust-root must be software or tpm');
    const hk = await run([...args(d).filter((a) => a !== d.hostKeySha256 && a !== '--host-key'), '--host-key', 'nonsense'], { DEV_PW: 'p' });
    expect(hk.code).toBe(2);
    expect(hk.err).toContain('--host-key expects');
    await writeFile(join(dir, 'bad.pem'), 'not a key');
    const pk = await run([...args(d), '--device-public-key', 'bad.pem'], { DEV_PW: d.password });
    expect(pk.code).toBe(2);
    expect(pk.err).toContain('not a PEM public key');
  });

  it('--host-key also takes the device\'s public key (a .pub line)', async () => {
    const d = dev('healthy');
    const key = await loadOrCreateDeviceHostKey(join(dir, 'fleet', d.henbId));
    // the simulator's host key as OpenSSH prints it: compare through the fingerprint the CLI computes
    const { sshKeyFingerprint } = await import('../../src/device/index.js');
    const { default: ssh2 } = await import('../../src/netconf/ssh/ssh2.js');
    const parsed = ssh2.utils.parseKey(key) as { getPublicSSH(): Buffer; type: string };
    expect(sshKeyFingerprint(parsed.getPublicSSH())).toBe(d.hostKeySha256);
    await writeFile(join(dir, 'host.pub'), `${parsed.type} ${parsed.getPublicSSH().toString('base64')} sim\n`);
    const r = await run([...args(d).filter((a) => a !== d.hostKeySha256 && a !== '--host-key'), '--host-key', 'host.pub'], { DEV_PW: d.password });
    expect(r.code).toBe(0);
  });

  it('a device that cannot be reached: exit 3, ERR_CONFORMANCE_UNREACHABLE, nothing tested', async () => {
    const d = dev('healthy');
    // a port where nothing listens and no other process can start to (a port found free could be taken meanwhile)
    const { port, release } = await refusedPort();
    try {
      const r = await run(['conformance', '--device', `127.0.0.1:${port}`, '--username', 'u', '--password-env', 'P', '--host-key', d.hostKeySha256], { P: 'x' });
      expect(r.code).toBe(3);
      expect(r.err).toContain(`ERR_CONFORMANCE_UNREACHABLE: cannot open a NETCONF session to 127.0.0.1:${port}`);
    } finally {
      await release();
    }
  });

  it('--call-home-listen: the kit listens (port 0: a free one, printed), the device calls it and is tested over that connection; exit 0', async () => {
    const d = dev('healthy');
    const stdout = new BufferWritable();
    const stderr = new BufferWritable();
    const argv = ['conformance', '--call-home-listen', '127.0.0.1:0', '--username', d.username, '--password-env', 'DEV_PW', '--host-key', d.hostKeySha256,
      '--device-public-key', `${d.henbId}.pem`, '--henb-id', d.henbId, '--tls-dir', 'tls', '--timeout', '10', '--json'];
    const running = runCli(argv, { stdout, stderr, env: { DEV_PW: d.password }, cwd: dir, signal: new AbortController().signal });
    // whoever starts the device reads the address from the kit's stderr (also with --json)
    let at: RegExpExecArray | null = null;
    for (let i = 0; i < 200 && at === null; i++) {
      await new Promise((r) => setTimeout(r, 25));
      at = /waiting up to 10 s for the device with host key (\S+) to call home to 127\.0\.0\.1:(\d+)/.exec(stderr.text());
    }
    expect(at?.[1]).toBe(d.hostKeySha256);
    // both simulated devices call: the kit takes the one its --host-key pins and refuses the other by its key
    fleet.startCallHome([{ host: '127.0.0.1', port: Number(at![2]) }]);
    const code = await running;
    const rep = JSON.parse(stdout.text()) as { ok: boolean; device: string; results: Array<{ outcome: string }> };
    expect(code).toBe(0);
    expect(rep.ok).toBe(true);
    expect(rep.results.filter((x) => x.outcome === 'pass')).toHaveLength(23);
    expect(rep.device).toContain(`(called home to 127.0.0.1:${at![2]})`);
  });

  it('--call-home-listen and no device with that host key calls: exit 3 naming what called; with --device too: usage, exit 2', async () => {
    const d = dev('healthy');
    const other = { fingerprint: `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}` }; // no device has it
    // port 0: the kit listens on a port of its own choosing (a port found free could be taken before the kit binds it)
    const r = await run(['conformance', '--call-home-listen', '127.0.0.1:0', '--username', 'u', '--password-env', 'P', '--host-key', other.fingerprint, '--timeout', '1'], { P: 'x' });
    expect(r.code).toBe(3);
    const port = /waiting up to 1 s for the device with host key \S+ to call home to 127\.0\.0\.1:(\d+)/.exec(r.err)?.[1];
    expect(Number(port)).toBeGreaterThan(0);
    expect(r.err).toContain(`ERR_CONFORMANCE_UNREACHABLE: no device with host key ${other.fingerprint} called home to 127.0.0.1:${port} within 1 s`);
    const both = await run(args(d, '--call-home-listen', '127.0.0.1:4334'), { DEV_PW: d.password });
    expect(both.code).toBe(2);
    expect(both.err).toContain('give exactly one of --device HOST:PORT');
    const none = await run(['conformance', '--username', 'u', '--password-env', 'P', '--host-key', d.hostKeySha256], { P: 'x' });
    expect(none.code).toBe(2);
  });
});
