/**
 * TPMS_ATTEST for TPM2_Quote (TPM 2.0 Library Part 2, 10.12.8 TPMS_ATTEST, 10.12.1 TPMS_QUOTE_INFO,
 * 10.11.1 TPMS_CLOCK_INFO, 10.9.7 TPML_PCR_SELECTION), big-endian:
 *
 *   magic            UINT32   TPM_GENERATED_VALUE 0xff544347
 *   type             UINT16   TPM_ST_ATTEST_QUOTE 0x8018
 *   qualifiedSigner  TPM2B_NAME
 *   extraData        TPM2B_DATA        (the verifier's nonce)
 *   clockInfo        clock UINT64, resetCount UINT32, restartCount UINT32, safe TPMI_YES_NO
 *   firmwareVersion  UINT64
 *   attested.quote   pcrSelect TPML_PCR_SELECTION { count UINT32, { hash UINT16, sizeofSelect UINT8, pcrSelect[] } }
 *                    pcrDigest TPM2B_DIGEST
 *
 * `tpm2_quote -m` writes the TPMS_ATTEST octets as above; TPM2_Quote returns them inside a TPM2B_ATTEST
 * (UINT16 size first): parseAttest accepts both, the signature is always over the TPMS_ATTEST octets.
 */
import { MalformedTpm, Reader, guard } from './bytes.js';
import type { ParseResult } from './bytes.js';
import { LIMITS, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE, algName } from './constants.js';

export interface PcrSelection {
  /** TPM_ALG_ID of the bank */
  hashAlg: number;
  /** selected PCR indices, ascending */
  pcrs: number[];
}

export interface ClockInfo {
  /** milliseconds the TPM has been powered (not wall time) */
  clock: bigint;
  /** TPM Resets (TPM2_Startup(CLEAR) without a preceding Shutdown(STATE)): a reboot */
  resetCount: number;
  /** TPM Restarts / Resumes since the last reset */
  restartCount: number;
  /** false when the clock may have gone backwards (no orderly shutdown) */
  safe: boolean;
}

export interface QuoteAttest {
  magic: number;
  type: number;
  qualifiedSigner: Buffer;
  extraData: Buffer;
  clockInfo: ClockInfo;
  firmwareVersion: bigint;
  pcrSelect: PcrSelection[];
  pcrDigest: Buffer;
  /** the TPMS_ATTEST octets (what the AK signed) */
  raw: Buffer;
}

/** TPM2B_DATA holds at most sizeof(TPMT_HA) octets */
const DATA_MAX = 2 + LIMITS.digest;

/**
 * Parses a TPMS_ATTEST of a quote (or a TPM2B_ATTEST around one). Checks the structure, the magic and the
 * type; the caller checks the signature over `raw`, the nonce and the PCR digest (./verify.ts).
 */
export function parseQuoteAttest(octets: Uint8Array): ParseResult<QuoteAttest> {
  return guard('TPMS_ATTEST', () => {
    let buf = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength);
    // A TPMS_ATTEST starts with the magic (0xff54...); a TPM2B_ATTEST with its size, which is never 0xff54
    // (more than sizeof(TPMS_ATTEST)). Anything that starts otherwise is read as a TPM2B_ATTEST.
    if (buf.length >= 2 && buf.readUInt16BE(0) !== TPM_GENERATED_VALUE >>> 16) {
      const size = buf.readUInt16BE(0);
      if (size !== buf.length - 2) throw new MalformedTpm(`TPM2B_ATTEST: size ${size}, but ${buf.length - 2} octets follow`);
      buf = buf.subarray(2);
    }
    const r = new Reader(buf, 'TPMS_ATTEST');
    const magic = r.u32('magic');
    if (magic !== TPM_GENERATED_VALUE) {
      throw new MalformedTpm(`TPMS_ATTEST: magic 0x${magic.toString(16).padStart(8, '0')} is not TPM_GENERATED_VALUE (not made by a TPM)`);
    }
    const type = r.u16('type');
    if (type !== TPM_ST_ATTEST_QUOTE) {
      throw new MalformedTpm(`TPMS_ATTEST: type 0x${type.toString(16)} is not TPM_ST_ATTEST_QUOTE`);
    }
    const qualifiedSigner = r.tpm2b('qualifiedSigner', LIMITS.name);
    const extraData = r.tpm2b('extraData', DATA_MAX);
    const clock = r.u64('clockInfo.clock');
    const resetCount = r.u32('clockInfo.resetCount');
    const restartCount = r.u32('clockInfo.restartCount');
    const safe = r.u8('clockInfo.safe');
    if (safe > 1) throw new MalformedTpm(`TPMS_ATTEST: clockInfo.safe is ${safe}, not YES or NO`);
    const firmwareVersion = r.u64('firmwareVersion');
    const pcrSelect = readPcrSelection(r);
    const pcrDigest = r.tpm2b('pcrDigest', LIMITS.digest);
    r.end();
    return {
      magic, type, qualifiedSigner, extraData,
      clockInfo: { clock, resetCount, restartCount, safe: safe === 1 },
      firmwareVersion, pcrSelect, pcrDigest, raw: Buffer.from(buf),
    };
  });
}

/** TPML_PCR_SELECTION: a bounded count of banks, each a bitmap of PCRs (PCR i = bit i%8 of octet i/8). */
export function readPcrSelection(r: Reader): PcrSelection[] {
  const count = r.u32('pcrSelect.count');
  if (count > LIMITS.pcrBanks) throw new MalformedTpm(`TPML_PCR_SELECTION: ${count} banks, more than ${LIMITS.pcrBanks}`);
  const out: PcrSelection[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16(`pcrSelect[${i}].hash`);
    if (seen.has(hashAlg)) throw new MalformedTpm(`TPML_PCR_SELECTION: bank ${algName(hashAlg)} selected twice`);
    seen.add(hashAlg);
    const size = r.u8(`pcrSelect[${i}].sizeofSelect`);
    if (size > LIMITS.pcrSelect) throw new MalformedTpm(`TPML_PCR_SELECTION: sizeofSelect ${size} is more than ${LIMITS.pcrSelect}`);
    const bitmap = r.bytes(size, `pcrSelect[${i}].pcrSelect`);
    const pcrs: number[] = [];
    for (let b = 0; b < size * 8; b++) if (((bitmap[b >> 3] as number) >> (b & 7)) & 1) pcrs.push(b);
    out.push({ hashAlg, pcrs });
  }
  return out;
}
