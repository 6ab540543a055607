/**
 * Writes a TCG PC Client crypto-agile event log (the layout is in ./eventlog.ts): what a device keeps while it
 * measures, so that a verifier can replay it. Pure: the device side (src/simulator/tpm) appends events as it
 * extends PCRs; the octets are what it sends.
 */
import { DIGEST_SIZES, EV, algName } from './constants.js';
import { SPEC_ID_SIGNATURE } from './eventlog.js';

export interface EventToWrite {
  pcr: number;
  type: number;
  /** one digest per algorithm of the log, by TPM_ALG_ID */
  digests: Map<number, Buffer>;
  data: Buffer;
}

/** The Spec ID event (TCG_PCR_EVENT, SHA-1 format) announcing `algorithms`. */
export function specIdEvent(algorithms: readonly number[]): Buffer {
  const body = Buffer.alloc(16 + 4 + 4 + 4 + algorithms.length * 4 + 1);
  let o = SPEC_ID_SIGNATURE.copy(body, 0);
  o = body.writeUInt32LE(0, o); // platformClass: client
  o = body.writeUInt8(0, o); // specVersionMinor
  o = body.writeUInt8(2, o); // specVersionMajor
  o = body.writeUInt8(0, o); // specErrata
  o = body.writeUInt8(2, o); // uintnSize: UINT64
  o = body.writeUInt32LE(algorithms.length, o);
  for (const alg of algorithms) {
    const size = DIGEST_SIZES[alg];
    if (size === undefined) throw new RangeError(`no digest size known for ${algName(alg)}`);
    o = body.writeUInt16LE(alg, o);
    o = body.writeUInt16LE(size, o);
  }
  body.writeUInt8(0, o); // vendorInfoSize
  const head = Buffer.alloc(32);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(EV.NO_ACTION, 4);
  head.writeUInt32LE(body.length, 28);
  return Buffer.concat([head, body]);
}

/** One TCG_PCR_EVENT2, digests in the order of `algorithms`. */
export function encodeEvent2(e: EventToWrite, algorithms: readonly number[]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(e.pcr, 0);
  head.writeUInt32LE(e.type, 4);
  head.writeUInt32LE(algorithms.length, 8);
  parts.push(head);
  for (const alg of algorithms) {
    const d = e.digests.get(alg);
    if (d === undefined || d.length !== DIGEST_SIZES[alg]) throw new RangeError(`event for PCR ${e.pcr} lacks a ${algName(alg)} digest`);
    const id = Buffer.alloc(2);
    id.writeUInt16LE(alg);
    parts.push(id, d);
  }
  const size = Buffer.alloc(4);
  size.writeUInt32LE(e.data.length);
  parts.push(size, e.data);
  return Buffer.concat(parts);
}

/** A whole log: the Spec ID event, then the events. */
export function encodeEventLog(algorithms: readonly number[], events: readonly EventToWrite[]): Buffer {
  return Buffer.concat([specIdEvent(algorithms), ...events.map((e) => encodeEvent2(e, algorithms))]);
}
