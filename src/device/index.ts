/**
 * The southbound side: a NETCONF/SSH client per H(e)NB (connect.ts, pinned host keys), the DeviceDriver port
 * of the flow over it (driver.ts), the device module's XML (wire.ts, shared with the simulator and the PVE's
 * evidence collector) and the device host key (host-key.ts). The femtocell simulator is src/simulator.
 */
export { DeviceConnectError, connectDevice, fingerprintBytes, sshKeyFingerprint } from './connect.js';
export type { DeviceConnector, DeviceSession, DeviceTarget } from './connect.js';
export { DeviceDriverError, createDeviceDriver } from './driver.js';
export type { BackoffOptions, DeviceDriverOptions, DeviceInventoryEntry, NetconfDeviceDriver } from './driver.js';
export { loadOrCreateDeviceHostKey } from './host-key.js';
export {
  COMPLETION_NOTIFICATION, DEVICE_MODULE, DEVICE_NS, DEVICE_PREFIX, DEVICE_REVISION, DeviceWireError, completionXml,
  elementChildren, integrityMeasurementXml, integrityStateXml, measurementLogXml, measurementReplyXml, parseCompletion,
  parseIntegrityMeasurement, parseMeasurementLog, parseMeasurementReply, parseRollback, parseSlots, parseSoftwareUpdate,
  parseStartedReply, rollbackXml, slotsXml, softwareUpdateXml, startedReplyXml,
} from './wire.js';
export type {
  CompletionEvent, CompletionStatus, MeasurementReply, SlotStatus, SoftwareSlot, SoftwareUpdateInput, StartedReply,
} from './wire.js';
