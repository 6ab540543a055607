/**
 * The NETCONF registry's types. They live in the leaf module src/netconf/registry.ts, which the plugin
 * contract (src/plugin/contract.ts) re-exports; the server's files keep importing them from here.
 */
export type * from '../registry.js';
