/**
 * Step 5's port (SoftwareFetcher, src/oam/ports.ts) as the built-in plugin builds it from its config's software
 * section: src/integrity fetchAndDigest with the source confinement and the CA pin, and one opaque reason
 * towards the NMS for every failure.
 */
import { IntegrityError, createFileDigests, fetchAndDigest, softwareAllowList } from '../integrity/index.js';
import type { HttpDigestCache } from '../integrity/index.js';
import { InFlight } from '../in-flight.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { SoftwareFetcher } from '../oam/index.js';
import type { SoftwareOptions } from './config.js';

/**
 * TLS verification failures of node:tls (the cause's code): the X509 certificate error codes node documents
 * (OpenSSL's verify results, "X509 certificate error codes" in node's tls docs) and its host name check
 */
const TLS_TRUST: ReadonlySet<string> = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'CERT_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CRL_SIGNATURE_FAILURE', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD', 'ERROR_IN_CRL_LAST_UPDATE_FIELD', 'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE',
]);

function tlsCodeOf(err: unknown): string | undefined {
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_TRUST.has(code)) return code;
  }
  return undefined;
}

/** the one reason every failed fetch gives towards the NMS (the job's reason): the detail is in the log only */
export const SOFTWARE_FETCH_FAILED = 'the software could not be fetched (the OAM log has the detail)';

/**
 * Step 5 with the config's source confinement (file-root, allow), CA pin (src/integrity fetchAndDigest,
 * streaming). Fail closed: a file: URI without a file root, an http(s) URI (or a redirect) outside the allow
 * list is refused. Every failure becomes one opaque ERR_SOFTWARE_FETCH with SOFTWARE_FETCH_FAILED, so that
 * the job's reason cannot tell a refused connection from an HTTP 404, a TLS error or a missing file (the
 * OAM must not be a port scanner); the detail goes to `log` at warn.
 */
export function createSoftwareFetcher(software: SoftwareOptions = {}, log: Logger = silentLogger): SoftwareFetcher {
  const allowHttpUrl = softwareAllowList(software.allow ?? []);
  // digestAhead: earlier downloads by URL with their validators, and the downloads under way by URI
  const cache: HttpDigestCache = new Map();
  // file: images hashed once per identity (a rollout sends one image to thousands of H(e)NBs): a replaced or rewritten
  // file is hashed again (src/file-cache.ts), and the confinement and the path's checks run for every job
  const fileDigests = createFileDigests();
  const ahead = new InFlight<{ sha256: string; size: number; cached: boolean }>();
  const fetcher: Required<SoftwareFetcher> = {
    digestAhead: (uri, signal) => ahead.run(uri, () => fetchOne(uri, signal, cache).then((r) => ({ sha256: r.sha256, size: r.size, cached: r.cached }))),
    fetchAndDigest: async (uri, signal) => {
      const r = await fetchOne(uri, signal);
      return { sha256: r.sha256, size: r.size };
    },
  };
  return fetcher;

  async function fetchOne(uri: string, signal: AbortSignal, digestCache?: HttpDigestCache): Promise<{ sha256: string; size: number; cached: boolean }> {
    {
      try {
        if (uri.startsWith('file:') && software.fileRoot === undefined) {
          throw new IntegrityError('ERR_SOFTWARE_URI', 'file: software URIs are refused without software.file-root');
        }
        const r = await fetchAndDigest(uri, {
          signal,
          allowHttpUrl,
          ...(software.caPem !== undefined ? { caPem: software.caPem } : {}),
          ...(software.fileRoot !== undefined ? { fileRoot: software.fileRoot } : {}),
          ...(digestCache !== undefined ? { cache: digestCache } : {}),
          fileDigests,
        });
        return { sha256: r.digest, size: r.size, cached: r.cached === true };
      } catch (err) {
        if (signal.aborted) throw err; // the job's own cancellation or step timeout: the runner says so
        throw fetchFailed(err, uri, software, log);
      }
    }
  }
}

/** a failed fetch: its detail (the causes' codes and messages, a hint for an untrusted certificate) logged at warn, one opaque error returned */
function fetchFailed(err: unknown, uri: string, software: SoftwareOptions, log: Logger): IntegrityError {
  const tls = tlsCodeOf(err);
  const causes: string[] = [];
  for (let e: unknown = err, i = 0; e instanceof Error && i < 5; e = e.cause, i++) causes.push(`${(e as { code?: unknown }).code ?? e.name}: ${e.message}`);
  log.warn('software fetch failed', {
    uri, code: (err as { code?: unknown }).code, detail: causes.join(' <- '),
    ...(tls !== undefined ? { hint: `the https server's certificate is not trusted (${tls}); ` + (software.caPem !== undefined ? 'it is not issued by the CA pinned in software.ca' : 'pin its CA with software.ca') } : {}),
  });
  return new IntegrityError('ERR_SOFTWARE_FETCH', SOFTWARE_FETCH_FAILED);
}
