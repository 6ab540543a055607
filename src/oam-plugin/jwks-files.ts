/**
 * The JWKS files of the OAM's configuration that other parties rewrite while the OAM runs: pve.jwks (the PVE rotates
 * its key) and software.vendor-keys (a vendor adds a signing key). Both follow one rule (src/tokens JwksFile): read at
 * start (a file that cannot be used fails the start), then stat'ed at most once a second (at once for a token whose
 * key it does not list) and read again when it changed; a change that cannot be used (removed, unreadable, not a
 * JWKS, no key) keeps the last good key set, is logged once per change (the file, the reason, the error and the kids
 * kept) and counted in hsv_jwks_file_errors_total{file, reason} (file: the config key).
 */
import type { Logger } from '../log/logger.js';
import { metrics } from '../metrics/index.js';
import { JwksFile } from '../tokens/index.js';

/** the config key of a followed JWKS file (the metric's file label) and what its keys verify (the warning's text) */
export type FollowedJwksFile = 'pve.jwks' | 'software.vendor-keys';

const VERIFIES: Record<FollowedJwksFile, string> = {
  'pve.jwks': 'the PVE\'s JWKS file changed and cannot be used: PVE tokens are verified with the last good key set',
  'software.vendor-keys': 'the vendors\' JWKS file (software.vendor-keys) changed and cannot be used: software manifests are verified with the last good key set',
};

/** The JWKS file of config `key`, read once now (throws ERR_TOKEN_JWKS when it cannot be used) and followed after. */
export async function followedJwksFile(key: FollowedJwksFile, file: string, log: Logger): Promise<JwksFile> {
  const jwks = new JwksFile(file, {
    onProblem: ({ reason, error, kept }) => {
      metrics.jwksFileErrors.inc({ file: key, reason });
      log.warn(VERIFIES[key], { file, reason, err: error, keptKids: kept.keys.map((k) => k.kid) });
    },
  });
  await jwks.current();
  return jwks;
}
