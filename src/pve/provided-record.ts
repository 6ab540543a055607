/**
 * The PVE's record of provided reference values on disk (src/pve/provided.ts keeps it): a snapshot and a journal.
 *
 *   DATA_DIR/reference-values/provided.json      {"format": FILE_FORMAT, "henbs": {henb-id: entry}}, written atomically
 *   DATA_DIR/reference-values/provided.journal   one line per accepted statement since that snapshot:
 *                                                {"henb": henb-id, "entry": entry}
 *
 * Why a journal: the record was the whole file, rewritten for each group of statements. For a fleet that is O(n^2)
 * bytes (at 1,000 devices the bench's PVE spent 6% of its process's CPU writing it, 3.8 s; at 10,000 the file is
 * ~4 MB per write). Now a group of statements is one append of its own lines, and the snapshot is rewritten only
 * when the journal holds as many lines as the snapshot has H(e)NBs (at least 1,024): O(1) bytes per statement.
 *
 * Reading: the snapshot, then the journal's lines in order (a later line replaces an H(e)NB's entry). A last line
 * without its newline is an append cut short: its statement's accept never resolved, and it is ignored; any other
 * line that is not an entry means a damaged record (ProvidedFileError: the PVE does not start on it). On open, a
 * journal with lines is folded into a new snapshot (which also drops a cut-short line).
 *
 * Crash safety of a compaction: the snapshot written holds exactly what the journal held (not statements accepted
 * since, which are not journalled yet), so a crash after the snapshot's rename and before the journal is emptied
 * leaves lines that replay to the same entries.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HsvError } from '../errors.js';
import type { ReferenceValue } from '../tokens/index.js';

/** the PVE's record of provided reference values is damaged: the PVE does not start on it */
export class ProvidedFileError extends HsvError<'ERR_PVE_PROVIDED_FILE'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PVE_PROVIDED_FILE', message, options);
  }
}

/** one H(e)NB's accepted statement */
export interface ProvidedEntry {
  iat: number;
  jti: string;
  jobId: string;
  values: ReferenceValue[];
  /** ms since the epoch */
  acceptedAt: number;
}

const FILE_FORMAT = 'henb-sw-verify-provided-reference-values/1';
export const JOURNAL_FILE = 'provided.journal';
const MIN_COMPACT_LINES = 1024;

/** Read the record in `dir` (snapshot, then journal) as the PVE does when it starts; nothing is written. */
export async function readProvidedRecord(dir: string): Promise<{ henbs: Record<string, ProvidedEntry>; journalLines: number }> {
  const henbs = await loadSnapshot(join(dir, 'provided.json'));
  const journal = join(dir, JOURNAL_FILE);
  const text = await readIfPresent(journal);
  let journalLines = 0;
  if (text !== undefined) {
    const lines = text.split('\n');
    lines.pop(); // '' after the last newline, or an append cut short
    for (const [i, line] of lines.entries()) {
      const rec = parseLine(line);
      if (rec === undefined) throw new ProvidedFileError(`${journal} line ${i + 1} is not a provided-reference-values entry: the PVE does not start on a damaged record`);
      henbs[rec.henb] = rec.entry;
      journalLines++;
    }
  }
  return { henbs, journalLines };
}

/** The record of `dir`, open: its entries (the map the PVE updates) and the group write that persists them. */
export class ProvidedRecord {
  /** per H(e)NB, the entry object last written to the journal or the snapshot */
  private readonly written: Map<string, ProvidedEntry>;
  private journalLines = 0;

  private constructor(
    private readonly dir: string,
    readonly entries: Map<string, ProvidedEntry>,
    private readonly compactAfter: number,
  ) {
    this.written = new Map(entries);
  }

  /** `compactAfter`: the snapshot is rewritten when the journal holds max(this, H(e)NBs) lines (tests lower it) */
  static async open(dir: string, compactAfter = MIN_COMPACT_LINES): Promise<ProvidedRecord> {
    const { henbs, journalLines } = await readProvidedRecord(dir);
    const record = new ProvidedRecord(dir, new Map(Object.entries(henbs)), compactAfter);
    if (journalLines > 0) await record.compact();
    return record;
  }

  /**
   * Persist every entry changed since the last write (an entry object not yet written): one append to the journal,
   * then a new snapshot when the journal is long. One write at a time (the caller groups them).
   */
  async write(): Promise<void> {
    const changed: Array<[string, ProvidedEntry]> = [];
    for (const [henb, entry] of this.entries) if (this.written.get(henb) !== entry) changed.push([henb, entry]);
    if (changed.length === 0) return;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await appendFile(join(this.dir, JOURNAL_FILE), changed.map(([henb, entry]) => JSON.stringify({ henb, entry }) + '\n').join(''), { mode: 0o600 });
    for (const [henb, entry] of changed) this.written.set(henb, entry);
    this.journalLines += changed.length;
    if (this.journalLines >= Math.max(this.compactAfter, this.written.size)) await this.compact();
  }

  /** a snapshot of what is written (journal included), then an empty journal */
  private async compact(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, 'provided.json');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ format: FILE_FORMAT, henbs: Object.fromEntries(this.written) }) + '\n', { mode: 0o600 });
    await rename(tmp, file);
    await writeFile(join(this.dir, JOURNAL_FILE), '', { mode: 0o600 });
    this.journalLines = 0;
  }
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function loadSnapshot(file: string): Promise<Record<string, ProvidedEntry>> {
  const text = await readIfPresent(file);
  if (text === undefined) return {};
  let doc: { format?: unknown; henbs?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (cause) {
    throw new ProvidedFileError(`${file} is not JSON: the PVE does not start on a damaged record of provided reference values`, { cause });
  }
  if (doc.format !== FILE_FORMAT || typeof doc.henbs !== 'object' || doc.henbs === null || Array.isArray(doc.henbs)) {
    throw new ProvidedFileError(`${file} is not a ${FILE_FORMAT} file`);
  }
  return doc.henbs as Record<string, ProvidedEntry>;
}

function parseLine(line: string): { henb: string; entry: ProvidedEntry } | undefined {
  let rec: { henb?: unknown; entry?: unknown };
  try {
    rec = JSON.parse(line) as typeof rec;
  } catch {
    return undefined;
  }
  if (typeof rec !== 'object' || rec === null || typeof rec.henb !== 'string' || typeof rec.entry !== 'object' || rec.entry === null || Array.isArray(rec.entry)) return undefined;
  return { henb: rec.henb, entry: rec.entry as ProvidedEntry };
}
