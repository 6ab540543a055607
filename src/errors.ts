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

/**
 * An error made without capturing a stack: for a reason that only says why (an AbortSignal's reason on a normal path,
 * e.g. a job's step that ended), where the stack, which V8 captures at construction (5-10 us), would say nothing.
 */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The stable code of an error (any `code` string, ours or Node's), or ERR_UNEXPECTED. */
export function errorCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'ERR_UNEXPECTED';
}
