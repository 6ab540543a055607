/**
 * Policy require-signed-software (issue 10 item 4): the image's vendor-signed manifest (URI + .jws), fetched under the
 * software source confinement and verified with the configured vendor keys before anything is sent to a device.
 */
import { resolve } from 'node:path';
import { HsvError } from '../errors.js';
import { IntegrityError, fetchAndDigest, softwareAllowList } from '../integrity/index.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { SoftwareManifestCheck } from '../oam/index.js';
import type { Jwks, JwksSource, SoftwareManifest } from '../tokens/index.js';
import { freshKeys, verifySoftwareManifest, verifyWithCurrentKeys } from '../tokens/index.js';
import { followedJwksFile } from './jwks-files.js';
import { OamConfigError } from './config.js';
import type { OamPluginConfig, SoftwareOptions } from './config.js';

/** the manifest of an image: its URI with .jws appended to the path (query and fragment kept out of it) */
export function manifestUriOf(uri: string): string {
  const u = new URL(uri);
  u.search = '';
  u.hash = '';
  u.pathname = `${u.pathname}.jws`;
  return u.href;
}

/** manifest fetch failures towards the NMS: one opaque reason, the detail in the log (as for the image) */
export const SOFTWARE_MANIFEST_UNREADABLE = 'the software has no signed manifest the OAM could read at its URI + .jws (the OAM log has the detail)';

/** A software manifest that does not vouch for the image (policy require-signed-software). */
export type SoftwareManifestErrorCode =
  | 'ERR_SOFTWARE_MANIFEST_MISSING' | 'ERR_SOFTWARE_MANIFEST_UNTRUSTED' | 'ERR_SOFTWARE_MANIFEST_INVALID' | 'ERR_SOFTWARE_MANIFEST_MISMATCH';

export class SoftwareManifestError extends HsvError<SoftwareManifestErrorCode> {}

/**
 * Policy require-signed-software: the image's manifest (URI.jws, fetched under the same source confinement, at most
 * 64 KiB) must verify with a key of software.vendor-keys (src/tokens verifySoftwareManifest: swm+jwt, alg allow-list,
 * signature, claims, exp) and name the fetched digest, the updated component and the requested version.
 * The vendor keys may be a JwksSource (./jwks-files.ts over software.vendor-keys): asked once per manifest (a stat;
 * the file read again only when it changed), and once more when the manifest's kid is not in the set (a key added
 * between that stat and the verification); a manifest whose key the file really lacks is refused as before.
 * Codes: ERR_SOFTWARE_MANIFEST_MISSING (not readable), ERR_SOFTWARE_MANIFEST_UNTRUSTED (not signed by a vendor key;
 * one message), ERR_SOFTWARE_MANIFEST_INVALID (claims, expired), ERR_SOFTWARE_MANIFEST_MISMATCH (another digest,
 * component or version).
 */
export function createSoftwareManifestCheck(software: SoftwareOptions, vendorKeys: Jwks | JwksSource, log: Logger = silentLogger): SoftwareManifestCheck {
  const allowHttpUrl = softwareAllowList(software.allow ?? []);
  return {
    async check(req, signal) {
      const at = manifestUriOf(req.uri);
      let text: string;
      try {
        if (at.startsWith('file:') && software.fileRoot === undefined) throw new IntegrityError('ERR_SOFTWARE_URI', 'file: URIs are refused without software.file-root');
        const r = await fetchAndDigest(at, {
          signal, allowHttpUrl, keep: true, maxBytes: 64 * 1024, timeoutMs: 30_000,
          ...(software.caPem !== undefined ? { caPem: software.caPem } : {}),
          ...(software.fileRoot !== undefined ? { fileRoot: software.fileRoot } : {}),
        });
        text = (r.bytes ?? Buffer.alloc(0)).toString('utf8');
      } catch (err) {
        if (signal.aborted) throw err;
        log.warn('software manifest not readable', { uri: at, code: (err as { code?: unknown }).code, err });
        throw new SoftwareManifestError('ERR_SOFTWARE_MANIFEST_MISSING', SOFTWARE_MANIFEST_UNREADABLE);
      }
      let m;
      try {
        m = await verifiedManifest(text, vendorKeys);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        log.warn('software manifest refused', { uri: at, code });
        if (code === 'ERR_TOKEN_CLAIMS' || code === 'ERR_TOKEN_EXPIRED' || code === 'ERR_TOKEN_NOT_YET_VALID') {
          throw new SoftwareManifestError('ERR_SOFTWARE_MANIFEST_INVALID', `the software manifest is not valid (${String(code)}): ${(err as Error).message}`);
        }
        throw new SoftwareManifestError('ERR_SOFTWARE_MANIFEST_UNTRUSTED', 'the software manifest is not signed by a configured vendor key');
      }
      if (m.digest !== req.sha256) throw new SoftwareManifestError('ERR_SOFTWARE_MANIFEST_MISMATCH', `the software manifest signs digest ${m.digest}, the image is ${req.sha256}`);
      if (m.component !== req.component) throw new SoftwareManifestError('ERR_SOFTWARE_MANIFEST_MISMATCH', `the software manifest is for component ${m.component}, the update replaces ${req.component}`);
      if (req.version !== undefined && m.version !== req.version) {
        throw new SoftwareManifestError('ERR_SOFTWARE_MANIFEST_MISMATCH', `the software manifest is for version ${m.version}, the update asks for ${req.version}`);
      }
      log.info('software manifest verified', { uri: at, vendor: m.iss, version: m.version, component: m.component });
    },
  };
}

/** the manifest verified with the vendor keys as they are now; an unknown kid looks at the keys once more */
async function verifiedManifest(text: string, keys: Jwks | JwksSource): Promise<SoftwareManifest> {
  if (!('current' in keys)) return verifySoftwareManifest(text, { jwks: keys });
  return verifyWithCurrentKeys(await keys.current(), freshKeys(keys), (jwks) => verifySoftwareManifest(text, { jwks }));
}

/**
 * config policies.require-signed-software and software.vendor-keys: the check, or none when the policy is off. The
 * file is read at start (one that cannot be used fails the start) and followed after (./jwks-files.ts): a vendor key
 * added to it is used from the next manifest on, without a restart.
 */
export async function manifestCheckFromConfig(cfg: OamPluginConfig, software: SoftwareOptions, baseDir: string, log: Logger): Promise<SoftwareManifestCheck | undefined> {
  if (cfg.policies?.['require-signed-software'] !== true) return undefined;
  const file = cfg.software?.['vendor-keys'];
  if (file === undefined) {
    throw new OamConfigError('ERR_OAM_CONFIG', 'plugin config: software.vendor-keys: expected the JWKS file of the vendors\' keys (policies.require-signed-software is on)');
  }
  const path = resolve(baseDir, file);
  let jwks: JwksSource;
  try {
    jwks = await followedJwksFile('software.vendor-keys', path, log);
  } catch (cause) {
    throw new OamConfigError('ERR_OAM_CONFIG', `plugin config: software.vendor-keys: ${path} is not a readable JWKS file with a key`, { cause });
  }
  return createSoftwareManifestCheck(software, jwks, log);
}
