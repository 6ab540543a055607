/** The four XPath 1.0 types (section 1) and their conversions (sections 4.2 string(), 4.3 boolean(), 4.4 number()). */
import type { XNode } from './nodes.js';

/** a node-set is an array of distinct nodes in document order */
export type Value = XNode[] | string | number | boolean;

export function isNodeSet(v: Value): v is XNode[] {
  return Array.isArray(v);
}

export function toStringValue(v: Value): string {
  if (isNodeSet(v)) return v.length > 0 ? v[0]!.stringValue() : '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return numberToString(v);
}

export function toNumber(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return stringToNumber(toStringValue(v));
}

export function toBoolean(v: Value): boolean {
  if (isNodeSet(v)) return v.length > 0;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  return v;
}

/** 4.4: optional whitespace, optional minus, Number, optional whitespace; anything else is NaN */
export function stringToNumber(s: string): number {
  return /^[\t\n\r ]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[\t\n\r ]*$/.test(s) ? Number(s) : NaN;
}

/** 4.2: NaN, Infinity, -Infinity, an integer without a point, else a decimal without an exponent */
export function numberToString(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return '0';
  const s = String(n);
  if (!/e/i.test(s)) return s;
  // expand exponent notation: digits and exponent of the shortest round-trip form
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)!;
  const digits = m[2]! + (m[3] ?? '');
  const exp = Number(m[4]);
  if (exp >= 0) {
    const whole = digits.length - 1 <= exp ? digits + '0'.repeat(exp - (digits.length - 1)) : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    return m[1]! + whole;
  }
  return `${m[1]!}0.${'0'.repeat(-exp - 1)}${digits}`;
}
