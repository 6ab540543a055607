/**
 * TLS settings shared by the NETCONF server and client (RFC 7589): the IANA port, and the protocol
 * versions: TLS 1.3 preferred, TLS 1.2 allowed (RFC 7589 section 3 requires at least TLS 1.2; node:tls
 * negotiates the highest both ends allow, so a 1.3 client always gets 1.3). Cipher suites are node's
 * defaults (OpenSSL 3: AEAD with forward secrecy first).
 */
export const NETCONF_TLS_PORT = 6513;

export const TLS_VERSIONS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;
