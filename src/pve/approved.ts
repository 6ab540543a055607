/**
 * Approved software as reference values: the operator (Reference Value Provider) publishes the images it
 * approves in files or directories; their SHA-256 digests are accepted for the component a software update
 * replaces (rootfs in the simulator's model). The paths are listed on every request (a stat each, a readdir per
 * directory: an image added or removed counts at once); each file's digest is kept until the file changes
 * (src/file-cache.ts: dev, inode, size, mtime, ctime), so a request hashes only what changed, an image replaced by a
 * rename onto its name is hashed again even with the same size and mtime, and requests at once share one hash.
 * A missing path contributes nothing (it is logged by the caller).
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FileCache } from '../file-cache.js';

export interface ApprovedSoftware {
  /** the digests of every regular file under the paths (one level of directory), hex */
  digests(): Promise<string[]>;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function approvedSoftware(paths: string[], onError: (path: string, err: unknown) => void = () => undefined): ApprovedSoftware {
  const cache = new FileCache<string>(async (f, st) => {
    if (!st.isFile()) throw new Error(`${f} is not a regular file`);
    return sha256File(f);
  });
  return {
    async digests() {
      const files: string[] = [];
      for (const p of paths) {
        try {
          const st = await stat(p);
          if (st.isFile()) files.push(p);
          else if (st.isDirectory()) {
            for (const e of await readdir(p, { withFileTypes: true })) if (e.isFile()) files.push(join(p, e.name));
          }
        } catch (e) {
          onError(p, e);
        }
      }
      const out = new Set<string>();
      for (const f of files) {
        try {
          out.add(await cache.get(f));
        } catch (e) {
          onError(f, e);
        }
      }
      return [...out];
    },
  };
}
