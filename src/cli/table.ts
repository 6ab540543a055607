/** Plain-text tables for results and summaries (colour-safe: widths ignore ANSI sequences). */
import { visibleLength } from './color.js';

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
  /** this column takes the width left over and wraps its text onto more lines (never cut) */
  wrap?: boolean;
}

export interface TableOptions {
  /** the widest a line may be (default 80, a terminal's width); only a `wrap` column gives way */
  maxWidth?: number;
}

/** the narrowest a wrapped column gets, whatever the other columns need */
const MIN_WRAP = 20;

/** Split text into lines of at most `width` characters at spaces; a longer word is broken. Plain text only. */
export function wrapText(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let w = word;
    if (line !== '' && line.length + 1 + w.length <= width) {
      line += ' ' + w;
      continue;
    }
    if (line !== '') out.push(line);
    while (w.length > width) {
      out.push(w.slice(0, width));
      w = w.slice(width);
    }
    line = w;
  }
  if (line !== '' || out.length === 0) out.push(line);
  return out;
}

export function formatTable(columns: Column[], rows: string[][], opts: TableOptions = {}): string {
  const maxWidth = opts.maxWidth ?? 80;
  const widths = columns.map((c, i) => Math.max(visibleLength(c.header), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const wrapAt = columns.findIndex((c) => c.wrap);
  if (wrapAt >= 0) {
    const others = widths.reduce((sum, w, i) => (i === wrapAt ? sum : sum + w), 0) + 2 * (columns.length - 1);
    widths[wrapAt] = Math.min(widths[wrapAt] ?? 0, Math.max(MIN_WRAP, maxWidth - others));
  }
  const pad = (s: string, i: number): string => {
    const fill = ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(s)));
    return columns[i]?.align === 'right' ? fill + s : s + fill;
  };
  const line = (cells: string[]) => cells.map((c, i) => pad(c, i)).join('  ').trimEnd();
  const out = [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows) {
    const cells = columns.map((_, i) => r[i] ?? '');
    if (wrapAt < 0 || visibleLength(cells[wrapAt] ?? '') <= (widths[wrapAt] ?? 0)) {
      out.push(line(cells));
      continue;
    }
    const parts = wrapText(cells[wrapAt] ?? '', widths[wrapAt] ?? MIN_WRAP);
    parts.forEach((p, k) => out.push(line(columns.map((_, i) => (i === wrapAt ? p : k === 0 ? cells[i] ?? '' : '')))));
  }
  return out.join('\n') + '\n';
}
