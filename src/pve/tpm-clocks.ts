/**
 * The last TPM clock the PVE saw from each TPM-rooted H(e)NB (issue 10): the TPMS_CLOCK_INFO of its last genuine
 * quote (signature by the enrolled AK and the right qualifying data), kept in DATA_DIR/tpm-clock/clocks.json and
 * clocks.journal across restarts (keyed-journal.ts: a quote appends a line, in groups; the journal is folded into
 * clocks.json on open, when it is long, and at the PVE's close), with the AK's Name: a device enrolled with another
 * AK (a new TPM) starts a new record. A TPM2_Clear sets the counters back to 0: delete the device's entry then
 * (docs/evidence-formats.md). An appraisal takes the record as it was when it began (`previous`), so that two quotes
 * of one device appraised at once never refuse each other; after a genuine quote the record moves forward only
 * (`record` keeps the later of the two, ordered by resetCount, restartCount, clock).
 *
 * What it gives the appraisal (src/integrity/tpm verifyQuote previousClock): `rebooted` when resetCount or
 * restartCount moved since, and a refusal when they went back, or when the clock went back without a reset
 * or restart (a TPM state restored from an older copy, or a replayed quote).
 */
import { join } from 'node:path';
import { GroupedRun } from '../grouped-run.js';
import { PveServiceError } from './errors.js';
import { KeyedJournal, readJournal } from './keyed-journal.js';
import type { JournalSpec } from './keyed-journal.js';
import type { Logger } from '../log/logger.js';

export interface TpmClock {
  resetCount: number;
  restartCount: number;
  /** ms the TPM has been running (TPMS_CLOCK_INFO.clock) */
  clock: number;
}

export interface TpmClockRecord extends TpmClock {
  /** the TPM Name (hex) of the AK that signed it: a record applies to that enrolled AK only */
  akName: string;
  /** when the PVE saw it (ms since epoch) */
  seenAt: number;
}

export interface TpmClocks {
  /** the device's last recorded clock under this AK, or undefined before its first quote (or after a re-enrolment) */
  previous(henbId: string, akName: string): TpmClock | undefined;
  /** after a genuine quote: keep it when it is later than the record, or the AK changed (persisted before it resolves) */
  record(henbId: string, akName: string, clock: TpmClock): Promise<void>;
  /** after the last record: the journal folded into clocks.json (what an operator edits while the PVE is stopped) */
  close(): Promise<void>;
}

const FILE_FORMAT = 'henb-sw-verify-pve-tpm-clocks/1';

/** The later of two clocks of one TPM (resetCount, then restartCount, then clock). */
export function laterClock(a: TpmClock, b: TpmClock): boolean {
  if (a.resetCount !== b.resetCount) return a.resetCount > b.resetCount;
  if (a.restartCount !== b.restartCount) return a.restartCount > b.restartCount;
  return a.clock > b.clock;
}

export async function openTpmClocks(o: { dataDir: string; log: Logger; now?: () => number; compactAfter?: number }): Promise<TpmClocks> {
  const dir = join(o.dataDir, 'tpm-clock');
  const now = o.now ?? Date.now;
  const record = await KeyedJournal.open(dir, SPEC, o.compactAfter);
  // one append persists every record made before it started; records made while it runs share the next one
  const saver = new GroupedRun(() => record.write());

  return {
    previous(henbId, akName) {
      const r = record.get(henbId);
      return r === undefined || r.akName !== akName ? undefined : { resetCount: r.resetCount, restartCount: r.restartCount, clock: r.clock };
    },
    async record(henbId, akName, clock) {
      const cur = record.get(henbId);
      if (cur !== undefined && cur.akName === akName && !laterClock(clock, cur)) return;
      record.set(henbId, { akName, resetCount: clock.resetCount, restartCount: clock.restartCount, clock: clock.clock, seenAt: now() });
      await saver.run().catch((err: unknown) => {
        // the record in memory still protects this run; a restart would forget what this write held
        o.log.warn('the TPM clock record was not written', { dir, err });
      });
    },
    async close() {
      await saver.idle();
      await record.fold().catch((err: unknown) => o.log.warn('the TPM clock record was not folded into its snapshot (the journal still holds it)', { dir, err }));
      await record.close();
    },
  };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function recordOf(v: unknown): TpmClockRecord | undefined {
  const x = v as Partial<TpmClockRecord> | null;
  if (x === null || typeof x !== 'object' || typeof x.akName !== 'string' || !/^[0-9a-f]+$/.test(x.akName)
    || !isCount(x.resetCount) || !isCount(x.restartCount) || !isCount(x.clock) || !isCount(x.seenAt)) return undefined;
  return { akName: x.akName, resetCount: x.resetCount, restartCount: x.restartCount, clock: x.clock, seenAt: x.seenAt };
}

/** DATA_DIR/tpm-clock/clocks.json and clocks.journal (keyed-journal.ts) */
const SPEC: JournalSpec<TpmClockRecord> = {
  snapshot: 'clocks.json',
  journal: 'clocks.journal',
  format: FILE_FORMAT,
  field: 'devices',
  entryName: 'TPM clock record {akName, resetCount, restartCount, clock, seenAt}',
  recordName: 'record of TPM clocks',
  entryOf: (_key, v) => recordOf(v),
  damaged: (message, cause) => new PveServiceError('ERR_PVE_TPM_CLOCK_FILE', message, cause !== undefined ? { cause } : undefined),
};

/** Read the record in `dataDir` (snapshot, then journal) as the PVE does when it starts; nothing is written. */
export async function readTpmClocks(dataDir: string): Promise<Record<string, TpmClockRecord>> {
  return (await readJournal(join(dataDir, 'tpm-clock'), SPEC)).entries;
}
