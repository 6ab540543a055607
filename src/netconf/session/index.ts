/** NETCONF sessions independent of the transport: hello, framing switch, rpc matching, notifications. */
export { MessageConnection } from './connection.js';
export type { ConnectionOptions } from './connection.js';
export { DEFAULT_CLOSE_GRACE_MS, ServerSession } from './server-session.js';
export type { ServerSessionOptions, RpcOutcome } from './server-session.js';
export { ClientSession } from './client-session.js';
export type { ClientSessionOptions, RpcOptions } from './client-session.js';
export { BASE_10, BASE_11, buildHello, parseHello, negotiatesBase11 } from './hello.js';
export type { Hello } from './hello.js';
export { SessionError } from './errors.js';
export type { SessionErrorCode } from './errors.js';
export { duplexPair } from './memory-transport.js';
