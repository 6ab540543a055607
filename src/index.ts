/**
 * The plugin's public surface: `activate(host)` (src/plugin/contract.ts), the entry named by plugin.json.
 * Hosts load it through the plugin host; nothing else is exported from here on purpose.
 */
export { activate } from './oam-plugin/index.js';
export type { ActivateFn, PluginHandle, PluginHost } from './plugin/contract.js';
export { HOST_API_VERSION } from './plugin/contract.js';
