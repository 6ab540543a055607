/** The list of H(e)NBs for a rollout: a file (one id per line, `#` comments; or a YAML/JSON list). */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { CliUsageError } from '../errors.js';

const HENB_ID = /^[0-9A-Za-z][-.0-9A-Z_a-z]{0,63}$/;

export function parseHenbList(text: string, source: string): string[] {
  const trimmed = text.trim();
  let ids: unknown[];
  if (trimmed.startsWith('[') || trimmed.startsWith('-')) {
    try {
      const data: unknown = parse(trimmed);
      if (!Array.isArray(data)) throw new Error('not a list');
      ids = data.map((x) => (x !== null && typeof x === 'object' && 'henb-id' in x ? (x as Record<string, unknown>)['henb-id'] : x));
    } catch (err) {
      throw new CliUsageError(`${source}: expected a list of henb-ids (${err instanceof Error ? err.message : String(err)})`);
    }
  } else {
    ids = trimmed.split(/\r?\n/).map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  }
  const seen = new Set<string>();
  const out: string[] = [];
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || !HENB_ID.test(id)) throw new CliUsageError(`${source}: entry ${i + 1}: expected a henb-id ([0-9A-Za-z][-.0-9A-Z_a-z]*, 1..64), got ${JSON.stringify(id)}`);
    if (!seen.has(id)) out.push(id);
    seen.add(id);
  });
  if (out.length === 0) throw new CliUsageError(`${source}: no henb-id in it`);
  return out;
}

export async function readHenbList(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliUsageError(`--henbs: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return parseHenbList(text, file);
}
