/**
 * The femtocell simulator (tests, demo, `henb-sw-verify simulate`): the device model (model.ts: slots, TIM,
 * measurement log, evidence signing, profiles), a fleet of NETCONF/SSH servers serving it (simulator.ts) and
 * its command (cli.ts). It speaks the device module through src/device's wire encoding.
 */
export * from './model.js';
export * from './simulator.js';
export * from './cli.js';
export { TRUST_ROOTS, TpmTrustRoot, isTrustRoot } from './tpm-root.js';
export type { TrustRoot } from './tpm-root.js';
export { TpmAttesterError, createTpmAttester, tpmToolsAvailable } from './tpm/index.js';
export type { TpmAttester } from './tpm/index.js';
export { callHomeDelay, callHomeLoop } from './call-home.js';
export type { CallHomeBackoff, CallHomeLoopOptions } from './call-home.js';
