/**
 * The file a PVE record appends its lines to (keyed-journal.ts's journals, nonce-memory.ts's relayed nonces), kept
 * open between appends. Per append this costs one write: no mkdir of the directory (made before the first append,
 * and again only when opening the file finds it gone: ENOENT) and no open and close of the file. The three were
 * ~3.4 s of the PVE's CPU in a 10,000-device run (issue 15).
 *
 * What an append guarantees is what appendFile gave: the text is handed to the OS in full (written, not fsync'ed)
 * before it resolves, so it survives the PVE process's end but not the machine's; a text cut short by a crash is a
 * last line without its newline, which the records' readers ignore. The file is opened with O_APPEND, so every
 * append goes to its end as it is then: an owner that empties the file in place (keyed-journal.ts's compaction:
 * writeFile(path, '')) keeps appending to it. An owner that replaces the file (a rename onto its path, as
 * nonce-memory.ts's rewrite does) calls `reopen()` after, so that the next append opens the new file. The record's
 * files belong to the running PVE: a file removed or replaced behind its back while it runs is not noticed (the
 * appends go on to the open file), as its snapshot's removal would not be; operators edit them while it is stopped.
 * A failed append closes the file: the next one opens it again (and makes the directory if it is gone).
 */
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export class AppendFile {
  private handle: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private dirMade = false;

  constructor(readonly path: string) {}

  /** append `text` (one append at a time: the owners group them) */
  async append(text: string): Promise<void> {
    const h = this.handle ?? await (this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    }));
    try {
      await h.appendFile(text);
    } catch (err) {
      await this.reopen();
      throw err;
    }
  }

  /** the directory, made now (before a file is written beside the journal) unless it was made already */
  async makeDir(): Promise<void> {
    if (this.dirMade) return;
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    this.dirMade = true;
  }

  /** close the file if it is open: the next append opens the file at the path (after the owner replaced it) */
  async reopen(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
  }

  /** close the file (the owner's close); an append after it opens it again */
  close(): Promise<void> {
    return this.reopen();
  }

  private async open(): Promise<FileHandle> {
    await this.makeDir();
    let h: FileHandle;
    try {
      h = await open(this.path, 'a', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // the directory was removed since it was made
      this.dirMade = false;
      await this.makeDir();
      h = await open(this.path, 'a', 0o600);
    }
    this.handle = h;
    return h;
  }
}
