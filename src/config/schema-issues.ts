/**
 * Turns ajv errors into readable issues: the path in the document (`henbs[2].port`), what was expected
 * (`an integer <= 65535`) and what was found. Shared by the config loader and the plugin manifest (this folder
 * is below src/plugin: the plugin host uses it, it never uses the plugin host).
 */
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { closest } from '../suggest.js';

export interface SchemaIssue {
  /** the path in the document, e.g. `henbs[2].port`; `(top level)` for the root */
  path: string;
  /** the same path as a list of keys and indexes */
  segments: Array<string | number>;
  /** what was expected, e.g. `an integer <= 65535` */
  expected: string;
  /** a short rendering of the value found, when there is one */
  got?: string;
}

export function pointerToSegments(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function formatPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][-A-Za-z0-9_]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out === '' ? '(top level)' : out;
}

const TYPE_NAMES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (object)',
  array: 'a list (array)',
  null: 'null',
};

function describeType(t: unknown): string {
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => TYPE_NAMES[String(x)] ?? String(x)).join(' or ');
}

/** a short, secret-free rendering of a value (strings are shown only when short; never for secrets) */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return 'a mapping';
}

function valueAt(root: unknown, segments: ReadonlyArray<string | number>): unknown {
  let cur: unknown = root;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

function expectation(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type': return describeType(p.type);
    case 'required': {
      // a rule of an if/then/else (one key needs another) says in its own words what it needs
      const words = (e.parentSchema as { description?: unknown } | undefined)?.description;
      return /\/(then|else)\/required$/.test(e.schemaPath) && typeof words === 'string' && words !== '' ? words : 'a value (it is required)';
    }
    case 'not': {
      const words = (e.parentSchema as { description?: unknown } | undefined)?.description;
      return typeof words === 'string' && words !== '' ? words : (e.message ?? e.keyword);
    }
    case 'additionalProperties': return `no such key (allowed here: ${(p.allowed as string[] | undefined)?.join(', ') ?? 'none'})`;
    case 'enum': return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const': return `exactly ${JSON.stringify(p.allowedValue)}`;
    case 'pattern': {
      // an operator reads the schema's words, not its regular expression, where the schema has them
      const words = (e.parentSchema as { description?: unknown } | undefined)?.description;
      return typeof words === 'string' && words !== '' ? words : `a string matching ${String(p.pattern)}`;
    }
    case 'format': return `a valid ${String(p.format)}`;
    case 'minimum': return `a number >= ${String(p.limit)}`;
    case 'maximum': return `a number <= ${String(p.limit)}`;
    case 'exclusiveMinimum': return `a number > ${String(p.limit)}`;
    case 'exclusiveMaximum': return `a number < ${String(p.limit)}`;
    case 'minLength': return `at least ${String(p.limit)} character(s)`;
    case 'maxLength': return `at most ${String(p.limit)} characters`;
    case 'minItems': return `at least ${String(p.limit)} item(s)`;
    case 'maxItems': return `at most ${String(p.limit)} items`;
    case 'uniqueItems': return `no duplicates (items ${String(p.j)} and ${String(p.i)} are equal)`;
    case 'minProperties':
    case 'maxProperties':
      return e.parentSchema && (e.parentSchema as { properties?: Record<string, unknown> }).properties
        ? `exactly one of: ${Object.keys((e.parentSchema as { properties: Record<string, unknown> }).properties).join(', ')}`
        : (e.message ?? e.keyword);
    default: return e.message ?? e.keyword;
  }
}

/** Readable issues for ajv errors (run with allErrors and verbose for the best messages). */
export function schemaIssues(errors: ErrorObject[] | null | undefined, data: unknown): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    // 'must match "then" schema': the errors of the branch say what is wrong
    if (e.keyword === 'if') continue;
    const p = e.params as Record<string, unknown>;
    const segments = pointerToSegments(e.instancePath);
    let expected = expectation(e);
    if (e.keyword === 'required') segments.push(String(p.missingProperty));
    if (e.keyword === 'additionalProperties') {
      segments.push(String(p.additionalProperty));
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
      const allowed = props ? Object.keys(props) : [];
      const near = closest(String(p.additionalProperty), allowed);
      expected = `no such key${near !== undefined ? `; did you mean ${near}?` : ''} (allowed here: ${allowed.length > 0 ? allowed.join(', ') : 'none'})`;
    }
    const issue: SchemaIssue = { path: formatPath(segments), segments, expected };
    if (e.keyword !== 'required' && e.keyword !== 'additionalProperties') {
      const secretish = segments.some((s) => typeof s === 'string' && /pass|secret|private|key$/i.test(s));
      if (!secretish) issue.got = describeValue(valueAt(data, segments));
    }
    const key = `${issue.path}|${issue.expected}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

export function formatIssue(source: string, issue: SchemaIssue, where?: string): string {
  const loc = where ? `${source}:${where}` : source;
  return `${loc}: ${issue.path}: expected ${issue.expected}${issue.got !== undefined ? `, got ${issue.got}` : ''}`;
}

/** The ajv every schema of this project is checked with: all errors at once, verbose (for the messages), defaults applied. */
export function newAjv(): Ajv {
  return new Ajv({ allErrors: true, verbose: true, strict: false, useDefaults: true });
}

const validators = new WeakMap<object, ValidateFunction>();

/**
 * Checks `data` against `schema` (compiled once per schema object) on a copy, with defaults applied. Returns
 * the copy, or the issues with their paths under `prefix` (where the data sits in a larger document).
 */
export function validateWithSchema(schema: object, data: unknown, prefix: ReadonlyArray<string | number> = []): { value: unknown; issues: SchemaIssue[] } {
  let validate = validators.get(schema);
  if (!validate) {
    validate = newAjv().compile(schema);
    validators.set(schema, validate);
  }
  const value: unknown = data === undefined ? {} : structuredClone(data);
  if (validate(value)) return { value, issues: [] };
  const issues = schemaIssues(validate.errors, value).map((i) => {
    const segments = [...prefix, ...i.segments];
    return { ...i, segments, path: formatPath(segments) };
  });
  return { value, issues };
}
