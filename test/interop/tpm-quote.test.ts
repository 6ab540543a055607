/**
 * Quotes made by tpm2-tools itself (`tpm2_quote`, no code of ours on the device side) against swtpm, verified
 * by our TypeScript verifier, for an ECC and an RSA AK; and our event log writer read back by
 * `tpm2_eventlog`, whose replayed PCR values must equal ours.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Swtpm } from '../../src/simulator/tpm/index.js';
import { sha256Hex } from '../../src/integrity/index.js';
import { EV, TPM_ALG, encodeEventLog, parseEventLog, replayPcrs, verifyQuote } from '../../src/integrity/tpm/index.js';
import type { EventToWrite } from '../../src/integrity/tpm/index.js';

let dir: string;
let tpm: Swtpm;

function tool(name: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(`/usr/bin/${name}`, args, { env: { ...process.env, TPM2TOOLS_TCTI: tpm.tcti }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} ${args.join(' ')}: ${String(stderr)}`));
      else resolve(String(stdout));
    });
  });
}

async function flush(): Promise<void> {
  await tool('tpm2_flushcontext', ['-t']);
  await tool('tpm2_flushcontext', ['-s']);
}

const f = (n: string): string => join(dir, n);
const components: Array<[string, string, number]> = [['bootloader', sha256Hex('bl'), 9], ['kernel', sha256Hex('k'), 9], ['rootfs', sha256Hex('r'), 9], ['config', sha256Hex('c'), 14]];
const refs = Object.fromEntries(components.map(([c, d]) => [c, [d]]));
const events: EventToWrite[] = components.map(([c, d, pcr]) => ({ pcr, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.from(d, 'hex')]]), data: Buffer.from(c) }));
const log = encodeEventLog([TPM_ALG.SHA256], events);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-tpm-quote-'));
  tpm = new Swtpm({ stateDir: f('state') });
  await tpm.start();
  await tool('tpm2_createek', ['-c', f('ek.ctx'), '-G', 'rsa', '-u', f('ek.pub')]);
  await flush();
  for (const [, d, pcr] of components) await tool('tpm2_pcrextend', [`${pcr}:sha256=${d}`]);
});
afterAll(async () => {
  await tpm?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['ecc', ['-G', 'ecc', '-s', 'ecdsa']],
  ['rsa', ['-G', 'rsa', '-s', 'rsassa']],
] as const)('a quote made by tpm2_quote with an %s AK', (kind, alg) => {
  let ak: Buffer;
  let quote: { attest: Buffer; signature: Buffer; log: Buffer };
  const nonce = randomBytes(20);

  beforeAll(async () => {
    await tool('tpm2_createak', ['-C', f('ek.ctx'), '-c', f(`${kind}.ctx`), ...alg, '-g', 'sha256', '-u', f(`${kind}.pub`), '-f', 'tss', '-n', f(`${kind}.name`)]);
    await flush();
    await tool('tpm2_quote', ['-c', f(`${kind}.ctx`), '-l', 'sha256:0,9,14', '-q', nonce.toString('hex'), '-m', f(`${kind}.attest`), '-s', f(`${kind}.sig`), '-g', 'sha256']);
    await flush();
    ak = await readFile(f(`${kind}.pub`));
    quote = { attest: await readFile(f(`${kind}.attest`)), signature: await readFile(f(`${kind}.sig`)), log };
  });

  it('our verifier affirms it, with the event log of what was extended', () => {
    const r = verifyQuote({ evidence: quote, nonce, ak, referenceValues: refs });
    expect(r.reason).toBeUndefined();
    expect(r.status).toBe('affirming');
    expect(r.pcrs.map((p) => p.pcr)).toEqual([0, 9, 14]);
    expect(r.clockInfo?.resetCount).toBeGreaterThanOrEqual(0);
  });

  it('our verifier refuses it for another nonce, a log missing an event, another component digest', () => {
    expect(verifyQuote({ evidence: quote, nonce: randomBytes(20), ak, referenceValues: refs }).failedCheck).toBe('nonce');
    const short = encodeEventLog([TPM_ALG.SHA256], events.slice(0, 3));
    // PCR 14 is quoted, so a log without its event replays it to the reset value: not what the TPM signed
    expect(verifyQuote({ evidence: { ...quote, log: short }, nonce, ak, referenceValues: refs }).failedCheck).toBe('pcr-digest');
    const extra = encodeEventLog([TPM_ALG.SHA256], [...events, { ...events[0]!, pcr: 10 }]);
    expect(verifyQuote({ evidence: { ...quote, log: extra }, nonce, ak, referenceValues: refs }).failedCheck).toBe('pcr-selection');
    const dropped = encodeEventLog([TPM_ALG.SHA256], [events[0]!, events[2]!, events[3]!]);
    expect(verifyQuote({ evidence: { ...quote, log: dropped }, nonce, ak, referenceValues: refs }).failedCheck).toBe('pcr-digest');
    expect(verifyQuote({ evidence: quote, nonce, ak, referenceValues: { ...refs, rootfs: [sha256Hex('other')] } })).toMatchObject({ failedCheck: 'reference-values', firstMismatch: 'rootfs' });
  });
});

it('tpm2_eventlog reads our log and replays it to the values our replay computes (and the TPM holds)', async () => {
  await writeFile(f('log.bin'), log);
  const out = await tool('tpm2_eventlog', [f('log.bin')]);
  const theirs = [...out.matchAll(/^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]{64})$/gm)].map((m) => [Number(m[1]), m[2]!.toLowerCase()]);
  const parsed = parseEventLog(log);
  if (!parsed.ok) throw new Error(parsed.reason);
  const ours = replayPcrs(parsed.value, TPM_ALG.SHA256, [9, 14]);
  if (!ours.ok) throw new Error(ours.reason);
  expect(theirs).toEqual([[9, ours.value.get(9)!.toString('hex')], [14, ours.value.get(14)!.toString('hex')]]);
  const tpmValues = await tool('tpm2_pcrread', ['sha256:9,14']);
  expect(tpmValues.toLowerCase()).toContain(ours.value.get(9)!.toString('hex'));
  expect(tpmValues.toLowerCase()).toContain(ours.value.get(14)!.toString('hex'));
});
