/**
 * RFC 7951 JSON encoding of YANG data -> the XmlElement model, so that RESTCONF bodies (RFC 8040) are
 * checked by the same validator as NETCONF XML. JSON-level rules are checked here, as libyang does:
 * member names are "module:name" at the top and wherever the module changes; int8..int32 and
 * uint8..uint32 are JSON numbers, int64/uint64/decimal64 and every other scalar are JSON strings,
 * booleans are true/false, an empty leaf is [null], leaf-lists and lists are arrays; duplicate
 * member names are kept (they are duplicate instances). Number lexemes are preserved when the text
 * is given (parseJsonText), so 3.0 is not mistaken for 3.
 */
import type { RpcErrorInfo } from '../netconf/rpc-error.js';
import { info } from '../netconf/rpc-error.js';
import type { XmlElement, XmlNode } from '../netconf/xml/index.js';
import { HsvError } from '../errors.js';
import { flatten } from './compile.js';
import type { CompiledModule, SchemaNode, YType } from './schema.js';

export class YangJsonError extends HsvError<'ERR_YANG_JSON'> {
  constructor(message: string) {
    super('ERR_YANG_JSON', message);
  }
}

/** a JSON value with number lexemes and duplicate members preserved */
export type JValue = null | boolean | string | JNumber | JValue[] | JObject;
export interface JNumber { readonly num: string }
export interface JObject { readonly members: Array<[string, JValue]> }

function isNum(v: JValue): v is JNumber {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'num' in v;
}
function isObj(v: JValue): v is JObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'members' in v;
}

/** A recursive-descent reader of RFC 8259 JSON text: one method per production, `i` the offset read to. */
class JsonReader {
  private i = 0;

  constructor(private readonly text: string, private readonly maxDepth: number) {}

  /** the whole text: one value, then only whitespace */
  document(): JValue {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.text.length) this.fail('text after the value');
    return v;
  }

  private ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i]!)) this.i++;
  }

  private fail(m: string): never {
    throw new YangJsonError(`JSON: ${m} at offset ${this.i}`);
  }

  private str(): string {
    const { text } = this;
    // scan to the closing quote; control characters must be escaped (RFC 8259 section 7)
    let j = this.i + 1;
    while (j < text.length && text[j] !== '"') {
      if (text.charCodeAt(j) < 0x20) this.fail('control character in a string');
      j += text[j] === '\\' ? 2 : 1;
    }
    if (j >= text.length) this.fail('unterminated string');
    let out: string;
    try {
      out = JSON.parse(text.slice(this.i, j + 1)) as string;
    } catch {
      return this.fail('bad escape in a string');
    }
    this.i = j + 1;
    return out;
  }

  private value(depth: number): JValue {
    if (depth > this.maxDepth) this.fail('nesting too deep');
    this.ws();
    const c = this.text[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.str();
    return this.scalar();
  }

  private object(depth: number): JObject {
    const { text } = this;
    this.i++;
    const members: Array<[string, JValue]> = [];
    this.ws();
    if (text[this.i] === '}') { this.i++; return { members }; }
    for (;;) {
      this.ws();
      if (text[this.i] !== '"') this.fail('expected a member name');
      const k = this.str();
      this.ws();
      if (text[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      members.push([k, this.value(depth + 1)]);
      this.ws();
      if (text[this.i] === ',') { this.i++; continue; }
      if (text[this.i] === '}') { this.i++; return { members }; }
      this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): JValue[] {
    const { text } = this;
    this.i++;
    const arr: JValue[] = [];
    this.ws();
    if (text[this.i] === ']') { this.i++; return arr; }
    for (;;) {
      arr.push(this.value(depth + 1));
      this.ws();
      if (text[this.i] === ',') { this.i++; continue; }
      if (text[this.i] === ']') { this.i++; return arr; }
      this.fail("expected ',' or ']'");
    }
  }

  /** true, false, null, or a number (its lexeme kept) */
  private scalar(): JValue {
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(lit, this.i)) { this.i += lit.length; return v; }
    }
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i));
    if (!m) return this.fail('unexpected character');
    this.i += m[0].length;
    return { num: m[0] };
  }
}

/** Parse JSON text keeping number lexemes and duplicate members (RFC 8259 grammar). */
export function parseJsonText(text: string, maxDepth = 64): JValue {
  return new JsonReader(text, maxDepth).document();
}

/** Convert a value from JSON.parse (numbers become their JS string form) to JValue. */
export function fromParsed(v: unknown): JValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return { num: String(v) };
  if (Array.isArray(v)) return v.map(fromParsed);
  if (typeof v === 'object') return { members: Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromParsed(x)]) };
  throw new YangJsonError(`JSON: unsupported value of type ${typeof v}`);
}

const NUMBER_TYPES = new Set(['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32']);

/** the XML text of a JSON scalar for a type, or a problem message */
function scalarText(t: YType, v: JValue, leafModule: string): { text: string } | { problem: string } {
  switch (t.base) {
    case 'union': {
      let first: { problem: string } | undefined;
      for (const m of t.members ?? []) {
        const r = scalarText(m, v, leafModule);
        if ('text' in r) return r;
        first ??= r;
      }
      return first ?? { problem: 'no member type' };
    }
    case 'leafref': {
      const target = t.leafref?.resolve();
      return target ? scalarText(target, v, leafModule) : typeof v === 'string' ? { text: v } : { problem: 'a leafref value must be a JSON string' };
    }
    case 'boolean':
      return typeof v === 'boolean' ? { text: String(v) } : { problem: 'a boolean must be JSON true or false' };
    case 'empty':
      return Array.isArray(v) && v.length === 1 && v[0] === null ? { text: '' } : { problem: 'an empty leaf must be [null]' };
    default:
      if (NUMBER_TYPES.has(t.base)) return isNum(v) ? { text: v.num } : { problem: `a ${t.base} must be a JSON number` };
      if (typeof v !== 'string') return { problem: `a ${t.base} value must be a JSON string` };
      if (t.base === 'identityref' && !v.includes(':')) return { text: `${leafModule}:${v}` };
      return { text: v };
  }
}

export interface JsonConversion {
  /** the converted element (undefined when the top level could not be read) */
  element?: XmlElement;
  /** JSON-level errors (wrong JSON type, unknown module); validate `element` for the rest */
  errors: RpcErrorInfo[];
}

class Converter {
  readonly errors: RpcErrorInfo[] = [];
  private readonly byName = new Map<string, CompiledModule>();
  readonly nsContext: Record<string, string> = {};

  constructor(modules: Map<string, CompiledModule>) {
    for (const m of modules.values()) {
      this.byName.set(m.ref.name, m);
      // identityref values are "module:identity" in JSON; module names serve as XML prefixes here
      this.nsContext[m.ref.name] = m.ref.namespace;
    }
  }

  module(name: string): CompiledModule | undefined {
    return this.byName.get(name);
  }

  private err(path: string, tag: RpcErrorInfo['tag'], message: string, name: string): void {
    this.errors.push({ type: 'application', tag, path, message, info: [info.badElement(name)] });
  }

  /** members of a JSON object -> children elements under `schema`, with `mod` the parent's module */
  members(obj: JObject, schema: SchemaNode[], mod: CompiledModule, path: string): XmlElement[] {
    const out: XmlElement[] = [];
    const nodes = flatten(schema);
    for (const [key, value] of obj.members) {
      const colon = key.indexOf(':');
      const modName = colon < 0 ? mod.ref.name : key.slice(0, colon);
      const name = colon < 0 ? key : key.slice(colon + 1);
      const m = this.byName.get(modName);
      const p = `${path}/${key}`;
      if (!m) { this.err(path, 'unknown-namespace', `member "${key}" names module "${modName}", which is not loaded`, name); continue; }
      const node = nodes.find((n) => n.name === name && n.module.name === m.ref.name);
      if (!node) {
        // keep it so that the validator reports it as an unknown element
        out.push({ ns: m.ref.namespace, name, attrs: [], children: [] });
        continue;
      }
      out.push(...this.node(node, value, m, p));
    }
    return out;
  }

  node(node: SchemaNode, value: JValue, mod: CompiledModule, path: string): XmlElement[] {
    const ns = node.module.namespace;
    const mk = (children: XmlNode[]): XmlElement => ({ ns, name: node.name, attrs: [], children, nsContext: { ...this.nsContext, '': ns } });
    switch (node.kind) {
      case 'container':
        if (!isObj(value)) { this.err(path, 'invalid-value', `container "${node.name}" must be a JSON object`, node.name); return []; }
        return [mk(this.members(value, node.children, mod, path))];
      case 'list':
        if (!Array.isArray(value)) { this.err(path, 'invalid-value', `list "${node.name}" must be a JSON array of objects`, node.name); return []; }
        return value.flatMap((entry, i) => {
          if (!isObj(entry)) { this.err(`${path}[${i + 1}]`, 'invalid-value', `an entry of list "${node.name}" must be a JSON object`, node.name); return []; }
          return [mk(this.members(entry, node.children, mod, `${path}[${i + 1}]`))];
        });
      case 'leaf-list':
        if (!Array.isArray(value)) { this.err(path, 'invalid-value', `leaf-list "${node.name}" must be a JSON array`, node.name); return []; }
        return value.flatMap((v) => {
          const r = scalarText(node.type, v, node.module.name);
          if ('problem' in r) { this.err(path, 'invalid-value', `${node.name}: ${r.problem}`, node.name); return []; }
          return [mk([r.text])];
        });
      case 'leaf': {
        const r = scalarText(node.type, value, node.module.name);
        if ('problem' in r) { this.err(path, 'invalid-value', `${node.name}: ${r.problem}`, node.name); return []; }
        return [mk(r.text === '' ? [] : [r.text])];
      }
      case 'anyxml':
      case 'anydata':
        return [mk([])];
      case 'choice':
        return [];
    }
  }
}

/**
 * Convert an RFC 7951 document holding one operation or notification, e.g.
 * {"henb-sw-verify-pve:integrity-request": {"henb-id": "h1", ...}}, to the element the XML validator
 * takes. `kind` selects the schema: RPC input, RPC output or notification.
 */
export function operationFromJson(modules: Map<string, CompiledModule>, kind: 'rpc' | 'reply' | 'notif', doc: JValue): JsonConversion {
  const c = new Converter(modules);
  if (!isObj(doc) || doc.members.length !== 1) {
    return { errors: [{ type: 'protocol', tag: 'malformed-message', message: 'the document must be an object with one member "module:operation"' }] };
  }
  const [key, value] = doc.members[0]!;
  const colon = key.indexOf(':');
  const mod = colon > 0 ? c.module(key.slice(0, colon)) : undefined;
  const name = key.slice(colon + 1);
  if (!mod) return { errors: [{ type: 'protocol', tag: 'unknown-namespace', message: `"${key}" does not name a loaded module` }] };
  const part = kind === 'notif' ? mod.notifications.get(name) : kind === 'rpc' ? mod.rpcs.get(name)?.input : mod.rpcs.get(name)?.output;
  if (!part) return { errors: [{ type: 'protocol', tag: 'unknown-element', message: `module ${mod.ref.name} defines no ${kind === 'notif' ? 'notification' : 'RPC'} "${name}"`, info: [info.badElement(name)] }] };
  if (!isObj(value)) return { errors: [{ type: 'application', tag: 'invalid-value', path: `/${key}`, message: `"${key}" must be a JSON object` }] };
  const children = c.members(value, part.children, mod, `/${key}`);
  const element: XmlElement = { ns: mod.ref.namespace, name, attrs: [], children, nsContext: { ...c.nsContext, '': mod.ref.namespace } };
  return { element, errors: c.errors };
}

/**
 * RESTCONF (RFC 8040 section 3.6.1): the body of a POST to /restconf/operations/module:rpc is
 * {"module:input": {...}} (or empty); the reply body is {"module:output": {...}}.
 */
export function restconfOperationFromJson(modules: Map<string, CompiledModule>, moduleName: string, rpc: string,
  which: 'input' | 'output', body: JValue | undefined): JsonConversion {
  if (body === undefined) return operationFromJson(modules, which === 'input' ? 'rpc' : 'reply', { members: [[`${moduleName}:${rpc}`, { members: [] }]] });
  if (!isObj(body) || body.members.length !== 1 || body.members[0]![0] !== `${moduleName}:${which}`) {
    return { errors: [{ type: 'protocol', tag: 'malformed-message', message: `the body must be an object with one member "${moduleName}:${which}"` }] };
  }
  return operationFromJson(modules, which === 'input' ? 'rpc' : 'reply', { members: [[`${moduleName}:${rpc}`, body.members[0]![1]]] });
}
