/**
 * src/errors.js with HsvError counted at its constructor (issue 15: an orderly end makes no error). HsvError is the
 * base of every error of ours (SessionError, DeviceConnectError, NetconfClientError...); each one made pushes
 * "<class> <code>" to `names`. For a vi.mock factory (vi.mock runs only in the test file itself):
 *
 *   const made = vi.hoisted(() => ({ names: [] as string[] }));
 *   vi.mock('../../src/errors.js', async (original) =>
 *     (await import('../helpers/counted-errors.js')).countHsvErrors(await original(), made.names));
 *
 * then import the code under test with `await import(...)`, after the mock.
 */
import type * as Errors from '../../src/errors.js';

export function countHsvErrors(m: typeof Errors, names: string[]): typeof Errors {
  class CountedHsvError<C extends string = string> extends m.HsvError<C> {
    constructor(...args: ConstructorParameters<typeof m.HsvError<C>>) {
      super(...args);
      names.push(`${new.target.name} ${args[0]}`);
    }
  }
  return { ...m, HsvError: CountedHsvError };
}
