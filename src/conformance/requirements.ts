/**
 * The conformance kit's requirements: what the OAM and the PVE rely on from a femtocell. Ids are stable (a
 * vendor's bug report and docs/device-vendor-guide.md cite them); a MUST is mandatory (the kit's exit code
 * counts it), a SHOULD is reported but does not fail the run. `needsModule`: skipped when the device does
 * not announce the device module at all (a NETCONF server that is not a femtocell of ours).
 */
export type RequirementLevel = 'MUST' | 'SHOULD';

export interface Requirement {
  id: string;
  title: string;
  level: RequirementLevel;
  needsModule: boolean;
}

export const REQUIREMENTS = [
  { id: 'HSV-NC-01', level: 'MUST', needsModule: false, title: 'NETCONF over SSH (RFC 6242: netconf subsystem) or TLS (RFC 7589), hello with a session-id' },
  { id: 'HSV-NC-02', level: 'MUST', needsModule: false, title: 'base:1.1 announced and chunked framing used' },
  { id: 'HSV-NC-03', level: 'MUST', needsModule: false, title: 'RFC 5277 notifications: :notification, create-subscription on NETCONF' },
  { id: 'HSV-NC-04', level: 'MUST', needsModule: false, title: 'RFC 5277 replay: create-subscription with startTime, replayComplete' },
  { id: 'HSV-YANG-01', level: 'MUST', needsModule: false, title: 'device module announced in ietf-yang-library with its namespace' },
  { id: 'HSV-YANG-02', level: 'MUST', needsModule: true, title: 'get-schema serves the device module (ours, or a compatible revision)' },
  { id: 'HSV-STATE-01', level: 'MUST', needsModule: true, title: 'software-slots and integrity state: one running VALID slot, TIM replays its log' },
  { id: 'HSV-KEY-01', level: 'MUST', needsModule: true, title: 'attestation-key state: the signing key presented with its key-id (and it is the enrolled key)' },
  { id: 'HSV-MEAS-01', level: 'MUST', needsModule: true, title: 'integrity-measurement signed over nonce||TIM by the enrolled key' },
  { id: 'HSV-MEAS-02', level: 'MUST', needsModule: true, title: 'integrity-measurement bound to each fresh nonce (no stale evidence)' },
  { id: 'HSV-MEAS-03', level: 'MUST', needsModule: true, title: 'integrity-measurement log replays to the TIM' },
  { id: 'HSV-ERR-01', level: 'SHOULD', needsModule: true, title: 'unsupported URI scheme refused: invalid-value, unsupported-uri-scheme' },
  { id: 'HSV-ERR-02', level: 'SHOULD', needsModule: true, title: 'rollback of an unknown job refused: invalid-value, job-unknown' },
  { id: 'HSV-ERR-03', level: 'SHOULD', needsModule: true, title: 'software-update reusing a job-id is refused (nothing started)' },
  { id: 'HSV-UPD-01', level: 'MUST', needsModule: true, title: 'unreachable URI: completion download-error, nothing installed' },
  { id: 'HSV-UPD-02', level: 'MUST', needsModule: true, title: 'wrong digest: completion integrity-error, nothing installed' },
  { id: 'HSV-UPD-03', level: 'MUST', needsModule: true, title: 'software-update fetched over HTTPS from the kit, completed' },
  { id: 'HSV-UPD-04', level: 'MUST', needsModule: true, title: 'installed into the inactive slot (slots before and after)' },
  { id: 'HSV-UPD-05', level: 'MUST', needsModule: true, title: 'second software-update while one runs: in-use, slot-busy' },
  { id: 'HSV-CPL-01', level: 'MUST', needsModule: true, title: 'completion carries the attested TIM: log replays to it, expected value, self-check' },
  { id: 'HSV-CPL-02', level: 'MUST', needsModule: true, title: 'completion evidence: nonce echoed, signed by the enrolled key' },
  { id: 'HSV-CPL-03', level: 'MUST', needsModule: true, title: 'completion replayed after a reconnect with startTime' },
  { id: 'HSV-RBK-01', level: 'MUST', needsModule: true, title: 'rollback: previous slot running again, TIM as before the update' },
] as const satisfies readonly Requirement[];

export type RequirementId = (typeof REQUIREMENTS)[number]['id'];

export function requirement(id: RequirementId): Requirement {
  const r = REQUIREMENTS.find((x) => x.id === id);
  if (!r) throw new Error(`unknown requirement ${id}`);
  return r;
}
