/**
 * The nine steps end to end with swtpm-rooted femtocells (trust root tpm: one swtpm per simulated device, its
 * AK enrolled with the PVE): the demo's stack (simulated fleet, reference PVE over RESTCONF, OAM server)
 * driven over NETCONF as `rollout` does. healthy and healthy-reboot end verified with tokens that name
 * tpm2-quote and the EAR hardware claim; compromised is refused, bad-install a mismatch naming rootfs. Tampering:
 * a PCR extended with a measurement the event log does not show (as malware extending PCR 9 would) is refused
 * by the PVE with the reason, and so the update; a genuine swtpm quote of one completion carried over to
 * another job is refused as "not over this completion". The device's TPM integrity-measurement reply and its
 * completion notification validate with yanglint against the device module.
 */
import { execFile } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoStack } from '../../src/cli/commands/demo.js';
import type { DemoStack } from '../../src/cli/commands/demo.js';
import { connectRolloutTarget } from '../../src/cli/rollout/netconf-target.js';
import type { RolloutConnection } from '../../src/cli/commands/rollout.js';
import type { DeviceResult } from '../../src/cli/rollout/engine.js';
import { silentLogger } from '../../src/log/logger.js';
import { TpmTrustRoot, factoryComponents } from '../../src/simulator/index.js';
import type { Fleet } from '../../src/simulator/index.js';
import { connectDevice, integrityMeasurementXml, DEVICE_NS } from '../../src/device/index.js';
import { NETCONF_BASE_NS, el, elements, serializeXml } from '../../src/netconf/xml/index.js';
import { completionMessage, replayLog } from '../../src/integrity/index.js';
import { base64urlToBase64, createPveClient, startPve } from '../../src/pve/index.js';
import type { PveHandle } from '../../src/pve/index.js';
import { decodeResultUnverified, newNonce } from '../../src/tokens/index.js';
import type { EarClaims } from '../../src/tokens/index.js';

const ROOT = join(import.meta.dirname, '../..');
const NOTIFICATION_NS = 'urn:ietf:params:xml:ns:netconf:notification:1.0';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, env }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: String(stdout) + String(stderr) }));
  });
}

async function yanglint(kind: 'reply' | 'notif', xml: string, dir: string): Promise<{ code: number; out: string }> {
  const file = join(dir, `${kind}-${randomBytes(4).toString('hex')}.xml`);
  await writeFile(file, xml);
  return run('yanglint', ['-p', join(ROOT, 'yang'), '-p', join(ROOT, 'yang/ietf'), '-t', kind, join(ROOT, 'yang/henb-sw-verify-device.yang'), file]);
}

const claimsOf = (token: string | undefined): EarClaims => decodeResultUnverified(token ?? '').claims as unknown as EarClaims;

let dir: string;
let stack: DemoStack;
let conn: RolloutConnection;
const signal = new AbortController().signal;
const fleet = (): Fleet => stack.fleet as unknown as Fleet;
const device = (id: string) => fleet().devices.find((d) => d.henbId === id)!;

async function update(henbId: string): Promise<DeviceResult> {
  const s = await conn.start(henbId, signal);
  return 'jobId' in s && !('status' in s) ? conn.wait(henbId, s.jobId, signal) : (s as DeviceResult);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-nine-'));
  stack = await startDemoStack({
    fleet: [
      { profile: 'healthy', count: 2, trustRoot: 'tpm' }, { profile: 'compromised', count: 1, trustRoot: 'tpm' },
      { profile: 'bad-install', count: 1, trustRoot: 'tpm' }, { profile: 'healthy-reboot', count: 1, trustRoot: 'tpm' },
    ],
    listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'demo'), adminPassword: 'tpm-admin-pw', env: {}, log: silentLogger,
  });
  conn = await connectRolloutTarget({
    host: stack.server.address.host, port: stack.server.address.port, username: 'admin', password: 'tpm-admin-pw',
    hostKey: stack.server.fingerprint, software: { uri: stack.softwareUri, version: '2.0.0' }, selfCheck: true, log: silentLogger, signal,
  });
}, 120_000);

afterAll(async () => {
  await conn?.close();
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('nine steps with swtpm-rooted devices', () => {
  it('every TPM device is enrolled with its AK; its swtpm runs', () => {
    for (const d of fleet().devices) {
      expect(d).toMatchObject({ trustRoot: 'tpm', akName: expect.stringMatching(/^000b[0-9a-f]{64}$/) });
      expect(fleet().tpm(d.henbId)?.pid).toBeGreaterThan(0);
    }
  });

  it('healthy: verified; the completion was a TPM quote (evidence-format tpm2-quote, hardware 2); the replies validate with yanglint', async () => {
    // watch the device's own notifications, to lint the completion it sends
    const d = device('healthy-tpm-1');
    const session = await connectDevice({ host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 }, { timeoutMs: 10_000 });
    try {
      await session.rpc(el(NOTIFICATION_NS, 'create-subscription'));
      const notes = session.notifications()[Symbol.asyncIterator]();
      const r = await update('healthy-tpm-1');
      expect(r.status).toBe('verified');
      const sub = claimsOf(r.token).submods['software-update']!;
      expect(sub).toMatchObject({ ear_status: 'affirming', 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: { hardware: 2 } });

      const n = await notes.next();
      const event = elements(n.value as ReturnType<typeof el>).find((e) => e.ns === DEVICE_NS)!;
      expect(event.name).toBe('software-update-complete');
      const notif = serializeXml(event);
      expect(notif).toContain('<tpm20-attestation>');
      expect(notif).toContain('<bios-event-entry>');
      const lintNotif = await yanglint('notif', notif, dir);
      expect(lintNotif.out).toBe('');
      expect(lintNotif.code).toBe(0);

      const reply = await session.rpc(integrityMeasurementXml(randomBytes(32)));
      const output = elements(reply).filter((e) => e.ns === DEVICE_NS);
      expect(output.map((e) => e.name)).toContain('tpm20-attestation');
      const lintReply = await yanglint('reply', serializeXml(el(DEVICE_NS, 'integrity-measurement', ...output)), dir);
      expect(lintReply.out).toBe('');
      expect(lintReply.code).toBe(0);
      // and the reply is not software-key shaped: no signature leaf
      expect(output.some((e) => e.name === 'signature')).toBe(false);
      expect(elements(reply).some((e) => e.ns === NETCONF_BASE_NS)).toBe(false);
    } finally {
      await session.close();
    }
  });

  it('healthy-reboot: the TPM is power-cycled, the boot chain measured again, and the update verified', async () => {
    const r = await update('healthy-reboot-tpm-1');
    expect(r.status).toBe('verified');
    expect(claimsOf(r.token).submods['software-update']).toMatchObject({ 'evidence-format': 'tpm2-quote', activation: 'reboot', ear_trustworthiness_vector: { hardware: 2 } });
  });

  it('compromised: refused by the PVE on the TPM\'s word (kernel is no reference value)', async () => {
    const ca = await readFile(stack.pve.caPath, 'utf8');
    const client = createPveClient({ url: stack.pve.url, ca, timeoutMs: 15_000 });
    try {
      const v = await client.integrityRequest({ henbId: 'compromised-tpm-1', nonce: newNonce(), jobId: 'probe-1' }, signal);
      expect(v).toMatchObject({ earStatus: 'contraindicated', reason: 'component kernel is not a reference value' });
      expect(claimsOf(v.token).submods.platform).toMatchObject({ 'evidence-format': 'tpm2-quote', ear_trustworthiness_vector: { hardware: 2 } });
    } finally {
      client.close();
    }
    expect((await update('compromised-tpm-1')).status).toBe('refused');
  });

  it('bad-install: mismatch naming rootfs', async () => {
    const r = await update('bad-install-tpm-1');
    expect(r.status).toBe('mismatch');
    expect(r.reason).toMatch(/component rootfs/);
  });

  it('tampered: a PCR extended with a measurement the log does not show is refused (the log does not replay to the quote), and so the update', async () => {
    const tpm = fleet().tpm('healthy-tpm-2')!;
    const wrong = createHash('sha256').update('an implant loaded after boot').digest('hex');
    const ext = await run('/usr/bin/tpm2_pcrextend', [`9:sha256=${wrong}`], { ...process.env, TPM2TOOLS_TCTI: tpm.tcti });
    expect(ext.code, ext.out).toBe(0);
    const ca = await readFile(stack.pve.caPath, 'utf8');
    const client = createPveClient({ url: stack.pve.url, ca, timeoutMs: 15_000 });
    try {
      const v = await client.integrityRequest({ henbId: 'healthy-tpm-2', nonce: newNonce(), jobId: 'probe-2' }, signal);
      expect(v).toMatchObject({ earStatus: 'contraindicated', reason: 'evidence-invalid: the event log does not replay to the quoted PCR digest' });
      // the quote itself is genuine: the hardware is recognised, what it measured is not explained by the log
      expect(claimsOf(v.token).submods.platform).toMatchObject({ ear_trustworthiness_vector: { hardware: 2 } });
    } finally {
      client.close();
    }
    const r = await update('healthy-tpm-2');
    expect(r.status).toBe('refused');
  });
});

describe('a genuine swtpm quote carried over to another completion', () => {
  let root: TpmTrustRoot;
  let pve: PveHandle;
  const henbId = 'femto-tpm-9';
  const comps = factoryComponents();
  const log = [...Object.entries(comps).map(([component, digest]) => ({ component, digest })), { component: 'rootfs', digest: 'cd'.repeat(32) }];

  beforeAll(async () => {
    root = await TpmTrustRoot.start(join(dir, 'femto-9'), log.slice(0, 4));
    const { generateKeyPairSync } = await import('node:crypto');
    pve = await startPve({
      listen: '127.0.0.1:0', dataDir: join(dir, 'pve-9'), referenceValues: {},
      devices: [{ henbId, host: '127.0.0.1', port: 1, username: 'u', trustRoot: 'tpm', akPublic: root.akPublic().toString('base64'),
        devicePublicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
    });
  });
  afterAll(async () => {
    await pve?.close();
    await root?.close();
  });

  it('affirming for the completion it was made for, refused for another job (its qualifying data is another statement)', async () => {
    const nonceText = newNonce();
    // the OAM's nonce text (hex) is read as base64 by the YANG binary leaf: those are the octets the PVE compares
    const nonce = Buffer.from(base64urlToBase64(nonceText), 'base64');
    const tim = replayLog(null, log);
    const statement = { henbId, jobId: 'job-a', nonce, status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim, log };
    const t = await root.quote(log, createHash('sha256').update(completionMessage(statement)).digest());
    const completion = {
      status: 'completed', selfCheck: 'passed', softwareVersion: '2.0.0', tim, measurementLog: log,
      evidence: { format: 'tpm2-quote' as const, nonce: nonceText, signatureAlgorithm: root.signatureAlgorithm, keyId: t.certificateName, signature: t.signature, quote: t.quote, eventLog: t.eventLog },
    };
    const client = createPveClient({ url: pve.url, ca: pve.ca, timeoutMs: 15_000 });
    try {
      const ok = await client.integrityRequest({ henbId, nonce: nonceText, jobId: 'job-a', completion }, signal);
      expect(ok, ok.reason).toMatchObject({ earStatus: 'affirming' });
      expect(claimsOf(ok.token).submods.completion).toMatchObject({ 'evidence-format': 'tpm2-quote', 'reported-tim': tim, ear_trustworthiness_vector: { hardware: 2 } });
      const moved = await client.integrityRequest({ henbId, nonce: nonceText, jobId: 'job-b', completion }, signal);
      expect(moved.earStatus).toBe('contraindicated');
      expect(moved.reason).toMatch(/^evidence-invalid: the quote is not over this completion/);
      const otherTim = await client.integrityRequest({ henbId, nonce: nonceText, jobId: 'job-a', completion: { ...completion, status: 'self-check-failed' } }, signal);
      expect(otherTim.reason).toMatch(/^evidence-invalid: the quote is not over this completion/);
    } finally {
      client.close();
    }
  });
});
