/**
 * Exit codes of `henb-sw-verify`, stable for scripts (also printed by `henb-sw-verify --help` and
 * listed in docs/operator-guide.md).
 */
import { HsvError } from '../errors.js';

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

const USAGE_PREFIXES = ['ERR_CLI_USAGE', 'ERR_ROLLOUT_SOFTWARE', 'ERR_CONFIG_', 'ERR_PLUGIN_MANIFEST', 'ERR_PLUGIN_HOST_VERSION', 'ERR_PLUGIN_CONFIG', 'ERR_PLUGIN_REQUIRES', 'ERR_PLUGIN_LOAD'];

/** The exit code for an error that ended a command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof HsvError || (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string')) {
    const code = (err as { code: string }).code;
    if (USAGE_PREFIXES.some((p) => code.startsWith(p))) return EXIT.USAGE;
    // a plugin that refused its configuration during activate (e.g. ERR_OAM_CONFIG) is a configuration error
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (code === 'ERR_PLUGIN_ACTIVATE' && typeof cause?.code === 'string' && cause.code.endsWith('_CONFIG')) return EXIT.USAGE;
    // a JWKS file that is missing or not a JWKS is bad input to the command, not a token that failed
    if (code === 'ERR_TOKEN_JWKS') return EXIT.USAGE;
    if (code.startsWith('ERR_TOKEN_')) return EXIT.FAILED;
    return EXIT.UNAVAILABLE;
  }
  return EXIT.UNAVAILABLE;
}
