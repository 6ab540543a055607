/**
 * The nonces of relayed evidence the PVE has appraised (NonceMemory): in the background-check model (RFC 9334) the
 * requester chooses the nonce the H(e)NB signed over, so the PVE refuses a nonce-value it has seen already for that
 * H(e)NB (a replay of a request, or of evidence, to the PVE). Remembered for a window (default one hour), at most
 * `max` of them (the oldest forgotten first): memory that does not grow with time. A nonce is remembered when its
 * request is accepted for appraisal, before anything else is done with it, so that two concurrent requests with one
 * nonce cannot both be appraised. The requester's own rules (a nonce per job, single use, the token's eat_nonce
 * checked against it) stay the main defence; this is the PVE's.
 *
 * Kept across restarts when opened with openNonceMemory (the PVE service does): each remembered nonce is appended to
 * DATA_DIR/nonces/relayed.journal as {"h": henb-id, "n": nonce, "u": until} (appends made at once share one write),
 * and `persisted()` resolves once what was claimed so far is written: the appraisal awaits it before it signs, so a
 * restart cannot make an appraised nonce fresh again within its window. On open, the lines still within their window
 * are remembered again (a last line cut short by a crash is ignored; any other damaged line stops the start:
 * ERR_PVE_NONCE_FILE); the file is rewritten with only the live ones when it holds more than twice as many lines
 * (at least 1,024).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GroupedRun } from '../grouped-run.js';
import { AppendFile } from './append-file.js';
import { PveServiceError } from './errors.js';
import { readIfPresent } from './read-if-present.js';
import { WindowMap } from './window-map.js';
import type { Logger } from '../log/logger.js';

export interface NonceMemoryOptions {
  /** how long a nonce is remembered, ms */
  windowMs: number;
  /** the most nonces remembered */
  max: number;
  now?: () => number;
  /** where claims are kept across restarts (openNonceMemory): made once, given the memory's live nonces */
  journal?: (live: ReadonlyMap<string, number>) => NonceJournal;
}

export class NonceMemory {
  /** henb-id NUL nonce -> until when it is remembered */
  private readonly seen: WindowMap<number>;
  private readonly now: () => number;
  private readonly journal: NonceJournal | undefined;

  constructor(private readonly o: NonceMemoryOptions) {
    this.seen = new WindowMap<number>('NonceMemory', o.windowMs, o.max, (until) => until);
    this.now = o.now ?? Date.now;
    this.journal = o.journal?.(this.seen.live);
  }

  /** how many nonces are remembered now */
  get size(): number {
    return this.seen.size;
  }

  /** true: the nonce is fresh for this H(e)NB, and remembered from now on; false: it was seen within the window */
  claim(henbId: string, nonce: string): boolean {
    const t = this.now();
    this.seen.expire(t);
    const key = `${henbId}\0${nonce}`;
    if (this.seen.has(key)) return false;
    this.remember(key, t + this.o.windowMs);
    this.journal?.add(henbId, nonce, t + this.o.windowMs);
    return true;
  }

  /** resolves once every nonce claimed so far is on disk (at once without a journal); a failed write is logged */
  persisted(): Promise<void> {
    return this.journal?.flush() ?? Promise.resolve();
  }

  /** after the last claim: what was claimed is written, and the journal's file is closed */
  async close(): Promise<void> {
    await this.journal?.close();
  }

  /** remember `key` until `until` (a claim, or a line read back at start) */
  remember(key: string, until: number): void {
    this.seen.set(key, until);
  }
}

const MIN_REWRITE_LINES = 1024;

/** The file behind a NonceMemory: appends in groups, rewritten with the live nonces when it is mostly expired. */
export class NonceJournal {
  private pending: string[] = [];
  private readonly writer = new GroupedRun(() => this.write());
  /** kept open between appends (append-file.ts) */
  private readonly appends: AppendFile;

  /** `lines`: how many the file holds now; `live`: the memory's nonces (henb-id NUL nonce -> until), read when rewriting */
  constructor(private readonly file: string, private readonly log: Logger, private lines: number, private readonly live: ReadonlyMap<string, number>) {
    this.appends = new AppendFile(file);
  }

  add(henbId: string, nonce: string, until: number): void {
    this.pending.push(JSON.stringify({ h: henbId, n: nonce, u: until }) + '\n');
  }

  flush(): Promise<void> {
    if (this.pending.length === 0 && !this.writer.busy) return Promise.resolve();
    return this.writer.run().catch((err: unknown) => {
      // the memory still refuses the nonce in this run; a restart would forget what this write held
      this.log.warn('the relayed nonces were not written', { file: this.file, err });
    });
  }

  async close(): Promise<void> {
    await this.flush();
    await this.appends.close();
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const live = this.live;
    if (this.lines + batch.length > Math.max(MIN_REWRITE_LINES, 2 * live.size)) {
      await mkdir(join(this.file, '..'), { recursive: true, mode: 0o700 }); // (once per rewrite: O(1) per claim)
      // mostly expired or forgotten lines: the live nonces alone (they include this batch's)
      const text = [...live].map(([key, until]) => {
        const at = key.indexOf('\0');
        return JSON.stringify({ h: key.slice(0, at), n: key.slice(at + 1), u: until }) + '\n';
      }).join('');
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.file);
      // a new file at the path: the next append opens it
      await this.appends.reopen();
      this.lines = live.size;
      return;
    }
    await this.appends.append(batch.join(''));
    this.lines += batch.length;
  }
}

/** A NonceMemory kept in DATA_DIR/nonces/relayed.journal: the nonces still within their window remembered again. */
export async function openNonceMemory(o: NonceMemoryOptions & { dataDir: string; log: Logger }): Promise<NonceMemory> {
  const file = join(o.dataDir, 'nonces', 'relayed.journal');
  let text: string | undefined;
  try {
    text = await readIfPresent(file);
  } catch (err) {
    throw new PveServiceError('ERR_PVE_NONCE_FILE', `${file} cannot be read`, { cause: err });
  }
  const lines = (text ?? '').split('\n');
  lines.pop(); // '' after the last newline, or an append cut short
  const memory = new NonceMemory({ ...o, journal: (live) => new NonceJournal(file, o.log, lines.length, live) });
  const t = (o.now ?? Date.now)();
  for (const [i, line] of lines.entries()) {
    const rec = nonceLine(line);
    if (rec === undefined) throw new PveServiceError('ERR_PVE_NONCE_FILE', `${file} line ${i + 1} is not {h, n, u}: the PVE does not start on a damaged record of relayed nonces`);
    if (rec.u > t) memory.remember(`${rec.h}\0${rec.n}`, rec.u);
  }
  return memory;
}

function nonceLine(line: string): { h: string; n: string; u: number } | undefined {
  let r: { h?: unknown; n?: unknown; u?: unknown };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null || typeof r.h !== 'string' || typeof r.n !== 'string' || typeof r.u !== 'number' || !Number.isSafeInteger(r.u)) return undefined;
  return { h: r.h, n: r.n, u: r.u };
}
