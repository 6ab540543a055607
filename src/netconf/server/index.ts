/** The NETCONF server: SSH transport, sessions, dispatch, registry, host keys, auth. */
export { createNetconfServer } from './server.js';
export type { NetconfServer, NetconfServerOptions, NetconfServerLimits } from './server.js';
export { HostRegistry, RegistryError, NETCONF_STREAM_INFO } from './host-registry.js';
export { YANG_LIBRARY_CAPABILITY, YANG_LIBRARY_NS, YANG_LIBRARY_REVISION, moduleCapability, moduleSetId, modulesState, yangLibraryCapability, yangVersionOf } from './yang-library.js';
export { createDispatcher } from './dispatch.js';
export type { CoreOperationContext, DispatchResult, DispatchTarget } from './dispatch.js';
export { registerBaseOperations } from './base-ops.js';
export { createAuthenticator } from './auth.js';
export type { AuthOptions, UserEntry, Authenticator } from './auth.js';
export { loadOrCreateHostKey, generateEd25519KeyPair, hostKeyFingerprint, fingerprintOfBlob, parseSshKey, HostKeyError, HOST_KEY_FILE } from './host-keys.js';
export { SshTransport } from './ssh-transport.js';
export type { SshTransportOptions, SshChannelInfo } from './ssh-transport.js';
export type * from './registry.js';
export type * from './operations.js';
export { registerStandardOperations } from './standard-ops.js';
export type { StandardOperations, StandardOperationsOptions } from './standard-ops.js';
export { Nacm, NACM_NS, initialNacm, markRecoverySession, isRecoverySession, parseNacm } from './nacm.js';
export type { NacmOptions, NacmSchema, NacmCounters, AccessOperation } from './nacm.js';
