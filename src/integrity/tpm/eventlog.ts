/**
 * The TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile, 10.2; TCG EFI Protocol
 * 5.2), little-endian:
 *
 *   first event, TCG_PCR_EVENT (SHA-1 format):
 *     pcrIndex UINT32 (0), eventType UINT32 (EV_NO_ACTION), digest[20] (zeros), eventSize UINT32, event[eventSize]
 *     with event = TCG_EfiSpecIDEventStruct: signature "Spec ID Event03\0", platformClass UINT32,
 *       specVersionMinor UINT8 (0), specVersionMajor UINT8 (2), specErrata UINT8, uintnSize UINT8 (1|2),
 *       numberOfAlgorithms UINT32, digestSizes[n] { algorithmId UINT16, digestSize UINT16 },
 *       vendorInfoSize UINT8, vendorInfo[vendorInfoSize]
 *   then TCG_PCR_EVENT2 until the end:
 *     pcrIndex UINT32, eventType UINT32, digests TPML_DIGEST_VALUES { count UINT32, { hashAlg UINT16, digest[] } },
 *     eventSize UINT32, event[eventSize]
 *
 * A SHA-1-only log (no Spec ID event) is refused: we never trust SHA-1. Every event must carry exactly one
 * digest per algorithm of the Spec ID event (go-attestation accepts fewer; we fail closed), counts and sizes
 * are bounded before anything is allocated.
 */
import { createHash } from 'node:crypto';
import { MalformedTpm, Reader, guard } from './bytes.js';
import type { ParseResult } from './bytes.js';
import { DIGEST_SIZES, EV, HASHES, LIMITS, algName } from './constants.js';

export const SPEC_ID_SIGNATURE = Buffer.from('Spec ID Event03\0', 'latin1');

export interface SpecIdEvent {
  platformClass: number;
  specVersion: { major: number; minor: number; errata: number };
  uintnSize: number;
  algorithms: Array<{ alg: number; size: number }>;
}

export interface TcgEvent {
  /** position in the log, 1 = the first TCG_PCR_EVENT2 */
  sequence: number;
  pcr: number;
  type: number;
  /** digest per TPM_ALG_ID */
  digests: Map<number, Buffer>;
  data: Buffer;
}

export interface EventLog {
  specId: SpecIdEvent;
  events: TcgEvent[];
}

export function parseEventLog(octets: Uint8Array): ParseResult<EventLog> {
  return guard('event log', () => {
    if (octets.byteLength > LIMITS.logOctets) throw new MalformedTpm(`event log: ${octets.byteLength} octets, more than ${LIMITS.logOctets}`);
    const r = new Reader(Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength), 'event log');
    const pcr0 = r.u32le('TCG_PCR_EVENT.pcrIndex');
    const type0 = r.u32le('TCG_PCR_EVENT.eventType');
    const digest0 = r.bytes(20, 'TCG_PCR_EVENT.digest');
    const size0 = r.u32le('TCG_PCR_EVENT.eventSize');
    if (pcr0 !== 0 || type0 !== EV.NO_ACTION) {
      throw new MalformedTpm('event log: the first event is not the Spec ID event (a SHA-1-only log is not accepted)');
    }
    if (digest0.some((b) => b !== 0)) throw new MalformedTpm('event log: the Spec ID event digest is not zero');
    if (size0 > r.remaining) throw new MalformedTpm(`event log: Spec ID event of ${size0} octets, ${r.remaining} left`);
    const specId = parseSpecId(r.bytes(size0, 'TCG_PCR_EVENT.event'));
    const sizes = new Map(specId.algorithms.map((a) => [a.alg, a.size]));
    const events: TcgEvent[] = [];
    while (r.remaining > 0) {
      const n = events.length + 1;
      if (n > LIMITS.logEvents) throw new MalformedTpm(`event log: more than ${LIMITS.logEvents} events`);
      const where = `event ${n}`;
      const pcr = r.u32le(`${where}.pcrIndex`);
      const type = r.u32le(`${where}.eventType`);
      if (pcr > 31) throw new MalformedTpm(`event log: ${where} names PCR ${pcr} (0..31)`);
      const count = r.u32le(`${where}.digests.count`);
      if (count !== sizes.size) {
        throw new MalformedTpm(`event log: ${where} has ${count} digests, the Spec ID event announces ${sizes.size}`);
      }
      const digests = new Map<number, Buffer>();
      for (let i = 0; i < count; i++) {
        const alg = r.u16le(`${where}.digests[${i}].hashAlg`);
        const size = sizes.get(alg);
        if (size === undefined) throw new MalformedTpm(`event log: ${where} has a ${algName(alg)} digest, not announced by the Spec ID event`);
        if (digests.has(alg)) throw new MalformedTpm(`event log: ${where} has two ${algName(alg)} digests`);
        digests.set(alg, r.bytes(size, `${where}.digests[${i}].digest`));
      }
      const eventSize = r.u32le(`${where}.eventSize`);
      if (eventSize > LIMITS.eventData) throw new MalformedTpm(`event log: ${where} data of ${eventSize} octets, more than ${LIMITS.eventData}`);
      if (eventSize > r.remaining) throw new MalformedTpm(`event log: ${where} data of ${eventSize} octets, ${r.remaining} left`);
      const data = r.bytes(eventSize, `${where}.event`);
      events.push({ sequence: n, pcr, type, digests, data });
    }
    return { specId, events };
  });
}

function parseSpecId(event: Buffer): SpecIdEvent {
  const r = new Reader(event, 'Spec ID event');
  const sig = r.bytes(16, 'signature');
  if (!sig.equals(SPEC_ID_SIGNATURE)) throw new MalformedTpm('event log: the first event is not a "Spec ID Event03" (a SHA-1-only log is not accepted)');
  const platformClass = r.u32le('platformClass');
  const minor = r.u8('specVersionMinor');
  const major = r.u8('specVersionMajor');
  const errata = r.u8('specErrata');
  if (major !== 2 || minor !== 0) throw new MalformedTpm(`Spec ID event: version ${major}.${minor}, expected 2.0`);
  const uintnSize = r.u8('uintnSize');
  if (uintnSize !== 1 && uintnSize !== 2) throw new MalformedTpm(`Spec ID event: uintnSize ${uintnSize} is not 1 or 2`);
  const n = r.u32le('numberOfAlgorithms');
  if (n === 0 || n > LIMITS.eventDigests) throw new MalformedTpm(`Spec ID event: ${n} algorithms (1..${LIMITS.eventDigests})`);
  const algorithms: SpecIdEvent['algorithms'] = [];
  for (let i = 0; i < n; i++) {
    const alg = r.u16le(`digestSizes[${i}].algorithmId`);
    const size = r.u16le(`digestSizes[${i}].digestSize`);
    const known = DIGEST_SIZES[alg];
    if (known !== undefined && known !== size) throw new MalformedTpm(`Spec ID event: ${algName(alg)} digest size ${size}, expected ${known}`);
    if (size === 0 || size > LIMITS.digest) throw new MalformedTpm(`Spec ID event: ${algName(alg)} digest size ${size} (1..${LIMITS.digest})`);
    if (algorithms.some((a) => a.alg === alg)) throw new MalformedTpm(`Spec ID event: ${algName(alg)} listed twice`);
    algorithms.push({ alg, size });
  }
  const vendorInfoSize = r.u8('vendorInfoSize');
  r.bytes(vendorInfoSize, 'vendorInfo');
  r.end();
  return { platformClass, specVersion: { major, minor, errata }, uintnSize, algorithms };
}

/** The value a PCR holds after TPM2_Startup(CLEAR): zeros, except the DRTM PCRs 17-22 (all ones). */
export function initialPcr(pcr: number, size: number, locality = 0): Buffer {
  if (pcr >= 17 && pcr <= 22) return Buffer.alloc(size, 0xff);
  const b = Buffer.alloc(size);
  if (pcr === 0) b[size - 1] = locality;
  return b;
}

const STARTUP_LOCALITY = Buffer.from('StartupLocality\0', 'latin1');

/**
 * Replays the log into PCR values of one bank: for every PCR in `pcrs`, extend from its initial value with
 * each event's digest of that algorithm, in log order. EV_NO_ACTION events are not extended (a
 * StartupLocality event sets PCR 0's initial value). Returns a reason when an event lacks a digest of `hashAlg`.
 */
export function replayPcrs(log: EventLog, hashAlg: number, pcrs: readonly number[]): ParseResult<Map<number, Buffer>> {
  const hash = HASHES[hashAlg];
  if (!hash) return { ok: false, reason: `PCR bank ${algName(hashAlg)} is not accepted (sha256, sha384, sha512)` };
  let locality = 0;
  const wanted = new Set(pcrs);
  const values = new Map<number, Buffer>();
  for (const e of log.events) {
    if (e.type === EV.NO_ACTION) {
      if (e.pcr === 0 && e.data.length === 17 && e.data.subarray(0, 16).equals(STARTUP_LOCALITY) && !values.has(0)) locality = e.data[16] as number;
      continue;
    }
    if (!wanted.has(e.pcr)) continue;
    const d = e.digests.get(hashAlg);
    if (d === undefined) return { ok: false, reason: `event ${e.sequence} has no ${hash.name} digest` };
    const old = values.get(e.pcr) ?? initialPcr(e.pcr, hash.size, locality);
    values.set(e.pcr, createHash(hash.name).update(old).update(d).digest());
  }
  for (const p of wanted) if (!values.has(p)) values.set(p, initialPcr(p, hash.size, locality));
  return { ok: true, value: values };
}

/** The PCRs that the log's measurement events extend (EV_NO_ACTION excluded), ascending. */
export function measuredPcrs(log: EventLog): number[] {
  return [...new Set(log.events.filter((e) => e.type !== EV.NO_ACTION).map((e) => e.pcr))].sort((a, b) => a - b);
}
