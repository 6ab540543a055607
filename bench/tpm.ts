/**
 * TPM 2.0 evidence costs (issue 10), each against a baseline measured in the same run:
 *   - device side, with swtpm + tpm2-tools (what `--trust-root tpm` does per step): a PCR extend (tpm2_pcrextend)
 *     and a quote (tpm2_quote, plus the two tpm2_flushcontext calls swtpm needs without a resource manager), against
 *     spawning /usr/bin/true (the process floor every tpm2-tools command pays) and against the software-key
 *     device's evidence signature (ES256 over nonce || TIM, in process);
 *   - verifier side, in process: verifyQuote (TPMS_ATTEST + TPMT_SIGNATURE with the AK, a 4-event log replayed to the
 *     quoted PCR digest, reference values compared) against one ES256 signature verification (node:crypto) and
 *     against the PVE's software-key appraisal (appraiseEvidence);
 *   - the TPM's own cost: a power cycle (swtpm restart, TPM2_Startup) against the same process floor.
 * Bounded: a few dozen TPM commands, a few thousand in-process verifications. Needs swtpm and tpm2-tools
 * (scripts/install-peers.sh); figures go to docs/evidence-formats.md.
 *
 * Run: node --import tsx bench/tpm.ts [--quotes 20] [--verifies 2000]
 */
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { parseArgs } from 'node:util';
import { verifyQuote } from '../src/integrity/tpm/index.js';
import { evidenceMessage } from '../src/integrity/index.js';
import { createTpmAttester, tpmToolsAvailable } from '../src/simulator/tpm/index.js';
import { Femtocell, factoryReferenceValues } from '../src/simulator/model.js';
import { appraiseEvidence } from '../src/pve/appraise.js';

const { values } = parseArgs({ options: { quotes: { type: 'string', default: '20' }, verifies: { type: 'string', default: '2000' } } });
const QUOTES = Math.max(3, Number(values.quotes));
const VERIFIES = Math.max(100, Number(values.verifies));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeEach(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

function timeLoop(n: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(50, n); i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return (performance.now() - t0) / n;
}

const fmt = (ms: number): string => (ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} us`);

async function main(): Promise<void> {
  if (!tpmToolsAvailable()) {
    console.log('swtpm or tpm2-tools is not installed (scripts/install-peers.sh): bench/tpm.ts needs them');
    process.exit(1);
  }
  const t0 = performance.now();
  const tpm = await createTpmAttester({ keyType: 'ecc' });
  const provisionMs = performance.now() - t0;
  try {
    const components = ['bootloader', 'kernel', 'rootfs', 'config'];
    const digests = factoryReferenceValues();
    // device side
    const spawnFloor = await timeEach(QUOTES, () => spawnSync('/usr/bin/true'));
    const extendMs = await timeEach(QUOTES, (i) => tpm.measure(components[i % 4]!, createHash('sha256').update(`bench ${i}`).digest('hex')));
    await tpm.reboot();
    for (const c of components) await tpm.measure(c, digests[c]![0]!);
    const nonces = Array.from({ length: QUOTES }, () => randomBytes(32));
    const quotes: Array<Awaited<ReturnType<typeof tpm.quote>>> = [];
    const quoteMs = await timeEach(QUOTES, async (i) => { quotes.push(await tpm.quote(nonces[i]!)); });
    const rebootMs = await timeEach(Math.max(3, Math.floor(QUOTES / 4)), () => tpm.reboot());
    const cell = new Femtocell({ henbId: 'bench-1' });
    const softSignMs = timeLoop(VERIFIES, (i) => cell.measure(nonces[i % QUOTES]!));

    // verifier side
    const q = quotes[0]!;
    const ak = tpm.akPublic();
    const check = verifyQuote({ evidence: q, nonce: nonces[0]!, ak, referenceValues: digests });
    if (check.status !== 'affirming') throw new Error(`the bench quote does not verify: ${check.reason}`);
    const verifyQuoteMs = timeLoop(VERIFIES, () => verifyQuote({ evidence: q, nonce: nonces[0]!, ak, referenceValues: digests }));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const msg = randomBytes(64);
    const sig = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const es256VerifyMs = timeLoop(VERIFIES, () => verify('sha256', msg, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig));
    const ev = cell.measure(nonces[0]!);
    const evidence = { tim: ev.tim, log: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256' as const };
    const softAppraiseMs = timeLoop(VERIFIES, () => appraiseEvidence(evidence, nonces[0]!, cell.publicKey, digests));
    if (!verify('sha256', evidenceMessage(nonces[0]!, ev.tim), { key: cell.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(ev.signature, 'base64'))) throw new Error('soft evidence');
    cell.close();

    console.log(`swtpm + tpm2-tools, ${QUOTES} commands each (medians); in-process loops of ${VERIFIES}`);
    console.log(`provision (swtpm start, EK + ECC AK created, persisted): ${fmt(provisionMs)}`);
    console.log(`process floor (spawn /usr/bin/true):                   ${fmt(spawnFloor)}`);
    console.log(`PCR extend (tpm2_pcrextend):                           ${fmt(extendMs)}  = ${(extendMs / spawnFloor).toFixed(1)}x the process floor`);
    console.log(`quote (tpm2_quote + 2 flushcontext, log encoded):       ${fmt(quoteMs)}  = ${(quoteMs / spawnFloor).toFixed(1)}x the process floor, ${(quoteMs / softSignMs).toFixed(0)}x a software-key evidence signature (${fmt(softSignMs)})`);
    console.log(`power cycle (swtpm restart + TPM2_Startup):             ${fmt(rebootMs)}  = ${(rebootMs / spawnFloor).toFixed(1)}x the process floor`);
    console.log(`verifyQuote (ECC AK, 4-event log, reference values):   ${fmt(verifyQuoteMs)}  = ${(verifyQuoteMs / es256VerifyMs).toFixed(1)}x one ES256 verify (${fmt(es256VerifyMs)}), ${(verifyQuoteMs / softAppraiseMs).toFixed(1)}x the software-key appraisal (${fmt(softAppraiseMs)})`);
  } finally {
    await tpm.close();
  }
}

await main();
