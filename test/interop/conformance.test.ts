/**
 * Interop of the conformance kit, as a vendor runs it: the real executable against
 *  - the simulator in its own process (`simulate --software-ca`, software trust root) over real SSH: a healthy
 *    device conforms (exit 0), a flawed one fails exactly its requirement (exit 1);
 *  - the same with NETCONF Call Home (RFC 8071): the kit listens on port 0 (`--call-home-listen 127.0.0.1:0`),
 *    `simulate --call-home` in its own process, started once the kit printed its port, dials it, the kit takes the
 *    device by its pinned host key and runs every check on it;
 *  - simulated devices with the TPM trust root (one swtpm each): quotes by the enrolled AK verified for the
 *    measurements and the completion; another device's AK fails HSV-KEY-01 and the three evidence requirements;
 *    unpinned, the quotes are verified with the AK the device presents (attestation-key); the same devices calling
 *    home to the kit (RFC 8071 over SSH);
 *  - netconfd (yuma123, a real NETCONF server that does not implement the device module) behind OpenSSH:
 *    the module is reported missing, everything that depends on it is skipped, exit 1, no crash.
 * A missing netconfd/sshd fails this suite with the script's message (never a skip).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REQUIREMENTS, loadOrCreateKitTls, runConformance } from '../../src/conformance/index.js';
import type { ConformanceReport } from '../../src/conformance/index.js';
import { startFleet } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';
import { startNetconfdPeer } from '../helpers/peers.js';
import type { NetconfdPeer } from '../helpers/peers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'henb-sw-verify.js');
const PEERS_DIR = '/tmp/hsv-interop-conformance';

interface Report { ok: boolean; leftState: string; results: Array<{ id: string; outcome: string; detail: string }> }

function kit(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'conformance', ...args], { cwd, env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `simulate ARGS --json` in its own process, once it printed its inventory (bounded: 30 s) */
function startSimulate<D>(args: string[]): Promise<{ sim: ChildProcess; devices: D[] }> {
  const sim = spawn(process.execPath, [bin, 'simulate', ...args, '--json', '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(t);
      sim.kill('SIGKILL');
      reject(new Error(`simulate ${why}: ${out}${err}`));
    };
    const t = setTimeout(() => fail('printed no inventory within 30 s'), 30_000);
    sim.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const early = (code: number | null): void => fail(`exited (${code}) before its inventory`);
    sim.once('exit', early);
    sim.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(t);
        sim.off('exit', early);
        resolve({ sim, devices: (JSON.parse(out.split('\n')[0]!) as { devices: D[] }).devices });
      }
    });
  });
}

async function stopSimulate(sim: ChildProcess | undefined): Promise<void> {
  if (sim === undefined || sim.exitCode !== null || sim.signalCode !== null) return;
  const exited = new Promise((r) => sim.once('exit', r));
  sim.kill('SIGTERM');
  await exited;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-kit-interop-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the kit against the simulator in its own process (software trust root)', () => {
  let sim: ChildProcess | undefined;
  let devices: Array<{ henbId: string; profile: string; host: string; port: number; hostKeySha256: string; username: string; password: string; devicePublicKey: string }> = [];

  beforeAll(async () => {
    const tls = await loadOrCreateKitTls(join(dir, 'tls'));
    ({ sim, devices } = await startSimulate<(typeof devices)[number]>(['--fleet', 'healthy=1,flaw-unsigned-completion=1', '--software-ca', tls.certPath]));
    for (const d of devices) await writeFile(join(dir, `${d.henbId}.pem`), d.devicePublicKey);
  });

  afterAll(async () => {
    await stopSimulate(sim);
  });

  const args = (d: (typeof devices)[number]): string[] => ['--device', `${d.host}:${d.port}`, '--username', d.username, '--password-env', 'DEV_PW',
    '--host-key', d.hostKeySha256, '--device-public-key', `${d.henbId}.pem`, '--henb-id', d.henbId, '--trust-root', 'software', '--tls-dir', 'tls', '--timeout', '30'];

  it('a healthy device passes every requirement: exit 0, JUnit without failures', async () => {
    const d = devices.find((x) => x.profile === 'healthy')!;
    const r = await kit([...args(d), '--junit', 'healthy.xml'], { DEV_PW: d.password }, dir);
    expect(r.stderr).toContain('must trust');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${REQUIREMENTS.length} passed, 0 failed, 0 skipped`);
    expect(await readFile(join(dir, 'healthy.xml'), 'utf8')).toContain(`tests="${REQUIREMENTS.length}" failures="0" skipped="0"`);
  });

  it('without --device-public-key the kit checks signatures with the key the device presents: "pass (unpinned key)", exit 0', async () => {
    const d = devices.find((x) => x.profile === 'healthy')!;
    const a = args(d);
    const i = a.indexOf('--device-public-key');
    a.splice(i, 2);
    const r = await kit(a, { DEV_PW: d.password }, dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('unpinned: no --device-public-key, signatures checked with the key the device presents');
    expect(r.stdout).toMatch(/^HSV-MEAS-01 +MUST +pass \(unpinned key\)/m);
    expect(r.stdout).toMatch(/^HSV-CPL-02 +MUST +pass \(unpinned key\)/m);
    expect(r.stdout).toContain(`${REQUIREMENTS.length} passed, 0 failed, 0 skipped`);
  });

  it('a device whose completion is unsigned fails HSV-CPL-02 only: exit 1', async () => {
    const d = devices.find((x) => x.profile === 'flaw-unsigned-completion')!;
    const r = await kit([...args(d), '--json'], { DEV_PW: d.password }, dir);
    expect(r.code, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.results.filter((x) => x.outcome !== 'pass').map((x) => x.id)).toEqual(['HSV-CPL-02']);
  });
});

describe('the kit listening for a device that calls home (simulate --call-home in its own process)', () => {
  // Each run: the kit listens on 127.0.0.1:0 and prints the port it got; only then is `simulate --call-home` started
  // and told that port, and it is stopped when the kit exits (was: a port found free in beforeAll, which another
  // process could take before the kit listened on it, in any run). The same data dir each time: the same devices.
  type Device = { henbId: string; profile: string; hostKeySha256: string; username: string; password: string; devicePublicKey: string; callHome?: boolean };
  let devices: Device[] = [];
  let simArgs: string[] = [];

  beforeAll(async () => {
    const tls = await loadOrCreateKitTls(join(dir, 'tls'));
    simArgs = ['--fleet', 'healthy=1,flaw-no-replay=1', '--software-ca', tls.certPath, '--data-dir', join(dir, 'ch-sim')];
    // a first start, calling nobody, creates the devices' keys: what the kit is told to pin
    const first = await startSimulate<Device>(simArgs);
    devices = first.devices;
    await stopSimulate(first.sim);
    for (const d of devices) await writeFile(join(dir, `${d.henbId}.pem`), d.devicePublicKey);
  });

  /**
   * The kit with `--call-home-listen 127.0.0.1:0` and `args`; once its stderr names the port it listens on, the
   * fleet in its own process calls that port until the kit has exited (bounded: the kit is killed after 120 s).
   */
  async function kitCalledHome(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string; port: number; called: Device[] }> {
    const child = spawn(process.execPath, [bin, 'conformance', '--call-home-listen', '127.0.0.1:0', ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let port = 0;
    let caller: Promise<{ sim: ChildProcess; devices: Device[] } | Error> | undefined;
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const at = /to call home to 127\.0\.0\.1:(\d+)/.exec(stderr);
      if (at !== null && caller === undefined) {
        port = Number(at[1]);
        caller = startSimulate<Device>([...simArgs, '--call-home', `127.0.0.1:${port}`]).catch((e: unknown) => e as Error);
      }
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? -1)));
    clearTimeout(kill);
    const sim = await caller;
    if (sim instanceof Error) throw sim;
    await stopSimulate(sim?.sim);
    return { code, stdout, stderr, port, called: sim?.devices ?? [] };
  }

  const args = (d: Device): string[] => ['--username', d.username, '--password-env', 'DEV_PW',
    '--host-key', d.hostKeySha256, '--device-public-key', `${d.henbId}.pem`, '--henb-id', d.henbId, '--tls-dir', 'tls', '--timeout', '40'];

  it('a healthy device that calls the kit passes every requirement over its call-home connection: exit 0, clean JUnit', async () => {
    const d = devices.find((x) => x.profile === 'healthy')!;
    const r = await kitCalledHome([...args(d), '--junit', 'ch-healthy.xml'], { DEV_PW: d.password });
    expect(r.port, r.stderr).toBeGreaterThan(0);
    expect(r.called.find((x) => x.henbId === d.henbId)?.callHome).toBe(true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^conformance of 127\\.0\\.0\\.1:\\d+ \\(called home to 127\\.0\\.0\\.1:${r.port}\\)`, 'm'));
    expect(r.stdout).toContain(`${REQUIREMENTS.length} passed, 0 failed, 0 skipped`);
    expect(r.stdout).toContain('(as found)');
    expect(await readFile(join(dir, 'ch-healthy.xml'), 'utf8')).toContain(`tests="${REQUIREMENTS.length}" failures="0" skipped="0"`);
  }, 150_000);

  it('a device without an event log fails exactly its requirements over call home too: exit 1', async () => {
    const d = devices.find((x) => x.profile === 'flaw-no-replay')!;
    const r = await kitCalledHome([...args(d), '--json'], { DEV_PW: d.password });
    expect(r.code, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.results.filter((x) => x.outcome !== 'pass').map((x) => x.id)).toEqual(['HSV-NC-04', 'HSV-CPL-03']);
  }, 150_000);
});

describe('the kit with the TPM trust root (swtpm-rooted simulated devices)', () => {
  let fleet: Fleet;
  /** the port the kit listened on for calls home in the last run (port 0: a port found free could be taken first) */
  let chPort = 0;
  beforeAll(async () => {
    const tls = await loadOrCreateKitTls(join(dir, 'tls'));
    fleet = await startFleet({
      callHomeBackoff: { initialMs: 50, maxMs: 400, stableMs: 1000 },
      profiles: [
        { profile: 'healthy', count: 1, trustRoot: 'tpm' }, { profile: 'flaw-unsigned-completion', count: 1, trustRoot: 'tpm' },
        { profile: 'flaw-key-id-mismatch', count: 1, trustRoot: 'tpm' },
      ],
      fetchSoftware: { caPem: tls.cert }, installMs: 30,
    });
  });
  afterAll(async () => {
    await fleet?.close();
  });
  /** akOf: whose AK to pin (undefined: unpinned, the kit uses the AK the device presents) */
  const run = (henbId: string, akOf: string | undefined): Promise<ConformanceReport> => {
    const d = fleet.devices.find((x) => x.henbId === henbId)!;
    const ak = akOf !== undefined ? fleet.devices.find((x) => x.henbId === akOf)!.akPublic! : undefined;
    return runConformance({
      target: { host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 },
      trustRoot: 'tpm', ...(ak !== undefined ? { devicePublicKey: ak } : {}), henbId: d.henbId, tlsDir: join(dir, 'tls'), completionTimeoutMs: 20_000, rpcTimeoutMs: 10_000,
    });
  };
  const notPassed = (r: ConformanceReport): string[] => r.results.filter((x) => x.outcome !== 'pass').map((x) => x.id);

  it('a healthy TPM device passes every requirement, its quotes verified with the enrolled AK', async () => {
    const r = await run('healthy-tpm-1', 'healthy-tpm-1');
    expect(notPassed(r)).toEqual([]);
    expect(r.results.find((x) => x.id === 'HSV-CPL-02')!.detail).toContain('TPM2_Quote by the enrolled AK');
    expect(r.leftState).toContain('(as found)');
  });

  it('another device\'s AK pinned: the presented AK is not the enrolled one (HSV-KEY-01), and the evidence checks fail', async () => {
    const r = await run('healthy-tpm-1', 'flaw-unsigned-completion-tpm-1');
    expect(notPassed(r)).toEqual(['HSV-KEY-01', 'HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02']);
    const other = fleet.devices.find((x) => x.henbId === 'flaw-unsigned-completion-tpm-1')!.akName!;
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail).toContain(`not the enrolled key (--device-public-key, key-id ${other})`);
  });

  it('unpinned: the quotes are verified with the AK the device presents (its TPM2B_PUBLIC, key-id its TPM Name), marked unpinned', async () => {
    const d = fleet.devices.find((x) => x.henbId === 'healthy-tpm-1')!;
    const r = await run('healthy-tpm-1', undefined);
    expect(notPassed(r)).toEqual([]);
    expect(r.keySource).toBe('presented');
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail).toContain(`key-id ${d.akName!} (the AK's TPM Name)`);
    expect(r.results.filter((x) => x.unpinned === true).map((x) => x.id)).toEqual(['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02']);
    expect(r.results.find((x) => x.id === 'HSV-CPL-02')!.detail).toMatch(/^unpinned key \(presented by the device\): TPM2_Quote by the presented AK over SHA-256 of the completion statement/);
  });

  it('a TPM device naming its AK by another Name fails HSV-KEY-01; pinned, nothing else fails', async () => {
    const r = await run('flaw-key-id-mismatch-tpm-1', 'flaw-key-id-mismatch-tpm-1');
    expect(notPassed(r)).toEqual(['HSV-KEY-01']);
    expect(r.results.find((x) => x.id === 'HSV-KEY-01')!.detail).toMatch(/key-id [0-9a-f]+ is not the presented key's \(TPM Name [0-9a-f]+\)/);
  });

  describe('calling home (RFC 8071 over SSH: the kit listens, the TPM device dials it)', () => {
    /** a run of the kit on port 0: once it listens, the devices are told its port and call it until the run ends */
    const runCh = async (henbId: string, akOf: string | undefined): Promise<ConformanceReport> => {
      const d = fleet.devices.find((x) => x.henbId === henbId)!;
      const ak = akOf !== undefined ? fleet.devices.find((x) => x.henbId === akOf)!.akPublic! : undefined;
      let stop: (() => Promise<void>) | undefined;
      try {
        return await runConformance({
          target: { host: '127.0.0.1', port: 0, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 },
          callHomeListen: { host: '127.0.0.1', port: 0 }, callHomeWaitMs: 20_000,
          trustRoot: 'tpm', ...(ak !== undefined ? { devicePublicKey: ak } : {}), henbId: d.henbId, tlsDir: join(dir, 'tls'), completionTimeoutMs: 20_000, rpcTimeoutMs: 10_000,
          onReady: (i) => {
            if (i.callHome === undefined) return;
            chPort = i.callHome.port;
            stop = fleet.startCallHome([{ host: '127.0.0.1', port: chPort }]);
          },
        });
      } finally {
        await stop?.();
      }
    };

    it('a healthy TPM device passes every requirement over its call-home connection, quotes by the enrolled AK, left as found', async () => {
      const d = fleet.devices.find((x) => x.henbId === 'healthy-tpm-1')!;
      const pcrBefore = fleet.cell(d.henbId)!.tim();
      const r = await runCh('healthy-tpm-1', 'healthy-tpm-1');
      expect(d.callHome).toBe(true);
      expect(chPort).toBeGreaterThan(0);
      expect(notPassed(r)).toEqual([]);
      expect(r.device).toMatch(new RegExp(`^127\\.0\\.0\\.1:\\d+ \\(called home to 127\\.0\\.0\\.1:${chPort}\\)$`));
      expect(r.results.find((x) => x.id === 'HSV-MEAS-01')!.detail).toContain('TPM2_Quote by the enrolled AK over the nonce');
      expect(r.results.find((x) => x.id === 'HSV-CPL-02')!.detail).toContain('TPM2_Quote by the enrolled AK');
      expect(r.leftState).toContain('(as found)');
      expect(fleet.cell(d.henbId)!.tim()).toBe(pcrBefore);
    }, 120_000);

    it('unpinned over call home: the AK the device presents verifies its quotes (marked unpinned)', async () => {
      const r = await runCh('healthy-tpm-1', undefined);
      expect(notPassed(r)).toEqual([]);
      expect(r.keySource).toBe('presented');
      expect(r.results.filter((x) => x.unpinned === true).map((x) => x.id)).toEqual(['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-CPL-02']);
    });

    it('an unsigned completion over call home fails HSV-CPL-02 only', async () => {
      const r = await runCh('flaw-unsigned-completion-tpm-1', 'flaw-unsigned-completion-tpm-1');
      expect(notPassed(r)).toEqual(['HSV-CPL-02']);
    });
  });

  it('an unsigned completion fails HSV-CPL-02 under the TPM trust root too', async () => {
    const r = await run('flaw-unsigned-completion-tpm-1', 'flaw-unsigned-completion-tpm-1');
    expect(notPassed(r)).toEqual(['HSV-CPL-02']);
  });
});

describe('the kit against netconfd (no device module)', () => {
  let peer: NetconfdPeer | undefined;

  beforeAll(async () => {
    peer = await startNetconfdPeer(PEERS_DIR);
  });

  afterAll(() => {
    peer?.stop();
  });

  it('reports the module missing, skips what depends on it, exits 1 without a crash', async () => {
    const r = await kit(['--device', `127.0.0.1:${peer!.port}`, '--username', 'ncuser', '--password-env', 'NC_PW', '--host-key', peer!.hostKeySha256, '--json', '--timeout', '20'], { NC_PW: 'ncpass' }, dir);
    expect(r.stderr).not.toMatch(/TypeError|ReferenceError|at .*\.ts:\d+/);
    expect(r.code, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout) as Report;
    const by = new Map(rep.results.map((x) => [x.id, x]));
    expect(by.get('HSV-NC-01')!.outcome).toBe('pass');
    expect(by.get('HSV-NC-02')!.outcome).toBe('pass');
    expect(by.get('HSV-NC-03')!.outcome).toBe('pass');
    expect(by.get('HSV-YANG-01')).toMatchObject({ outcome: 'fail', detail: expect.stringContaining('not announced (the module is missing)') });
    for (const q of REQUIREMENTS.filter((x) => x.needsModule)) {
      expect(by.get(q.id)).toMatchObject({ outcome: 'skip', detail: expect.stringContaining('missing (HSV-YANG-01)') });
    }
    expect(rep.ok).toBe(false);
    expect(rep.leftState).toContain('untouched');
  });

  it('pinning the wrong host key: exit 3 (cannot be reached), nothing tested', async () => {
    const r = await kit(['--device', `127.0.0.1:${peer!.port}`, '--username', 'ncuser', '--password-env', 'NC_PW', '--host-key', 'SHA256:' + Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')], { NC_PW: 'ncpass' }, dir);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('ERR_CONFORMANCE_UNREACHABLE');
    expect(r.stderr).toContain('host key');
  });
});
