/**
 * The PVE's record of provided reference values on disk (src/pve/provided.ts keeps it): a snapshot and a journal
 * (keyed-journal.ts says how they are written, read and folded).
 *
 *   DATA_DIR/reference-values/provided.json      {"format": FILE_FORMAT, "henbs": {henb-id: entry}}
 *   DATA_DIR/reference-values/provided.journal   one line per accepted statement since that snapshot:
 *                                                {"henb": henb-id, "entry": entry}
 *
 * Why a journal: the record was the whole file, rewritten for each group of statements. For a fleet that is O(n^2)
 * bytes (at 1,000 devices the bench's PVE spent 6% of its process's CPU writing it, 3.8 s; at 10,000 the file is
 * ~4 MB per write). Now a group of statements is one append of its own lines.
 */
import { HsvError } from '../errors.js';
import type { ReferenceValue } from '../tokens/index.js';
import { KeyedJournal, MIN_COMPACT_LINES, readJournal } from './keyed-journal.js';
import type { JournalSpec } from './keyed-journal.js';

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

export const JOURNAL_FILE = 'provided.journal';

const SPEC: JournalSpec<ProvidedEntry> = {
  snapshot: 'provided.json',
  journal: JOURNAL_FILE,
  format: 'henb-sw-verify-provided-reference-values/1',
  field: 'henbs',
  entryName: 'provided-reference-values entry',
  recordName: 'record of provided reference values',
  entryOf: (_key, v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as ProvidedEntry : undefined),
  damaged: (message, cause) => new ProvidedFileError(message, cause !== undefined ? { cause } : undefined),
};

/** Read the record in `dir` (snapshot, then journal) as the PVE does when it starts; nothing is written. */
export async function readProvidedRecord(dir: string): Promise<{ henbs: Record<string, ProvidedEntry>; journalLines: number }> {
  const { entries, journalLines } = await readJournal(dir, SPEC);
  return { henbs: entries, journalLines };
}

/** The record of `dir`, open: its entries (the map the PVE updates) and the write that persists them. */
export const ProvidedRecord = {
  /** `compactAfter`: the snapshot is rewritten when the journal holds max(this, H(e)NBs) lines (tests lower it) */
  open: (dir: string, compactAfter = MIN_COMPACT_LINES): Promise<KeyedJournal<ProvidedEntry>> => KeyedJournal.open(dir, SPEC, compactAfter),
};
