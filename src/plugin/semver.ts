/**
 * A small semver range check, enough for plugin.json's `hostApi` (the npm range grammar without
 * prerelease tags): `*`, `x`, `1.2.3`, `=1.2.3`, `>=1.2.3`, `>1.2`, `<2`, `<=2.0.0`, `^1.2.3`, `~1.2.3`,
 * `1.x`, `1.2.*`, `1.0.0 - 2.0.0`, comparators separated by spaces (and), `||` (or).
 */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

const VERSION = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export function parseVersion(text: string): SemVer | undefined {
  const m = VERSION.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compare(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

type Op = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  op: Op;
  v: SemVer;
}

/** a partial version: missing or wildcard parts are undefined */
interface Partial {
  major?: number;
  minor?: number;
  patch?: number;
}

const PARTIAL = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$/;

function parsePartial(text: string): Partial | undefined {
  const m = PARTIAL.exec(text);
  if (!m) return undefined;
  const num = (s: string | undefined): number | undefined => (s === undefined || /[xX*]/.test(s) ? undefined : Number(s));
  const major = num(m[1]);
  const minor = major === undefined ? undefined : num(m[2]);
  const patch = minor === undefined ? undefined : num(m[3]);
  return { major, minor, patch };
}

const v = (major: number, minor = 0, patch = 0): SemVer => ({ major, minor, patch });

/** comparators for one primitive like `^1.2`, `>=1.0.0`, `1.x`; undefined when invalid */
function expand(token: string): Comparator[] | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?(.*)$/.exec(token);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const p = parsePartial(m[2] ?? '');
  if (!p) return undefined;
  const { major, minor, patch } = p;
  if (major === undefined) return op === '<' || op === '>' ? [{ op: '<', v: v(0) }] : [];
  const low = v(major, minor ?? 0, patch ?? 0);
  // the first version above the partial's range
  const next = minor === undefined ? v(major + 1) : patch === undefined ? v(major, minor + 1) : undefined;
  switch (op) {
    case '^': {
      const upper = major > 0 ? v(major + 1) : minor === undefined ? v(1) : (minor > 0 || patch === undefined) ? v(0, minor + 1) : v(0, 0, (patch ?? 0) + 1);
      return [{ op: '>=', v: low }, { op: '<', v: upper }];
    }
    case '~':
      return [{ op: '>=', v: low }, { op: '<', v: minor === undefined ? v(major + 1) : v(major, minor + 1) }];
    case '>=':
      return [{ op: '>=', v: low }];
    case '>':
      return [next ? { op: '>=', v: next } : { op: '>', v: low }];
    case '<':
      return [{ op: '<', v: low }];
    case '<=':
      return [next ? { op: '<', v: next } : { op: '<=', v: low }];
    default:
      return next ? [{ op: '>=', v: low }, { op: '<', v: next }] : [{ op: '=', v: low }];
  }
}

function test(c: Comparator, ver: SemVer): boolean {
  const d = compare(ver, c.v);
  switch (c.op) {
    case '<': return d < 0;
    case '<=': return d <= 0;
    case '>': return d > 0;
    case '>=': return d >= 0;
    case '=': return d === 0;
  }
}

/** parse a range into OR-ed sets of AND-ed comparators; undefined when the range is malformed */
export function parseRange(range: string): Comparator[][] | undefined {
  const sets: Comparator[][] = [];
  for (const alt of range.split('||')) {
    const text = alt.trim().replace(/(\^|~|>=|<=|>|<|=)\s+/g, '$1');
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
    if (hyphen) {
      const lo = expand(`>=${hyphen[1]}`);
      const hi = expand(`<=${hyphen[2]}`);
      if (!lo || !hi) return undefined;
      sets.push([...lo, ...hi]);
      continue;
    }
    const set: Comparator[] = [];
    for (const tok of text === '' ? ['*'] : text.split(/\s+/)) {
      const cs = expand(tok);
      if (!cs) return undefined;
      set.push(...cs);
    }
    sets.push(set);
  }
  return sets;
}

export function isValidRange(range: string): boolean {
  return parseRange(range) !== undefined;
}

/** true when `version` (x.y.z) is inside `range`; false for a malformed version or range */
export function satisfies(version: string, range: string): boolean {
  const ver = parseVersion(version);
  const sets = parseRange(range);
  if (!ver || !sets) return false;
  return sets.some((set) => set.every((c) => test(c, ver)));
}
