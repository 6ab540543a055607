/**
 * loadYang(dir): read every *.yang file under dir (recursively), compile them, and return the
 * runtime validator (src/yang/types.ts contract), the module list for the NETCONF registry
 * (text byte-identical to the file, for get-schema) and schema helpers.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HsvError } from '../errors.js';
import type { RpcErrorInfo } from '../netconf/rpc-error.js';
import type { YangModuleInfo } from './types.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { Compiler, flatten } from './compile.js';
import type { JValue } from './json.js';
import { fromParsed, operationFromJson, parseJsonText, restconfOperationFromJson } from './json.js';
import { parseYang, subArg } from './parse.js';
import type { CompiledModule, NacmDefault, OperationPart, SchemaNode } from './schema.js';
import type { YangValidator } from './types.js';
import { emptyPath, InstanceValidator } from './validate.js';

export class YangLoadError extends HsvError<'ERR_YANG_LOAD'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_YANG_LOAD', message, options);
  }
}

/** Modules loaded for their typedefs/groupings/extensions only: not advertised as implemented. */
export const IMPORT_ONLY_DEFAULT: readonly string[] = ['ietf-inet-types', 'ietf-yang-types', 'ietf-netconf-acm', 'yuma-ncx'];

export interface LoadOptions {
  /** module names advertised as import-only (implemented: false); default IMPORT_ONLY_DEFAULT */
  importOnly?: readonly string[];
}

export interface SchemaStep {
  ns: string;
  name: string;
}

export interface LoadedYang {
  validator: SchemaValidator;
  /** every module, sorted by name; text is the file's content */
  modules: YangModuleInfo[];
  /** key leaf names of the list at `path` ('/henbs/henb' or steps), or undefined when it is no list */
  keysOf(ns: string, path: string | string[]): string[] | undefined;
}

/** The YangValidator contract plus schema helpers (listKeys/isLeafList, as edit-config's SchemaHints). */
export class SchemaValidator implements YangValidator {
  readonly byNs = new Map<string, CompiledModule>();

  constructor(readonly modules: Map<string, CompiledModule>) {
    for (const m of modules.values()) this.byNs.set(m.ref.namespace, m);
  }

  hasRpc(ns: string, name: string): boolean {
    return this.byNs.get(ns)?.rpcs.has(name) ?? false;
  }

  hasNotification(ns: string, name: string): boolean {
    return this.byNs.get(ns)?.notifications.has(name) ?? false;
  }

  validateRpcInput(operation: XmlElement): RpcErrorInfo[] {
    const rpc = this.byNs.get(operation.ns)?.rpcs.get(operation.name);
    if (!rpc) return [this.unknownOperation(operation.ns, operation.name, 'RPC')];
    return this.part(rpc.input, operation.children, true);
  }

  validateRpcOutput(ns: string, rpcName: string, output: XmlElement[]): RpcErrorInfo[] {
    const rpc = this.byNs.get(ns)?.rpcs.get(rpcName);
    if (!rpc) return [this.unknownOperation(ns, rpcName, 'RPC')];
    return this.part(rpc.output, output, false);
  }

  validateNotification(event: XmlElement): RpcErrorInfo[] {
    const n = this.byNs.get(event.ns)?.notifications.get(event.name);
    if (!n) return [this.unknownOperation(event.ns, event.name, 'notification')];
    return this.part(n, event.children, true);
  }

  validateConfig(topLevel: XmlElement[]): RpcErrorInfo[] {
    const v = new InstanceValidator(this.modules, { configOnly: true });
    // top-level mandatory nodes are required only of modules that have data here (as yanglint -e)
    const nsPresent = new Set(topLevel.map((e) => e.ns));
    const schema: SchemaNode[] = [];
    for (const m of this.modules.values()) if (nsPresent.has(m.ref.namespace)) schema.push(...m.top);
    const root: XmlElement = { ns: '', name: '', attrs: [], children: topLevel };
    v.children(topLevel, schema, emptyPath(), root);
    v.checkLeafrefs(root);
    return v.result();
  }

  /**
   * RFC 7951 JSON holding one operation or notification (as yanglint reads it), e.g.
   * {"henb-sw-verify-pve:integrity-request": {...}}: converted to XML and validated. `doc` is JSON text
   * (number lexemes kept exactly) or a value from JSON.parse.
   */
  validateJson(kind: 'rpc' | 'reply' | 'notif', doc: string | unknown): { element?: XmlElement; errors: RpcErrorInfo[] } {
    const conv = operationFromJson(this.modules, kind, toJValue(doc));
    return this.finish(kind, conv);
  }

  /** RESTCONF (RFC 8040 section 3.6.1) body {"module:input": {...}} or {"module:output": {...}} (or none). */
  validateRestconf(moduleName: string, rpc: string, which: 'input' | 'output', body: string | unknown | undefined): { element?: XmlElement; errors: RpcErrorInfo[] } {
    const conv = restconfOperationFromJson(this.modules, moduleName, rpc, which, body === undefined ? undefined : toJValue(body));
    return this.finish(which === 'input' ? 'rpc' : 'reply', conv);
  }

  private finish(kind: 'rpc' | 'reply' | 'notif', conv: { element?: XmlElement; errors: RpcErrorInfo[] }): { element?: XmlElement; errors: RpcErrorInfo[] } {
    const el = conv.element;
    if (!el) return conv;
    const more = kind === 'rpc' ? this.validateRpcInput(el)
      : kind === 'reply' ? this.validateRpcOutput(el.ns, el.name, el.children.filter(isEl)) : this.validateNotification(el);
    return { element: el, errors: [...conv.errors, ...more] };
  }

  /**
   * An error-path in the RFC 7951 form RESTCONF uses (module names; a step is qualified when its
   * module differs from its parent's), e.g. /henb-sw-verify-pve:integrity-request/nonce-value.
   */
  jsonPath(e: RpcErrorInfo): string | undefined {
    if (e.path === undefined) return undefined;
    let prev = '';
    return e.path.replace(/([A-Za-z_][\w.-]*):(?=[A-Za-z_])/g, (all, pfx: string) => {
      const ns = e.pathNs?.[pfx];
      const mod = ns !== undefined ? this.byNs.get(ns)?.ref.name : undefined;
      if (mod === undefined) return all;
      if (mod === prev) return '';
      prev = mod;
      return `${mod}:`;
    });
  }

  /** edit-config SchemaHints: key names of the list at `path` (from the top), else undefined */
  listKeys(path: SchemaStep[]): string[] | undefined {
    const n = this.nodeAt(path);
    return n?.kind === 'list' ? [...n.keys] : undefined;
  }

  /** edit-config SchemaHints: whether the node at `path` is a leaf-list */
  isLeafList(path: SchemaStep[]): boolean {
    return this.nodeAt(path)?.kind === 'leaf-list';
  }

  /**
   * RFC 8341 3.1.3: the nacm:default-deny-write / default-deny-all that applies to the data node at
   * `path`: the strongest one on the node or an ancestor (a protected container protects its content).
   * undefined when none applies or the path is not in the schema.
   */
  nacmDefault(path: SchemaStep[]): NacmDefault | undefined {
    let candidates: SchemaNode[] = [];
    for (const m of this.modules.values()) candidates.push(...flatten(m.top));
    let mark: NacmDefault | undefined;
    for (const step of path) {
      const node = candidates.find((c) => c.name === step.name && c.module.namespace === step.ns);
      if (!node) return mark;
      if (node.nacm === 'all' || (node.nacm === 'write' && mark === undefined)) mark = node.nacm;
      candidates = 'children' in node ? flatten(node.children) : [];
    }
    return mark;
  }

  /** nacm:default-deny-all on an rpc (RFC 8341 3.4.4) */
  rpcNacmDefault(ns: string, name: string): NacmDefault | undefined {
    return this.byNs.get(ns)?.rpcs.get(name)?.nacm;
  }

  /** nacm:default-deny-all on a notification (RFC 8341 3.4.6) */
  notificationNacmDefault(ns: string, name: string): NacmDefault | undefined {
    return this.byNs.get(ns)?.notifications.get(name)?.nacm;
  }

  /** the data node at a path of (namespace, name) steps from the top, through choices */
  nodeAt(path: SchemaStep[]): SchemaNode | undefined {
    let candidates: SchemaNode[] = [];
    for (const m of this.modules.values()) candidates.push(...flatten(m.top));
    let node: SchemaNode | undefined;
    for (const step of path) {
      node = candidates.find((c) => c.name === step.name && c.module.namespace === step.ns);
      if (!node) return undefined;
      candidates = 'children' in node ? flatten(node.children) : [];
    }
    return node;
  }

  /** the content of an operation element (`withText`: its text, which must be whitespace, is in `nodes` too) */
  private part(schema: OperationPart, nodes: ReadonlyArray<XmlElement | string>, withText: boolean): RpcErrorInfo[] {
    const v = new InstanceValidator(this.modules, { configOnly: false });
    const root = emptyPath().step({ name: schema.name, module: schema.module });
    if (withText) v.content(nodes, schema.children, root);
    else v.children(nodes, schema.children, root);
    return v.result();
  }

  private unknownOperation(ns: string, name: string, what: string): RpcErrorInfo {
    return {
      type: 'protocol', tag: this.byNs.has(ns) ? 'unknown-element' : 'unknown-namespace',
      message: `no loaded module defines the ${what} "${name}" in namespace "${ns}"`,
      info: [{ ns: 'urn:ietf:params:xml:ns:netconf:base:1.0', name: 'bad-element', attrs: [], children: [name] }],
    };
  }
}

function toJValue(doc: unknown): JValue {
  return typeof doc === 'string' ? parseJsonText(doc) : fromParsed(doc);
}

function isEl(c: XmlElement | string): c is XmlElement {
  return typeof c !== 'string';
}

async function yangFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await yangFiles(p));
    else if (e.isFile() && e.name.endsWith('.yang')) out.push(p);
  }
  return out;
}

/** Compile module texts (for tests and embedders); `files` maps a file name to its text. */
export function compileTexts(files: Array<{ file: string; text: string }>, options: LoadOptions = {}): LoadedYang {
  const importOnly = new Set(options.importOnly ?? IMPORT_ONLY_DEFAULT);
  const compiler = new Compiler();
  const infos: YangModuleInfo[] = [];
  for (const { file, text } of files) {
    const stmt = parseYang(text, file);
    if (stmt.keyword !== 'module') continue;
    const name = stmt.arg ?? '';
    const implemented = !importOnly.has(name);
    compiler.add(stmt, file, implemented);
    const revs = stmt.subs.filter((s) => s.keyword === 'revision').map((r) => r.arg ?? '').sort();
    infos.push({
      name, revision: revs[revs.length - 1] ?? '', namespace: subArg(stmt, 'namespace') ?? '',
      prefix: subArg(stmt, 'prefix') ?? '', text, implemented,
    });
  }
  const modules = compiler.compile();
  const validator = new SchemaValidator(modules);
  infos.sort((a, b) => a.name.localeCompare(b.name));
  return {
    validator,
    modules: infos,
    keysOf(ns: string, path: string | string[]): string[] | undefined {
      const steps = (Array.isArray(path) ? path : path.split('/')).filter((s) => s.length > 0).map((s) => s.replace(/^.*:/, ''));
      return validator.listKeys(steps.map((name) => ({ ns, name })));
    },
  };
}

/** Load and compile every *.yang under `dir` (e.g. the package's yang/ directory). */
export async function loadYang(dir: string, options: LoadOptions = {}): Promise<LoadedYang> {
  let files: string[];
  try {
    files = await yangFiles(dir);
  } catch (err) {
    throw new YangLoadError(`cannot read YANG directory ${dir}`, { cause: err });
  }
  if (files.length === 0) throw new YangLoadError(`no .yang files in ${dir}`);
  const texts = await Promise.all(files.map(async (file) => ({ file, text: await readFile(file, 'utf8') })));
  return compileTexts(texts, options);
}
