/**
 * Approved software as reference values: the operator (Reference Value Provider) publishes the images it
 * approves in files or directories; their SHA-256 digests are accepted for the component a software update
 * replaces (rootfs in the simulator's model). Digests are cached by path, size and mtime, so a request
 * re-reads only what changed. A missing path contributes nothing (it is logged by the caller).
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

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
  const cache = new Map<string, { key: string; digest: string }>();
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
          const st = await stat(f);
          const key = `${st.size}:${st.mtimeMs}`;
          let c = cache.get(f);
          if (!c || c.key !== key) {
            c = { key, digest: await sha256File(f) };
            cache.set(f, c);
          }
          out.add(c.digest);
        } catch (e) {
          onError(f, e);
        }
      }
      return [...out];
    },
  };
}
