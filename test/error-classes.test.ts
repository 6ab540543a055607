/**
 * Errors carry typed codes (docs/errors.md): every error class names its codes as a union (HsvError<Code>), no
 * code is thrown through the bare base class, and callers never match codes by pattern (regex or prefix):
 * they compare with ===, look codes up in typed tables, or use the port helpers (pveFailureKind, deviceRefused).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../src');
const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
});
const sources = files(SRC).map((f) => ({ file: relative(SRC, f), text: readFileSync(f, 'utf8') }));

/** `file: line` for each line of src/ that matches */
function hits(re: RegExp): string[] {
  return sources.flatMap(({ file, text }) => text.split('\n').flatMap((line, i) => (re.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
}

/** Errors that never leave their module (control flow inside a parser or a walk): no code, by design. */
const INTERNAL = [
  'class StopEdit extends Error', // edit-config's walk: stop-on-error
  'class All extends Error', // XPath reach analysis: "any node"
  'class MalformedTpm extends Error', // TPM parsers: caught by the public functions, which return { ok: false, reason }
  'class RetryExhausted extends Error', // src/retry.ts: caught by each caller, which throws its own coded error
];

describe('error classes', () => {
  it('every subclass of HsvError names its code union', () => {
    expect(hits(/class \w+ extends HsvError(?!<)/)).toEqual([]);
  });

  it('no code is thrown through the bare HsvError (each layer has its class)', () => {
    expect(hits(/new HsvError\(/)).toEqual([]);
  });

  it('no error class without a code, except the internal ones', () => {
    expect(hits(/class \w+ extends Error\b/).filter((h) => !INTERNAL.some((i) => h.includes(i)))).toEqual([]);
  });

  it('codes are never matched by pattern', () => {
    // a regex tested against a code, or a code's prefix or suffix
    expect(hits(/\.test\((err|e|error|cause)?\.?code\b|\.test\(errorCode\(|code\??\.(startsWith|endsWith)\('ERR_|\/\^?ERR_[^/]*\//)).toEqual([]);
  });

  it('the rules above see what they forbid', () => {
    const planted = ['class X extends HsvError {', "throw new HsvError('ERR_X', 'x')", "if (/TIMEOUT/.test(code))", "code.startsWith('ERR_TOKEN_')"];
    expect(/class \w+ extends HsvError(?!<)/.test(planted[0]!)).toBe(true);
    expect(/new HsvError\(/.test(planted[1]!)).toBe(true);
    expect(/\.test\((err|e|error|cause)?\.?code\b|\.test\(errorCode\(|code\??\.(startsWith|endsWith)\('ERR_|\/\^?ERR_[^/]*\//.test(planted[2]!)).toBe(true);
    expect(/\.test\((err|e|error|cause)?\.?code\b|\.test\(errorCode\(|code\??\.(startsWith|endsWith)\('ERR_|\/\^?ERR_[^/]*\//.test(planted[3]!)).toBe(true);
  });
});
