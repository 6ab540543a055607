/**
 * The one error base of the package. Callers switch on `code`, never on message text
 * (the catalogue of codes is docs/errors.md; a test checks every code used is listed there).
 */
export class HsvError<C extends string = string> extends Error {
  /** each subclass names its codes as a union type (e.g. OamErrorCode); callers compare with === */
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A bad command line: unknown command or option, missing or malformed value (exit code 2). Here, not in src/cli,
 * because the simulator's `simulate` command (src/simulator/cli.ts) raises it too; src/cli/errors.ts names it
 * CliUsageError.
 */
export class UsageError extends HsvError<'ERR_CLI_USAGE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CLI_USAGE', message, options);
  }
}

/** The stable code of an error (any `code` string, ours or Node's), or ERR_UNEXPECTED. */
export function errorCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'ERR_UNEXPECTED';
}
