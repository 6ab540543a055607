/**
 * node:fs with createReadStream counted: how often a file is opened to be read whole (an image hashed, for one).
 * For a vi.mock factory (vi.mock runs only in the test file itself):
 *
 *   const opened = vi.hoisted(() => ({ n: 0 }));
 *   vi.mock('node:fs', async (importOriginal) =>
 *     (await import('../helpers/counted-reads.js')).countReadStreams(await importOriginal(), opened));
 *
 * then the code under test reads with the counted createReadStream.
 */
import type * as Fs from 'node:fs';

export function countReadStreams(fs: typeof Fs, opened: { n: number }): typeof Fs {
  return {
    ...fs,
    createReadStream: ((...a: Parameters<typeof fs.createReadStream>) => {
      opened.n++;
      return fs.createReadStream(...a);
    }) as typeof fs.createReadStream,
  };
}
