/**
 * The built-in OAM plugin: the flow (src/oam) on the NETCONF plugin contract (src/plugin/contract.ts).
 * activate.ts is the composition root (builds the ports from the configuration), northbound.ts the
 * NETCONF adapter (RPCs, state, notifications), config.ts the plugin configuration and its checks.
 */
export { OAM_MODULE_FILES, activate, createOamPlugin, defaultYangDir } from './activate.js';
export { createSoftwareFetcher, SOFTWARE_FETCH_FAILED } from './software-fetcher.js';
export { createSoftwareManifestCheck, manifestCheckFromConfig, manifestUriOf, SOFTWARE_MANIFEST_UNREADABLE } from './software-manifest.js';
export { devicesFromConfig, pveFromConfig, referenceValuesSignerFromConfig } from './ports.js';
export type { OamPlugin, OamPluginDeps } from './activate.js';
export { OamConfigError, policiesFromConfig, pveTargetFromConfig, softwareFromConfig, storeFromConfig } from './config.js';
export type { OamConfigErrorCode } from './config.js';
export type { OamPluginConfig, SoftwareOptions } from './config.js';
export { HSV_NS, HSV_PREFIX, HSV_STREAM, OamService, alarmXml, insideRoot, progressXml, resultXml } from './northbound.js';
export type { OamPolicies, OamServiceOptions } from './northbound.js';
