/**
 * The southbound side: a NETCONF/SSH client per H(e)NB (connect.ts, pinned host keys), the DeviceDriver port
 * of the flow over it (driver.ts), the device module's XML (wire.ts, shared with the simulator and the PVE's
 * evidence collector), the device host key (host-key.ts) and the NETCONF Call Home listener (call-home.ts,
 * RFC 8071: devices that connect out, over SSH or TLS: call-home-tls.ts; what both share: call-home-accept.ts).
 * Devices are reached over SSH or TLS (RFC 7589; the TLS handshake is src/netconf/client's). The femtocell
 * simulator is src/simulator.
 */
export { DeviceConnectError, connectDevice, defaultNetconfPort, fingerprintBytes, sshKeyFingerprint } from './connect.js';
export type { DeviceConnectErrorCode } from './connect.js';
export type { DeviceConnector, DeviceSession, DeviceTarget, DeviceTlsSettings } from './connect.js';
export { DeviceDriverError, createDeviceDriver } from './driver.js';
export type { BackoffOptions, DeviceConnectionInfo, DeviceDriverOptions, DeviceInventoryEntry, DeviceMemory, NetconfDeviceDriver } from './driver.js';
export { CallHomeError, NETCONF_CALL_HOME_SSH_PORT, callHomeDeviceOf, createCallHomeListener } from './call-home.js';
export type { CallHomeErrorCode } from './call-home.js';
export type { CallHomeConnectionInfo, CallHomeDevice, CallHomeListener, CallHomeListenerOptions, CallHomeTlsDevice, CallHomeTlsSettings } from './call-home.js';
export { NETCONF_CALL_HOME_TLS_PORT } from './call-home-tls.js';
export { loadOrCreateDeviceHostKey } from './host-key.js';
export {
  COMPLETION_NOTIFICATION, DEVICE_MODULE, DEVICE_NS, DEVICE_PREFIX, DEVICE_REVISION, DeviceWireError, activateCredentialReplyXml, activateCredentialXml, attestationKeyXml, completionXml,
  parseActivateCredential, parseActivateCredentialReply,
  elementChildren, integrityMeasurementXml, integrityStateXml, measurementLogXml, measurementReplyXml, parseCompletion,
  parseAttestationKey, parseIntegrityMeasurement, parseMeasurementLog, parseMeasurementReply, parseRollback, parseSlots, parseSoftwareUpdate,
  parseStartedReply, parseTpm20Attestation, rollbackXml, slotsXml, softwareUpdateXml, startedReplyXml, tpm20AttestationXml,
} from './wire.js';
export type {
  ActivatedCredential, AttestationKey, CompletionEvent, CompletionEvidenceXml, CompletionStatus, CredentialChallenge, MeasurementReply, SlotStatus, SoftwareSlot, SoftwareUpdateInput, StartedReply,
  Tpm20Attestation,
} from './wire.js';
