/**
 * The last TPM clock the PVE saw from each TPM-rooted H(e)NB (issue 10): the TPMS_CLOCK_INFO of its last genuine
 * quote (signature by the enrolled AK and the right qualifying data), kept in DATA_DIR/tpm-clock/clocks.json
 * across restarts, with the AK's Name: a device enrolled with another AK (a new TPM) starts a new record.
 * A TPM2_Clear sets the counters back to 0: delete the device's entry then (docs/evidence-formats.md). An appraisal takes the record as it was when it began (`previous`), so that two quotes of
 * one device appraised at once never refuse each other; after a genuine quote the record moves forward only
 * (`record` keeps the later of the two, ordered by resetCount, restartCount, clock).
 *
 * What it gives the appraisal (src/integrity/tpm verifyQuote previousClock): `rebooted` when resetCount or
 * restartCount moved since, and a refusal when they went back, or when the clock went back without a reset
 * or restart (a TPM state restored from an older copy, or a replayed quote).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PveServiceError } from './errors.js';
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
}

const FILE_FORMAT = 'henb-sw-verify-pve-tpm-clocks/1';

/** The later of two clocks of one TPM (resetCount, then restartCount, then clock). */
export function laterClock(a: TpmClock, b: TpmClock): boolean {
  if (a.resetCount !== b.resetCount) return a.resetCount > b.resetCount;
  if (a.restartCount !== b.restartCount) return a.restartCount > b.restartCount;
  return a.clock > b.clock;
}

export async function openTpmClocks(o: { dataDir: string; log: Logger; now?: () => number }): Promise<TpmClocks> {
  const dir = join(o.dataDir, 'tpm-clock');
  const file = join(dir, 'clocks.json');
  const now = o.now ?? Date.now;
  const entries = new Map<string, TpmClockRecord>(Object.entries(await load(file)));
  let queue: Promise<unknown> = Promise.resolve();

  async function save(): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ format: FILE_FORMAT, devices: Object.fromEntries(entries) }, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, file);
  }

  return {
    previous(henbId, akName) {
      const r = entries.get(henbId);
      return r === undefined || r.akName !== akName ? undefined : { resetCount: r.resetCount, restartCount: r.restartCount, clock: r.clock };
    },
    record(henbId, akName, clock) {
      const run = queue.then(async () => {
        const cur = entries.get(henbId);
        if (cur !== undefined && cur.akName === akName && !laterClock(clock, cur)) return;
        entries.set(henbId, { akName, resetCount: clock.resetCount, restartCount: clock.restartCount, clock: clock.clock, seenAt: now() });
        await save().catch((err: unknown) => {
          // the record in memory still protects this run; a restart would forget this one quote
          o.log.warn('the TPM clock record was not written', { file, err });
        });
      });
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

async function load(file: string): Promise<Record<string, TpmClockRecord>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new PveServiceError('ERR_PVE_TPM_CLOCK_FILE', `${file} cannot be read`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new PveServiceError('ERR_PVE_TPM_CLOCK_FILE', `${file} is not JSON: the PVE does not start on a damaged record of TPM clocks`, { cause });
  }
  const d = doc as { format?: unknown; devices?: unknown };
  if (typeof d !== 'object' || d === null || d.format !== FILE_FORMAT || typeof d.devices !== 'object' || d.devices === null) {
    throw new PveServiceError('ERR_PVE_TPM_CLOCK_FILE', `${file} is not a ${FILE_FORMAT} file`);
  }
  const out: Record<string, TpmClockRecord> = {};
  for (const [henbId, r] of Object.entries(d.devices as Record<string, unknown>)) {
    const x = r as Partial<TpmClockRecord> | null;
    if (x === null || typeof x !== 'object' || typeof x.akName !== 'string' || !/^[0-9a-f]+$/.test(x.akName)
      || !isCount(x.resetCount) || !isCount(x.restartCount) || !isCount(x.clock) || !isCount(x.seenAt)) {
      throw new PveServiceError('ERR_PVE_TPM_CLOCK_FILE', `${file}: the record of ${henbId} is not {akName, resetCount, restartCount, clock, seenAt}`);
    }
    out[henbId] = { akName: x.akName, resetCount: x.resetCount, restartCount: x.restartCount, clock: x.clock, seenAt: x.seenAt };
  }
  return out;
}
