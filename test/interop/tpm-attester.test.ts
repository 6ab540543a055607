/**
 * The device-side TPM attester (src/simulator/tpm) against a real software TPM: swtpm + tpm2-tools (Debian
 * packages, scripts/install-peers.sh). Its quotes verify with our TypeScript verifier AND with
 * `tpm2_checkquote` (which also replays our event log, -e); tampering is refused; a reboot is seen in
 * resetCount; swtpm is gone after close.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTpmAttester } from '../../src/simulator/tpm/index.js';
import type { TpmAttester } from '../../src/simulator/tpm/index.js';
import { TPM_ALG, parseEventLog, parseQuoteAttest, replayPcrs, verifyQuote } from '../../src/integrity/tpm/index.js';
import { sha256Hex } from '../../src/integrity/index.js';
import { alive } from '../helpers/process.js';

const boot = { bootloader: sha256Hex('u-boot 2024.04'), kernel: sha256Hex('linux 6.1.90'), rootfs: sha256Hex('rootfs 2.3.0'), config: sha256Hex('config 7') };
const refs = Object.fromEntries(Object.entries(boot).map(([k, v]) => [k, [v]]));

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }));
  });
}

async function measureBoot(a: TpmAttester, over: Partial<typeof boot> = {}): Promise<void> {
  for (const [component, digest] of Object.entries({ ...boot, ...over })) await a.measure(component, digest);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-interop-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(['ecc', 'rsa'] as const)('attester with an %s AK', (keyType) => {
  let a: TpmAttester;
  beforeAll(async () => {
    a = await createTpmAttester({ keyType });
  });
  afterAll(async () => {
    await a?.close();
  });

  it('quotes over the nonce; our verifier affirms', async () => {
    await measureBoot(a);
    const nonce = randomBytes(16);
    const q = await a.quote(nonce);
    const r = verifyQuote({ evidence: q, nonce, ak: a.akPublic(), referenceValues: refs });
    expect(r.reason).toBeUndefined();
    expect(r.status).toBe('affirming');
    expect(r.measurements.map((m) => m.component)).toEqual(['bootloader', 'kernel', 'rootfs', 'config']);
  });

  it('tpm2_checkquote accepts our quote and replays our event log (-e); another nonce it refuses', async () => {
    const nonce = randomBytes(16);
    const q = await a.quote(nonce);
    const log = parseEventLog(q.log);
    if (!log.ok) throw new Error(log.reason);
    const values = replayPcrs(log.value, TPM_ALG.SHA256, q.pcrs);
    if (!values.ok) throw new Error(values.reason);
    const f = (n: string): string => join(dir, `${keyType}-${n}`);
    await Promise.all([
      writeFile(f('ak.pub'), a.akPublic()), writeFile(f('attest'), q.attest), writeFile(f('sig'), q.signature), writeFile(f('log'), q.log),
      writeFile(f('pcrs'), Buffer.concat(q.pcrs.map((p) => values.value.get(p)!))),
    ]);
    const args = ['-u', f('ak.pub'), '-m', f('attest'), '-s', f('sig'), '-g', 'sha256', '-f', f('pcrs'), '-l', `sha256:${q.pcrs.join(',')}`, '-e', f('log')];
    const ok = await run('/usr/bin/tpm2_checkquote', [...args, '-q', nonce.toString('hex')]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const bad = await run('/usr/bin/tpm2_checkquote', [...args, '-q', randomBytes(16).toString('hex')]);
    expect(bad.code).not.toBe(0);
  });

  it('tampered quote, log or nonce are refused by our verifier', async () => {
    const nonce = randomBytes(16);
    const q = await a.quote(nonce);
    const attest = Buffer.from(q.attest);
    attest[attest.length - 1]! ^= 0x01;
    expect(verifyQuote({ evidence: { ...q, attest }, nonce, ak: a.akPublic(), referenceValues: refs }).failedCheck).toBe('signature');
    expect(verifyQuote({ evidence: q, nonce: randomBytes(16), ak: a.akPublic(), referenceValues: refs }).failedCheck).toBe('nonce');
    // a log that claims the reference rootfs while the TPM measured another one
    const other = await createTpmAttester({ keyType });
    try {
      await measureBoot(other, { rootfs: sha256Hex('rootfs 2.3.0-evil') });
      const evil = await other.quote(nonce);
      const lie = { ...evil, log: q.log };
      expect(verifyQuote({ evidence: lie, nonce, ak: other.akPublic(), referenceValues: refs }).failedCheck).toBe('pcr-digest');
      expect(verifyQuote({ evidence: evil, nonce, ak: other.akPublic(), referenceValues: refs })).toMatchObject({ failedCheck: 'reference-values', firstMismatch: 'rootfs' });
      // and the genuine device's key does not verify the other device's quote
      expect(verifyQuote({ evidence: evil, nonce, ak: a.akPublic(), referenceValues: refs }).failedCheck).toBe('signature');
    } finally {
      await other.close();
    }
  });

  it('a reboot resets the PCRs and increments resetCount; the re-measured device affirms again', async () => {
    const n1 = randomBytes(16);
    const before = verifyQuote({ evidence: await a.quote(n1), nonce: n1, ak: a.akPublic(), referenceValues: refs });
    expect(before.status).toBe('affirming');
    await a.reboot();
    const n2 = randomBytes(16);
    const empty = await a.quote(n2);
    const parsed = parseQuoteAttest(empty.attest);
    expect(parsed.ok && parsed.value.clockInfo.resetCount).toBe(before.clockInfo!.resetCount + 1);
    const afterBoot = verifyQuote({ evidence: empty, nonce: n2, ak: a.akPublic(), referenceValues: refs, previousClock: before.clockInfo! });
    // nothing measured since the reboot: the quote is valid (PCR 9 at its reset value), the components are missing
    expect(afterBoot).toMatchObject({ signatureValid: true, logReplays: true, rebooted: true, failedCheck: 'reference-values' });
    expect(afterBoot.pcrs).toEqual([{ bank: 'sha256', pcr: 9, value: '00'.repeat(32) }]);
    await measureBoot(a);
    const n3 = randomBytes(16);
    const again = verifyQuote({ evidence: await a.quote(n3), nonce: n3, ak: a.akPublic(), referenceValues: refs, previousClock: before.clockInfo! });
    expect(again).toMatchObject({ status: 'affirming', rebooted: true });
    expect(again.pcrs).toEqual(before.pcrs); // the same boot measures to the same PCR
  });

  it('regression: reboot after reboot, the AK still quotes (each reboot shuts down in order: no DA lockout, TPM_RC_LOCKOUT 0x921)', async () => {
    // before the fix, a reset without TPM2_Shutdown after the AK was used counted as a failed authorization: the third
    // locked the AK out, and every later quote failed (found by the conformance kit's fourth run on one TPM device)
    for (let i = 0; i < 5; i++) {
      await a.quote(randomBytes(16));
      await a.reboot();
    }
    await measureBoot(a);
    const n = randomBytes(16);
    expect(verifyQuote({ evidence: await a.quote(n), nonce: n, ak: a.akPublic(), referenceValues: refs }).status).toBe('affirming');
  });
});

describe('lifecycle', () => {
  it('keeps the AK across a reboot, kills swtpm on close and refuses calls after close', async () => {
    const a = await createTpmAttester();
    const ak = a.akPublic();
    const pid1 = a.pid!;
    expect(alive(pid1)).toBe(true);
    await a.reboot();
    const pid2 = a.pid!;
    expect(pid2).not.toBe(pid1);
    expect(alive(pid1)).toBe(false);
    expect(a.akPublic()).toEqual(ak);
    await a.close();
    expect(alive(pid2)).toBe(false);
    expect(a.pid).toBeUndefined();
    await expect(a.quote(randomBytes(16))).rejects.toMatchObject({ code: 'ERR_TPM_CLOSED' });
    await a.close(); // twice is fine
  });

  it('a state directory of our own survives close and keeps the keys (a device that powers up again)', async () => {
    const stateDir = join(dir, 'state');
    const a = await createTpmAttester({ stateDir });
    const ak = a.akPublic();
    await a.close();
    expect(existsSync(stateDir)).toBe(true);
    const b = await createTpmAttester({ stateDir });
    try {
      expect(b.akPublic()).toEqual(ak);
    } finally {
      await b.close();
    }
  });

  it('bad input is refused with a code, before the TPM is asked', async () => {
    const a = await createTpmAttester();
    try {
      await expect(a.measure('', 'aa'.repeat(32))).rejects.toMatchObject({ code: 'ERR_TPM_INPUT' });
      await expect(a.measure('rootfs', 'xyz')).rejects.toMatchObject({ code: 'ERR_TPM_INPUT' });
      await expect(a.measure('rootfs', 'aa'.repeat(32), 17)).rejects.toMatchObject({ code: 'ERR_TPM_INPUT' });
      await expect(a.quote(Buffer.alloc(0))).rejects.toMatchObject({ code: 'ERR_TPM_INPUT' });
    } finally {
      await a.close();
    }
  });
});
