/** The NETCONF client: SSH connect with host key pinning, rpc, notifications, close. */
export { connectNetconf, NetconfClientError } from './connect.js';
export type { ConnectOptions, NetconfClient } from './connect.js';
export { TlsHandshakeError, connectNetconfTls, describeCertificateError, tlsClientContext, tlsFailureOf, tlsHandshake } from './connect-tls.js';
export type { NetconfTlsClient, TlsConnectOptions, TlsHandshakeFailure, TlsHandshakeSocket } from './connect-tls.js';
export { TlsSessionCache } from './tls-sessions.js';
export type { TlsSessionCacheOptions, TlsSessionEntry, TlsSessionPeer, TlsSessionSettings } from './tls-sessions.js';
export type { RpcOptions } from '../session/index.js';
export { NetconfError } from '../rpc-error.js';
export type { RpcErrorInfo } from '../rpc-error.js';
