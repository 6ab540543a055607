/**
 * TPM 2.0 constants (TCG TPM 2.0 Library, Part 2: Structures) and TCG PC Client event types used here.
 */

/** TPM_GENERATED_VALUE: the magic that only a TPM puts at the start of data it signs ("\xffTCG"). */
export const TPM_GENERATED_VALUE = 0xff544347;

/** TPM_ST attestation structure tags. */
export const TPM_ST_ATTEST_QUOTE = 0x8018;
export const TPM_ST_ATTEST_CERTIFY = 0x8017;

/** TPM_ALG_ID values. */
export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  NULL: 0x0010,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  SM3_256: 0x0012,
  RSASSA: 0x0014,
  RSAPSS: 0x0016,
  ECDSA: 0x0018,
  ECDAA: 0x001a,
  ECC: 0x0023,
  AES: 0x0006,
  CFB: 0x0043,
} as const;

/** TPM_ECC_CURVE -> JWK curve name. */
export const ECC_CURVES: Record<number, { crv: string; size: number }> = {
  0x0003: { crv: 'P-256', size: 32 },
  0x0004: { crv: 'P-384', size: 48 },
  0x0005: { crv: 'P-521', size: 66 },
};

/** Hash algorithms accepted for quotes, event logs and signatures (SHA-1 is not: fail closed). */
export const HASHES: Record<number, { name: 'sha256' | 'sha384' | 'sha512'; size: number }> = {
  [TPM_ALG.SHA256]: { name: 'sha256', size: 32 },
  [TPM_ALG.SHA384]: { name: 'sha384', size: 48 },
  [TPM_ALG.SHA512]: { name: 'sha512', size: 64 },
};

/** Digest sizes of every hash algorithm a log may carry (SHA-1 and SM3 are parsed, never trusted). */
export const DIGEST_SIZES: Record<number, number> = {
  [TPM_ALG.SHA1]: 20,
  [TPM_ALG.SHA256]: 32,
  [TPM_ALG.SHA384]: 48,
  [TPM_ALG.SHA512]: 64,
  [TPM_ALG.SM3_256]: 32,
};

/** A readable name of a TPM_ALG_ID (for reasons and reports). */
export function algName(id: number): string {
  for (const [k, v] of Object.entries(TPM_ALG)) if (v === id) return k.toLowerCase();
  return `0x${id.toString(16).padStart(4, '0')}`;
}

/** TPMA_OBJECT bits checked on an attestation key. */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;

/** TCG PC Client event types (PC Client Platform Firmware Profile, section 10.4.1). */
export const EV = {
  NO_ACTION: 0x00000003,
  SEPARATOR: 0x00000004,
  ACTION: 0x00000005,
  EVENT_TAG: 0x00000006,
  IPL: 0x0000000d,
} as const;

/** Bounds that keep a hostile structure from making us allocate or loop without end. */
export const LIMITS = {
  /** TPM2B_DIGEST / TPM2B_DATA: at most the largest digest (sizeof(TPMU_HA)) */
  digest: 64,
  /** TPM2B_NAME: alg id + largest digest */
  name: 66,
  /** PCR selection banks in one quote (TPM_NUM_PCR_BANKS is small; 16 is generous) */
  pcrBanks: 16,
  /** PCR select octets (PCR_SELECT_MAX for 32 PCRs is 4) */
  pcrSelect: 4,
  /** TPM2B_PUBLIC_KEY_RSA: 4096-bit keys at most */
  rsaKey: 512,
  /** ECC coordinates */
  eccPoint: 66,
  /** authPolicy digest */
  policy: 64,
  /** an event log in octets (a real boot log is a few hundred KiB) */
  logOctets: 16 * 1024 * 1024,
  /** events in one log */
  logEvents: 100_000,
  /** digests per event (one per bank) */
  eventDigests: 8,
  /** one event's data */
  eventData: 1024 * 1024,
} as const;
