/**
 * The device conformance kit (`henb-sw-verify conformance`): runs a vendor's femtocell through what the OAM
 * and the PVE rely on, requirement by requirement (requirements.ts; docs/device-vendor-guide.md), one check
 * per module (check-*.ts), over src/device's NETCONF session with a pinned host key, against the kit's own
 * HTTPS image server.
 */
export { runConformance } from './run.js';
export type { ConformanceOptions } from './run.js';
export { REQUIREMENTS, requirement } from './requirements.js';
export type { Requirement, RequirementId, RequirementLevel } from './requirements.js';
export type { ConformanceReport, Exchange, Outcome, RequirementResult } from './types.js';
export { ConformanceError } from './errors.js';
export type { ConformanceErrorCode } from './errors.js';
export { reportJson, reportJunit, transcriptText } from './report.js';
export { loadOrCreateKitTls } from './tls.js';
export type { KitTls } from './tls.js';
