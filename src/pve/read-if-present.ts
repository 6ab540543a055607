/** A file read for the PVE's records on disk (keyed-journal.ts, nonce-memory.ts). */
import { readFile } from 'node:fs/promises';

/** The text of `file`, or undefined when it does not exist; any other failure is thrown as it is. */
export async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
