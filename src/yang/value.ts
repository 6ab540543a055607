/**
 * Leaf values (XML encoding, RFC 7950 section 9) checked against a compiled type.
 * Lexical rules follow libyang where RFC 7950 leaves room: integers and decimal64 may carry
 * surrounding XML whitespace and a leading '+'; boolean, enumeration and string values are taken
 * exactly as written; binary is strict base64 (no whitespace, padding only at the end).
 */
import { parseDecimal } from './compile.js';
import type { CompiledModule, IdentityRef, Restriction, YType } from './schema.js';

export interface ValueProblem {
  message: string;
  appTag?: string;
}

export interface ValueContext {
  /** prefix -> namespace in scope at the element ('' = default namespace) */
  nsContext?: Readonly<Record<string, string>> | undefined;
  modules: Map<string, CompiledModule>;
}

const XML_WS = /^[ \t\r\n]+|[ \t\r\n]+$/g;
const INTEGER = /^[+-]?[0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*(={0,2})$/;

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** the value without surrounding XML whitespace (value.replace(XML_WS, ''), which it calls only when there is some) */
function xmlTrim(value: string): string {
  if (value.length === 0) return value;
  return isXmlSpace(value.charCodeAt(0)) || isXmlSpace(value.charCodeAt(value.length - 1)) ? value.replace(XML_WS, '') : value;
}

/** `v` (a number compares with the bigint bounds exactly) in one of the intervals */
function inIntervals(v: bigint | number, r: Restriction): boolean {
  for (const i of r.intervals) if (v >= i.lo && v <= i.hi) return true;
  return false;
}

/** the number of code points ([...s].length: a surrogate pair is one, a lone surrogate one), without an array */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++; }
    }
  }
  return n;
}

function checkLength(len: number, t: YType, what: string, value: string): ValueProblem | undefined {
  for (const r of t.lengths) {
    if (!inIntervals(len, r)) {
      return { message: r.message ?? `${what} "${clip(value)}" has length ${len}, not in ${r.text}`, ...(r.appTag !== undefined ? { appTag: r.appTag } : {}) };
    }
  }
  return undefined;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fmtScaled(v: bigint, fd: number): string {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(fd + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, s.length - fd)}.${s.slice(s.length - fd)}`;
}

const INT_BOUNDS: Record<string, [bigint, bigint]> = {
  int8: [-128n, 127n], int16: [-32768n, 32767n], int32: [-2147483648n, 2147483647n],
  int64: [-9223372036854775808n, 9223372036854775807n], uint8: [0n, 255n], uint16: [0n, 65535n],
  uint32: [0n, 4294967295n], uint64: [0n, 18446744073709551615n],
};

function checkBase64(value: string): { bytes: number } | ValueProblem {
  if (value.length % 4 !== 0) return { message: `"${clip(value)}" is not base64: its length is not a multiple of 4` };
  const m = BASE64.exec(value);
  if (!m) return { message: `"${clip(value)}" is not base64: invalid character` };
  return { bytes: (value.length / 4) * 3 - m[1]!.length };
}

function derivesFrom(modules: Map<string, CompiledModule>, id: IdentityRef, base: IdentityRef, depth = 0): boolean {
  if (depth > 64) return false;
  const bases = modules.get(id.module)?.identities.get(id.name) ?? [];
  return bases.some((b) => (b.module === base.module && b.name === base.name) || derivesFrom(modules, b, base, depth + 1));
}

function checkString(t: YType, value: string): ValueProblem | undefined {
  if (t.lengths.length > 0) {
    const p = checkLength(codePoints(value), t, 'string', value);
    if (p) return p;
  }
  for (const pat of t.patterns) {
    if (pat.re.test(value) === pat.invert) {
      return {
        message: pat.message ?? `"${clip(value)}" does not match the pattern '${pat.source}'${pat.invert ? ' (invert-match)' : ''} of ${t.name}`,
        ...(pat.appTag !== undefined ? { appTag: pat.appTag } : {}),
      };
    }
  }
  return undefined;
}

function checkInteger(t: YType, value: string): ValueProblem | undefined {
  const s = xmlTrim(value);
  if (!INTEGER.test(s)) return { message: `"${clip(value)}" is not a valid ${t.base} (${t.name})` };
  // up to 15 digits a number is exact (and compares exactly with the bigint bounds)
  const v = s.length <= 15 ? Number(s) : BigInt(s);
  const [lo, hi] = INT_BOUNDS[t.base]!;
  if (v < lo || v > hi) return { message: `${s} is out of the bounds of ${t.base} (${t.name})` };
  for (const r of t.ranges) if (!inIntervals(v, r)) return { message: r.message ?? `${s} is not in the range ${r.text} of ${t.name}`, ...(r.appTag !== undefined ? { appTag: r.appTag } : {}) };
  return undefined;
}

function checkDecimal(t: YType, value: string): ValueProblem | undefined {
  const fd = t.fractionDigits ?? 1;
  const s = xmlTrim(value);
  const v = parseDecimal(s, fd);
  if (v === undefined) return { message: `"${clip(value)}" is not a valid decimal64 with ${fd} fraction digits (${t.name})` };
  if (v < -9223372036854775808n || v > 9223372036854775807n) return { message: `${s} is out of the bounds of decimal64 (${t.name})` };
  for (const r of t.ranges) if (!inIntervals(v, r)) return { message: r.message ?? `${fmtScaled(v, fd)} is not in the range ${r.text} of ${t.name}`, ...(r.appTag !== undefined ? { appTag: r.appTag } : {}) };
  return undefined;
}

function checkBits(t: YType, value: string): ValueProblem | undefined {
  const names = value.split(/[ \t\r\n]+/).filter((x) => x.length > 0);
  const bad = names.find((b) => !t.bits?.includes(b));
  if (bad !== undefined) return { message: `"${clip(bad)}" is not a bit of ${t.name}: ${(t.bits ?? []).join(', ')}` };
  if (new Set(names).size !== names.length) return { message: `bits value "${clip(value)}" names a bit twice` };
  return undefined;
}

/** an identity named by prefix:name (the prefix bound in the value's namespace context), derived from the type's bases */
function checkIdentityref(t: YType, value: string, ctx: ValueContext): ValueProblem | undefined {
  const s = xmlTrim(value);
  const i = s.indexOf(':');
  const prefix = i < 0 ? '' : s.slice(0, i);
  const name = i < 0 ? s : s.slice(i + 1);
  const ns = ctx.nsContext?.[prefix];
  let mod: CompiledModule | undefined;
  for (const m of ctx.modules.values()) if (m.ref.namespace === ns) { mod = m; break; }
  if (!mod || !mod.identities.has(name)) return { message: `"${clip(value)}" is not a known identity` };
  const id = { module: mod.ref.name, name };
  const ok = (t.identityBases ?? []).every((b) => derivesFrom(ctx.modules, id, b));
  return ok ? undefined : { message: `identity "${clip(value)}" is not derived from the base of ${t.name}` };
}

/** undefined when the value is valid for the type */
export function checkValue(t: YType, value: string, ctx: ValueContext): ValueProblem | undefined {
  switch (t.base) {
    case 'string':
      return checkString(t, value);
    case 'int8': case 'int16': case 'int32': case 'int64':
    case 'uint8': case 'uint16': case 'uint32': case 'uint64':
      return checkInteger(t, value);
    case 'decimal64':
      return checkDecimal(t, value);
    case 'boolean':
      return value === 'true' || value === 'false' ? undefined : { message: `"${clip(value)}" is not a boolean (true or false)` };
    case 'enumeration':
      return t.enums?.includes(value) ? undefined
        : { message: `"${clip(value)}" is not one of the values of ${t.name}: ${(t.enums ?? []).join(', ')}` };
    case 'bits':
      return checkBits(t, value);
    case 'binary': {
      const b = checkBase64(value);
      if ('message' in b) return b;
      return checkLength(b.bytes, t, 'binary value', value);
    }
    case 'empty':
      return value === '' ? undefined : { message: `an empty leaf (${t.name}) must have no value` };
    case 'union': {
      for (const m of t.members ?? []) if (!checkValue(m, value, ctx)) return undefined;
      return { message: `"${clip(value)}" matches none of the member types of ${t.name}` };
    }
    case 'identityref':
      return checkIdentityref(t, value, ctx);
    case 'leafref': {
      const target = t.leafref?.resolve();
      return target ? checkValue(target, value, ctx) : undefined;
    }
    case 'instance-identifier':
      return xmlTrim(value).startsWith('/') ? undefined : { message: `"${clip(value)}" is not an instance-identifier` };
  }
}

/** a canonical form used to compare key and leaf-list values */
export function canonical(t: YType, value: string): string {
  switch (t.base) {
    case 'int8': case 'int16': case 'int32': case 'int64':
    case 'uint8': case 'uint16': case 'uint32': case 'uint64': {
      const s = xmlTrim(value);
      if (!INTEGER.test(s)) return value;
      return s.length <= 15 ? String(Number(s)) : BigInt(s).toString();
    }
    case 'decimal64': {
      const v = parseDecimal(xmlTrim(value), t.fractionDigits ?? 1);
      return v === undefined ? value : v.toString();
    }
    default:
      return value;
  }
}
