import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readIfPresent } from '../../src/pve/read-if-present.js';

describe('readIfPresent (the PVE records on disk)', () => {
  let dir = '';
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the text of a file, undefined for a missing one, and any other failure thrown as it is', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-read-'));
    await writeFile(join(dir, 'a'), 'text\n');
    expect(await readIfPresent(join(dir, 'a'))).toBe('text\n');
    expect(await readIfPresent(join(dir, 'missing'))).toBeUndefined();
    await expect(readIfPresent(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
