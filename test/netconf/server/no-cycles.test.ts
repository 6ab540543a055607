/**
 * Issue 9: the files of src/netconf/server import each other without cycles (type imports included):
 * shared parameter checks live in params.ts, kill-session has one implementation (base-ops.ts).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const DIR = resolve(import.meta.dirname, '../../../src/netconf/server');

function importsWithin(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.\/[^']+)'/g)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out;
}

/** every cycle found by a depth-first walk, as file names joined by ' -> ' */
function cyclesOf(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d].join(' -> '));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

describe('src/netconf/server: no file cycles', () => {
  it('finds a planted cycle', () => {
    expect(cyclesOf(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a -> b -> c -> a']);
  });

  it('has none', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.ts')).map((f) => join(DIR, f));
    const graph = new Map(files.map((f) => [relative(DIR, f), importsWithin(f).map((t) => relative(DIR, t))]));
    expect(cyclesOf(graph)).toEqual([]);
  });

  it('defines createKillSession once', () => {
    const defs = readdirSync(DIR).filter((f) => /export function createKillSession\b/.test(readFileSync(join(DIR, f), 'utf8')));
    expect(defs).toEqual(['base-ops.ts']);
  });
});
