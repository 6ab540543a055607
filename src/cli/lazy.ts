/**
 * Components are imported when a command needs them (so `--help` stays fast and a missing optional
 * component fails only the command that needs it, with ERR_CLI_NOT_AVAILABLE, never a stub).
 */
import { CliNotAvailableError } from './errors.js';

/**
 * import `spec` (relative to THIS file, src/cli/), failing with ERR_CLI_NOT_AVAILABLE when that module
 * itself is absent; any other failure (a bug inside it) propagates unchanged.
 */
export async function importComponent<T>(spec: string, what: string, exportName?: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const base = spec.replace(/^.*\//, '').replace(/\.js$/, '');
    const missingItself = String((err as Error).message).includes(base);
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && missingItself) throw new CliNotAvailableError(what, { cause: err });
    throw err;
  }
  if (exportName !== undefined && typeof mod[exportName] !== 'function') {
    throw new CliNotAvailableError(`${what} (${exportName})`);
  }
  return mod as T;
}
