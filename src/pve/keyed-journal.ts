/**
 * A record of one entry per key (an H(e)NB) on disk, as a snapshot and a journal, for the PVE's records that change
 * one H(e)NB at a time: the provided reference values (provided-record.ts) and the last TPM clock of each device
 * (tpm-clocks.ts).
 *
 *   DIR/<snapshot>   {"format": FORMAT, "<field>": {key: entry}}, written atomically (temporary file, then rename)
 *   DIR/<journal>    one line per entry written since that snapshot: {"henb": key, "entry": entry}
 *
 * Why a journal: rewriting the whole record for each change is O(n^2) bytes for a fleet (the TPM clocks of 3,000
 * devices, each quote rewriting the file: 18 s of CPU; the provided values at 1,000 devices: 6% of the bench PVE's
 * CPU). A write is one append of the entries changed (`set`) since the last one, and the snapshot is rewritten only
 * when the journal holds as many lines as the snapshot has keys (at least `compactAfter`): O(1) bytes per change,
 * and O(1) work: `set` marks the key, the write takes the marked keys (no scan of the record), and the journal's
 * file stays open between writes (append-file.ts).
 *
 * Reading: the snapshot, then the journal's lines in order (a later line replaces the key's entry). A last line
 * without its newline is an append cut short: its write never resolved, and it is ignored; any other line that is
 * not an entry means a damaged record (the spec's `damaged` error: the PVE does not start on it). On open, and by
 * `fold()` (the PVE's close), a journal with lines is folded into a new snapshot, so that after a clean stop the
 * snapshot alone holds the record (what an operator edits while the PVE is stopped).
 *
 * Crash safety of a compaction: the snapshot written holds exactly what the journal held (not entries changed since,
 * which are not journalled yet), so a crash after the snapshot's rename and before the journal is emptied leaves
 * lines that replay to the same entries.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppendFile } from './append-file.js';
import { readIfPresent } from './read-if-present.js';

/** What one record's files are called and hold. */
export interface JournalSpec<E> {
  /** file names in the record's directory */
  snapshot: string;
  journal: string;
  /** the snapshot's `format` */
  format: string;
  /** the snapshot's member that maps keys to entries */
  field: string;
  /** words for errors: "a <entryName>" (a line), "a damaged <recordName>" */
  entryName: string;
  recordName: string;
  /** the entry `value` read for `key`, or undefined when it is not one */
  entryOf(key: string, value: unknown): E | undefined;
  /** the error that stops the PVE's start on a damaged record */
  damaged(message: string, cause?: unknown): Error;
}

export const MIN_COMPACT_LINES = 1024;

/** Read the record in `dir` (snapshot, then journal) as the PVE does when it starts; nothing is written. */
export async function readJournal<E>(dir: string, spec: JournalSpec<E>): Promise<{ entries: Record<string, E>; journalLines: number }> {
  const entries = await loadSnapshot(join(dir, spec.snapshot), spec);
  const journal = join(dir, spec.journal);
  const text = await readIfPresent(journal);
  let journalLines = 0;
  if (text !== undefined) {
    const lines = text.split('\n');
    lines.pop(); // '' after the last newline, or an append cut short
    for (const [i, line] of lines.entries()) {
      const rec = parseLine(line, spec);
      if (rec === undefined) throw spec.damaged(`${journal} line ${i + 1} is not a ${spec.entryName}: the PVE does not start on a damaged record`);
      entries[rec.key] = rec.entry;
      journalLines++;
    }
  }
  return { entries, journalLines };
}

/**
 * The record of `dir`, open: its entries, read with get/has/values/iteration and changed only with `set`, and the
 * write that persists them. `set` marks its key changed, so a write costs the entries changed since the last one,
 * not the whole record (a scan of every entry per write was O(n^2) for a fleet: 8.4 s of a 10,000-device run's PVE
 * CPU, issue 15). There is no other way to change an entry: no mutable map is handed out, and entries are frozen,
 * so an owner cannot change one without the record knowing (a change it did not know of would never be written).
 */
export class KeyedJournal<E extends object> implements Iterable<[string, E]> {
  /** the owner's view: what `set` made each key */
  private readonly current: Map<string, E>;
  /** per key, the entry last written to the journal or the snapshot */
  private readonly written: Map<string, E>;
  /** keys `set` since the last write began (the write under way took the ones before) */
  private changed = new Set<string>();
  private journalLines = 0;
  /** the journal, kept open between writes (append-file.ts) */
  private readonly journal: AppendFile;

  private constructor(
    private readonly dir: string,
    private readonly spec: JournalSpec<E>,
    entries: Map<string, E>,
    private readonly compactAfter: number,
  ) {
    for (const e of entries.values()) Object.freeze(e);
    this.current = entries;
    this.written = new Map(entries);
    this.journal = new AppendFile(join(dir, spec.journal));
  }

  /** `compactAfter`: the snapshot is rewritten when the journal holds max(this, keys) lines (tests lower it) */
  static async open<E extends object>(dir: string, spec: JournalSpec<E>, compactAfter = MIN_COMPACT_LINES): Promise<KeyedJournal<E>> {
    const { entries, journalLines } = await readJournal(dir, spec);
    const record = new KeyedJournal(dir, spec, new Map(Object.entries(entries)), compactAfter);
    if (journalLines > 0) await record.compact();
    return record;
  }

  get size(): number {
    return this.current.size;
  }

  get(key: string): E | undefined {
    return this.current.get(key);
  }

  has(key: string): boolean {
    return this.current.has(key);
  }

  values(): IterableIterator<E> {
    return this.current.values();
  }

  [Symbol.iterator](): IterableIterator<[string, E]> {
    return this.current.entries();
  }

  /** the key's entry from now on (frozen: replace it with another `set`, never change it); written by the next write */
  set(key: string, entry: E): void {
    this.current.set(key, Object.freeze(entry));
    this.changed.add(key);
  }

  /**
   * Persist every entry `set` since the last write: one append to the journal, then a new snapshot when the journal is
   * long. One write at a time (the caller groups them). A failed append leaves its keys to the next write.
   */
  async write(): Promise<void> {
    if (this.changed.size === 0) return;
    const keys = this.changed;
    this.changed = new Set();
    // the entries as they are now (a key set twice since the last write: its last entry, once)
    const batch: Array<[string, E]> = [];
    for (const key of keys) batch.push([key, this.current.get(key)!]);
    try {
      await this.journal.append(batch.map(([henb, entry]) => JSON.stringify({ henb, entry }) + '\n').join(''));
    } catch (err) {
      for (const key of keys) this.changed.add(key);
      throw err;
    }
    for (const [key, entry] of batch) this.written.set(key, entry);
    this.journalLines += batch.length;
    if (this.journalLines >= Math.max(this.compactAfter, this.written.size)) await this.compact();
  }

  /** what is written, as the snapshot alone (an empty journal); nothing to do when the journal is empty */
  async fold(): Promise<void> {
    if (this.journalLines > 0) await this.compact();
  }

  /** close the journal's file (the owner's close; a write after it opens it again) */
  close(): Promise<void> {
    return this.journal.close();
  }

  /** a snapshot of what is written (journal included), then an empty journal */
  private async compact(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 }); // (once per compaction: O(1) per change)
    const file = join(this.dir, this.spec.snapshot);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ format: this.spec.format, [this.spec.field]: Object.fromEntries(this.written) }) + '\n', { mode: 0o600 });
    await rename(tmp, file);
    // emptied in place: the journal's open file (O_APPEND) appends to it from its new end
    await writeFile(this.journal.path, '', { mode: 0o600 });
    this.journalLines = 0;
  }
}

async function loadSnapshot<E>(file: string, spec: JournalSpec<E>): Promise<Record<string, E>> {
  const text = await readIfPresent(file);
  if (text === undefined) return {};
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (cause) {
    throw spec.damaged(`${file} is not JSON: the PVE does not start on a damaged ${spec.recordName}`, cause);
  }
  const isObject = typeof doc === 'object' && doc !== null;
  const map = isObject ? doc[spec.field] : undefined;
  if (!isObject || doc.format !== spec.format || typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw spec.damaged(`${file} is not a ${spec.format} file`);
  }
  const out: Record<string, E> = {};
  for (const [key, value] of Object.entries(map as Record<string, unknown>)) {
    const entry = spec.entryOf(key, value);
    if (entry === undefined) throw spec.damaged(`${file}: the entry of ${key} is not a ${spec.entryName}: the PVE does not start on a damaged record`);
    out[key] = entry;
  }
  return out;
}

function parseLine<E>(line: string, spec: JournalSpec<E>): { key: string; entry: E } | undefined {
  let rec: { henb?: unknown; entry?: unknown };
  try {
    rec = JSON.parse(line) as typeof rec;
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null || typeof rec.henb !== 'string') return undefined;
  const entry = spec.entryOf(rec.henb, rec.entry);
  return entry === undefined ? undefined : { key: rec.henb, entry };
}
