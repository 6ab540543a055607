/**
 * HSV-MEAS-01..03: integrity-measurement (step 3, what the PVE collects). Two measurements with distinct
 * fresh nonces: the first's signature must verify over nonce-value || TIM with the enrolled key (01), the
 * second must verify over its own nonce, not an earlier one (02), and each log must replay to its TIM (03).
 * The key is the enrolled one (--device-public-key) or, unpinned, the one the device presents when HSV-KEY-01
 * found it usable (a pass then says "unpinned key (presented by the device)"); with neither, the signatures
 * cannot be checked: 01 is skipped, and 02 fails only when the second answer repeats the first signature. The
 * key-id a measurement names must be that key's.
 */
import { integrityMeasurementXml, parseMeasurementReply } from '../device/index.js';
import type { MeasurementReply } from '../device/index.js';
import { elements } from '../netconf/xml/index.js';
import { replayLog } from '../integrity/index.js';
import { keyIdOf, measurementVerifies } from './evidence-key.js';
import type { Kit } from './context.js';
import type { Exchange } from './types.js';

async function measure(kit: Kit, nonce: Buffer): Promise<{ reply?: MeasurementReply; exchange: Exchange; problem?: string }> {
  const o = await kit.session.rpc(integrityMeasurementXml(nonce));
  if (!o.reply) return { exchange: o.exchange, problem: 'integrity-measurement failed' };
  try {
    return { reply: parseMeasurementReply(elements(o.reply)), exchange: o.exchange };
  } catch (e) {
    return { exchange: o.exchange, problem: (e as Error).message };
  }
}

type Measured = Awaited<ReturnType<typeof measure>>;

/** does `r` verify with the kit's signing key over `nonce` (false without a key)? */
function verifies(kit: Kit, nonce: Buffer, r: MeasurementReply): boolean {
  const key = kit.signing?.key;
  return key !== undefined && measurementVerifies(key, nonce, r);
}

/** the key-id a reply names is not the signing key's (a TPM Name is hex: case does not matter) */
function namesOther(kit: Kit, r: MeasurementReply): boolean {
  const key = kit.signing?.key;
  const keyId = key !== undefined ? keyIdOf(key) : undefined;
  return keyId !== undefined && r.keyId !== undefined && (key!.kind === 'tpm' ? r.keyId.toLowerCase() : r.keyId) !== keyId;
}

/** 03: the log replays to the TIM (both answers) */
function checkLogReplay(kit: Kit, m1: Measured & { reply: MeasurementReply }, m2: Measured): void {
  const r1 = m1.reply;
  const bad = [m1, m2].find((m) => m.reply && replayLog(null, m.reply.log) !== m.reply.tim);
  if (bad?.reply) kit.fail('HSV-MEAS-03', `the measurement-log replays to ${replayLog(null, bad.reply.log)}, the reply's tim is ${bad.reply.tim}`, 'tim = extend(...extend(0^32, d0)..., dn) over the log entries in index order', [bad.exchange]);
  else kit.pass('HSV-MEAS-03', `${r1.log.length} log entries replay to the TIM ${r1.tim.slice(0, 16)}...`, [m1.exchange]);
}

/** 01: signature by the enrolled key over nonce || TIM */
function checkSignature(kit: Kit, n1: Buffer, r1: MeasurementReply, exchange: Exchange): void {
  const wantFormat = kit.options.trustRoot === 'tpm' ? 'tpm2-quote' : 'software-key';
  const key = kit.signing?.key;
  if (r1.format !== wantFormat) {
    kit.fail('HSV-MEAS-01', `the evidence is ${r1.format}, the kit runs with --trust-root ${kit.options.trustRoot}`, `${wantFormat} evidence`, [exchange]);
  } else if (r1.format === 'software-key' && !['ES256', 'Ed25519'].includes(r1.signatureAlgorithm)) {
    kit.fail('HSV-MEAS-01', `signature-algorithm ${r1.signatureAlgorithm}`, 'ES256 or Ed25519', [exchange]);
  } else if (!key) {
    kit.skip('HSV-MEAS-01', `unpinned: no --device-public-key and no usable key presented by the device (HSV-KEY-01; key-id ${r1.keyId ?? 'absent'}); give --device-public-key to check the signature`, [exchange]);
  } else if (namesOther(kit, r1)) {
    kit.fail('HSV-MEAS-01', `the measurement names key-id ${r1.keyId ?? ''}, ${kit.keyName()} is key-id ${keyIdOf(key)}`, `evidence by ${kit.keyName()}, named by its key-id`, [exchange]);
  } else if (verifies(kit, n1, r1)) {
    kit.passSigned('HSV-MEAS-01', r1.format === 'tpm2-quote'
      ? `TPM2_Quote by ${kit.signing?.source === 'presented' ? 'the presented' : 'the enrolled'} AK over the nonce; its event log replays to the quoted PCRs and to the TIM`
      : `${r1.signatureAlgorithm} signature over nonce-value || TIM verifies with ${kit.keyName()}`, [exchange]);
  } else {
    kit.fail('HSV-MEAS-01', r1.format === 'tpm2-quote' ? `the quote does not verify with ${kit.keyName()} (AK) over the nonce (or its log does not replay to the TIM)` : `the signature does not verify with ${kit.keyName()} over nonce-value || TIM`,
      r1.format === 'tpm2-quote' ? `a TPM2_Quote by ${kit.keyName()} (AK) with extraData = the nonce-value sent, and the event log that replays to the quoted PCRs` : `a ${r1.signatureAlgorithm} signature by ${kit.keyName()} (P1363 for ES256, base64) over the 32-octet nonce-value sent followed by the 32 TIM octets`, [exchange]);
  }
}

/** 02: the second measurement is bound to its own fresh nonce */
function checkFreshNonce(kit: Kit, n1: Buffer, r1: MeasurementReply, n2: Buffer, m2: Measured): void {
  if (!m2.reply) {
    kit.fail('HSV-MEAS-02', m2.problem ?? 'no reply to the second measurement', 'a reply to every integrity-measurement', [m2.exchange]);
    return;
  }
  const r2 = m2.reply;
  const sent = { sent: `first nonce-value ${n1.toString('base64')}`, received: `first signature ${r1.signature}` };
  if (r1.signature === r2.signature && r1.tpm?.quote === r2.tpm?.quote) {
    kit.fail('HSV-MEAS-02', 'the second measurement, with a fresh nonce, answered the first one\'s signature (stale evidence)', 'a signature over the new nonce-value || TIM', [sent, m2.exchange]);
  } else if (!kit.signing?.key) {
    kit.skip('HSV-MEAS-02', 'unpinned: the two signatures differ, but without --device-public-key or a usable presented key (HSV-KEY-01) the kit cannot tell which nonce they cover', [m2.exchange]);
  } else if (verifies(kit, n2, r2)) {
    kit.passSigned('HSV-MEAS-02', `a second measurement with a fresh nonce is signed over that nonce (${kit.keyName()})`, [m2.exchange]);
  } else if (verifies(kit, n1, r2)) {
    kit.fail('HSV-MEAS-02', 'the second measurement is signed over the FIRST nonce: the device ignores the nonce it is given', 'a signature over the nonce-value of this request', [sent, m2.exchange]);
  } else {
    kit.fail('HSV-MEAS-02', `the second measurement's signature verifies over neither nonce with ${kit.keyName()}`, 'a signature over the nonce-value of this request || TIM', [sent, m2.exchange]);
  }
}

export async function checkMeasurement(kit: Kit): Promise<void> {
  const n1 = kit.nonce();
  const m1 = await measure(kit, n1);
  if (!m1.reply) {
    for (const id of ['HSV-MEAS-01', 'HSV-MEAS-02', 'HSV-MEAS-03'] as const) {
      kit.fail(id, m1.problem ?? 'no reply', 'an integrity-measurement reply with tim, measurement-log, signature-algorithm and signature', [m1.exchange]);
    }
    return;
  }
  const n2 = kit.nonce();
  const m2 = await measure(kit, n2);
  checkLogReplay(kit, { ...m1, reply: m1.reply }, m2);
  checkSignature(kit, n1, m1.reply, m1.exchange);
  checkFreshNonce(kit, n1, m1.reply, n2, m2);
}
