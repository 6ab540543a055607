/** `--max-failures N` or `P%` (of the devices in the rollout). */
import { CliUsageError } from '../errors.js';

export function parseMaxFailures(text: string | undefined, total: number): number | null {
  if (text === undefined) return null;
  const pct = /^(\d{1,3}(?:\.\d+)?)%$/.exec(text);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 100) throw new CliUsageError(`--max-failures: a percentage must be 0..100%, got '${text}'`);
    return Math.floor((p / 100) * total);
  }
  if (/^\d+$/.test(text)) return Number(text);
  throw new CliUsageError(`--max-failures expects a count (e.g. 2) or a percentage (e.g. 10%), got '${text}'`);
}
