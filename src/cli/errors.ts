/** Errors of the command line. Codes are listed in docs/errors.md. */
import { HsvError } from '../errors.js';

/** Bad command line: unknown command or option, missing or malformed value. Exit code 2. (src/errors.ts UsageError) */
export { UsageError as CliUsageError } from '../errors.js';

/**
 * A command (or the part of it it needs) is not available in this build, e.g. a component that is not
 * installed. Never a stub that pretends to work. Exit code 3.
 */
export class CliNotAvailableError extends HsvError<'ERR_CLI_NOT_AVAILABLE'> {
  constructor(what: string, options?: { cause?: unknown }) {
    super('ERR_CLI_NOT_AVAILABLE', `${what} is not available in this build`, options);
  }
}
