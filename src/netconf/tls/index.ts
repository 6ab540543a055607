/** NETCONF over TLS (RFC 7589): certificate-to-name mapping (RFC 7407) and the TLS settings both ends use. */
export { MAP_TYPES, TlsConfigError, certSha256, certificatesOfPem, commonName, ipName, mapCertificate, parseCertToName, parseFingerprint, subjectAltNames, verifiedChain } from './cert-to-name.js';
export type { CertMapping, CertToNameEntry, CertToNameRule, MapType, SanEntry, TlsConfigErrorCode } from './cert-to-name.js';
export { NETCONF_TLS_PORT, TLS_VERSIONS } from './settings.js';
export { peerCertificateChain, sentCertificates } from './peer.js';
