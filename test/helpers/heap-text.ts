/**
 * Whether the process's heap holds a given text: a V8 heap snapshot (node:v8 getHeapSnapshot takes it after a full
 * GC) read as it streams, its string table matched against a pattern. The memory tests use it to show that nothing of
 * a parsed message or file outlives its handling (a V8 sliced string keeps its whole parent alive).
 */
import { getHeapSnapshot } from 'node:v8';

/**
 * A pattern for one string of the heap holding `a` and, further on (within 4,000 characters), `b`. Their first
 * characters are written as classes, so the pattern's own source (a string in this heap too) does not match itself.
 * The snapshot holds its strings as JSON text (markers without quotes, backslashes or control characters), and a
 * cons string (a concatenation not yet flattened) as its parts: the texts looked for are flat ones.
 */
export function textWith(a: string, b: string): RegExp {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const cls = (c: string): string => `[${c === ']' || c === '\\' || c === '^' ? `\\${c}` : c}]`;
  return new RegExp(`${cls(a[0]!)}${esc(a.slice(1))}(?:[^"\\\\]|\\\\.){0,4000}${cls(b[0]!)}${esc(b.slice(1))}`);
}

/** whether a string of the heap matches `re` (see textWith) */
export async function heapHolds(re: RegExp): Promise<boolean> {
  // V8 keeps the subject of the last regular expression run (RegExp.input, one string for the process): a run on a
  // fresh string replaces it first, so the last message parsed does not count as held
  /x/.test(`x${Date.now()}`);
  let tail = '';
  for await (const chunk of getHeapSnapshot()) {
    const text = tail + (chunk as Buffer | string).toString();
    if (re.test(text)) return true;
    tail = text.slice(-8192);
  }
  return false;
}
