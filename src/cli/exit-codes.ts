/**
 * Exit codes of `henb-sw-verify`, stable for scripts (also printed by `henb-sw-verify --help` and
 * listed in docs/operator-guide.md).
 */
import { HsvError } from '../errors.js';
import type { ConfigErrorCode } from '../config/errors.js';
import type { CallHomeErrorCode, DeviceConnectErrorCode } from '../device/index.js';
import type { TlsConfigErrorCode } from '../netconf/tls/index.js';
import type { PveClientErrorCode } from '../oam/index.js';
import type { OamConfigErrorCode } from '../oam-plugin/index.js';
import type { PluginErrorCode } from '../plugin/errors.js';
import type { TokenErrorCode } from '../tokens/index.js';
import type { ServeCheckCode } from './serve-check.js';

export const EXIT = {
  /** the command did what was asked; every device verified / the token verified / the config is valid */
  OK: 0,
  /** the command ran but the outcome is negative: a verification failed, a device was refused, a token is invalid */
  FAILED: 1,
  /** bad command line or bad configuration (nothing was started or changed) */
  USAGE: 2,
  /** a runtime problem: cannot listen, cannot connect, a component is not available */
  UNAVAILABLE: 3,
  /** a rollout stopped because the failure threshold was reached (resume it with --resume) */
  HALTED: 4,
  /** stopped by SIGINT/SIGTERM before it finished (a rollout leaves its report, marked interrupted) */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODE_HELP: ReadonlyArray<[number, string]> = [
  [EXIT.OK, 'success (all verified, token valid, config valid)'],
  [EXIT.FAILED, 'ran, but an outcome is negative (verification failed, refused, token invalid)'],
  [EXIT.USAGE, 'usage or configuration error (nothing was started or changed)'],
  [EXIT.UNAVAILABLE, 'runtime error: cannot listen/connect, component not available'],
  [EXIT.HALTED, 'rollout halted by its failure threshold (resume with --resume)'],
  [EXIT.INTERRUPTED, 'interrupted (SIGINT/SIGTERM) before it finished'],
];

const { FAILED, USAGE, UNAVAILABLE } = EXIT;

/**
 * The exit code of each coded error that is not a runtime problem (UNAVAILABLE), by its class's code union: a
 * union that gains a code does not compile until the code is given its exit code here.
 */
const CONFIG_EXIT: Record<ConfigErrorCode | ServeCheckCode | 'ERR_CONFIG_PVE_DEVICES', ExitCode> = {
  ERR_CONFIG_READ: USAGE, ERR_CONFIG_PARSE: USAGE, ERR_CONFIG_INVALID: USAGE, ERR_CONFIG_SECRET: USAGE,
  ERR_CONFIG_DATA_DIR: USAGE, ERR_CONFIG_FILE: USAGE, ERR_CONFIG_ADDRESS: USAGE, ERR_CONFIG_HOST_KEY: USAGE,
  ERR_CONFIG_PVE_DEVICES: USAGE,
  // a runtime condition such as a port in use, not a mistake in the file
  ERR_SERVE_LISTEN: UNAVAILABLE,
};
const PLUGIN_EXIT: Record<PluginErrorCode, ExitCode> = {
  ERR_PLUGIN_MANIFEST: USAGE, ERR_PLUGIN_HOST_VERSION: USAGE, ERR_PLUGIN_CONFIG: USAGE, ERR_PLUGIN_REQUIRES: USAGE, ERR_PLUGIN_LOAD: USAGE,
  ERR_PLUGIN_DUPLICATE: UNAVAILABLE, ERR_PLUGIN_CONFLICT: UNAVAILABLE, ERR_PLUGIN_UNDECLARED: UNAVAILABLE, ERR_PLUGIN_SEALED: UNAVAILABLE,
  ERR_PLUGIN_SCOPE: UNAVAILABLE, ERR_PLUGIN_CLOSED: UNAVAILABLE, ERR_PLUGIN_ACTIVATE: UNAVAILABLE, ERR_PLUGIN_TIMEOUT: UNAVAILABLE,
  ERR_PLUGIN_CLOSE: UNAVAILABLE,
};
const TOKEN_EXIT: Record<TokenErrorCode, ExitCode> = {
  ERR_TOKEN_MALFORMED: FAILED, ERR_TOKEN_ALG_NOT_ALLOWED: FAILED, ERR_TOKEN_TYP: FAILED, ERR_TOKEN_KEY_UNKNOWN: FAILED,
  ERR_TOKEN_SIGNATURE: FAILED, ERR_TOKEN_CLAIMS: FAILED, ERR_TOKEN_ISSUER: FAILED, ERR_TOKEN_AUDIENCE: FAILED,
  ERR_TOKEN_EXPIRED: FAILED, ERR_TOKEN_NOT_YET_VALID: FAILED, ERR_TOKEN_TOO_OLD: FAILED, ERR_TOKEN_NONCE: FAILED,
  ERR_TOKEN_REPLAY: FAILED, ERR_TOKEN_REPLAY_CACHE_FULL: FAILED, ERR_TOKEN_KEY_STORE: FAILED,
  // a JWKS file that is missing or not a JWKS is bad input to the command, not a token that failed
  ERR_TOKEN_JWKS: USAGE,
};
const OTHER_EXIT: Record<'ERR_CLI_USAGE' | 'ERR_ROLLOUT_SOFTWARE', ExitCode> = {
  ERR_CLI_USAGE: USAGE,
  // the server refused the rollout's --software: nothing was started
  ERR_ROLLOUT_SOFTWARE: USAGE,
};
const EXIT_OF: ReadonlyMap<string, ExitCode> = new Map<string, ExitCode>(
  [CONFIG_EXIT, PLUGIN_EXIT, TOKEN_EXIT, OTHER_EXIT].flatMap((m) => Object.entries(m) as Array<[string, ExitCode]>),
);

/** the configuration checks a plugin's activate may fail (ERR_PLUGIN_ACTIVATE's cause): its own and its ports' */
const PLUGIN_CONFIG_CODES: ReadonlySet<string> = new Set<OamConfigErrorCode | PluginErrorCode | DeviceConnectErrorCode | CallHomeErrorCode | PveClientErrorCode | TlsConfigErrorCode>([
  'ERR_OAM_CONFIG', 'ERR_PLUGIN_CONFIG', 'ERR_DEVICE_CONFIG', 'ERR_CALL_HOME_CONFIG', 'ERR_PVE_CONFIG', 'ERR_TLS_CONFIG',
]);

/** The exit code for an error that ended a command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (!(err instanceof HsvError || (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'))) return UNAVAILABLE;
  const code = (err as { code: string }).code;
  // a plugin that refused its configuration during activate (e.g. ERR_OAM_CONFIG) is a configuration error
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (code === 'ERR_PLUGIN_ACTIVATE' && typeof cause?.code === 'string' && PLUGIN_CONFIG_CODES.has(cause.code)) return USAGE;
  return EXIT_OF.get(code) ?? UNAVAILABLE;
}
