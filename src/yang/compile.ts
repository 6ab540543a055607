/**
 * Statement trees -> compiled schema (src/yang/schema.ts) for the YANG subset this project uses:
 * import, typedef (scoped), grouping/uses (with refine of mandatory/default/min/max/presence),
 * top-level augment, container, leaf, leaf-list, list (key, unique, min/max-elements), choice/case
 * (shorthand cases too), anyxml/anydata, rpc input/output, notification, identity, config,
 * mandatory, default, and the built-in types with length/range/pattern (incl. invert-match),
 * enumeration, bits, union, decimal64, binary, empty, identityref, leafref (typed as its target).
 * Ignored, and documented as such: when, must, if-feature (every feature enabled, as yanglint does),
 * deviation, extensions, status, ordered-by.
 */
import { HsvError } from '../errors.js';
import type { Stmt } from './parse.js';
import { sub, subArg, subsOf } from './parse.js';
import { compileXsdPattern } from './regex.js';
import type {
  NacmDefault,
  AnyNode, CaseNode, ChoiceNode, CompiledModule, ContainerNode, IdentityRef, InnerNode, Interval,
  LeafListNode, LeafNode, ListNode, ModuleRef, OperationPart, Restriction, RpcSchema, SchemaNode, YType,
} from './schema.js';

export class YangSchemaError extends HsvError<'ERR_YANG_SCHEMA'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_YANG_SCHEMA', message, options);
  }
}

interface Scope {
  typedefs: Map<string, Stmt>;
  groupings: Map<string, Stmt>;
  parent?: Scope;
}

interface ModCtx {
  ref: ModuleRef;
  stmt: Stmt;
  file: string;
  /** prefix -> module name (own prefix included) */
  prefixes: Map<string, string>;
  scope: Scope;
}

const INT_BOUNDS: Record<string, Interval> = {
  int8: { lo: -128n, hi: 127n },
  int16: { lo: -32768n, hi: 32767n },
  int32: { lo: -2147483648n, hi: 2147483647n },
  int64: { lo: -9223372036854775808n, hi: 9223372036854775807n },
  uint8: { lo: 0n, hi: 255n },
  uint16: { lo: 0n, hi: 65535n },
  uint32: { lo: 0n, hi: 4294967295n },
  uint64: { lo: 0n, hi: 18446744073709551615n },
};
const BUILTINS = new Set([
  ...Object.keys(INT_BOUNDS), 'decimal64', 'string', 'boolean', 'enumeration', 'bits', 'binary',
  'leafref', 'identityref', 'empty', 'union', 'instance-identifier',
]);

/** parse a decimal literal to a bigint scaled by 10^fd; undefined when not a valid literal */
export function parseDecimal(text: string, fd: number): bigint | undefined {
  const m = /^([+-]?)([0-9]+)(?:\.([0-9]+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[3] ?? '';
  if (frac.length > fd) return undefined;
  const v = BigInt(m[2]! + frac.padEnd(fd, '0'));
  return m[1] === '-' ? -v : v;
}

function parseBound(s: string, base: Interval, fd: number | undefined, isDecimal: boolean, where: string): bigint {
  if (s === 'min') return base.lo;
  if (s === 'max') return base.hi;
  const v = isDecimal ? parseDecimal(s, fd ?? 0) : (/^[+-]?[0-9]+$/.test(s) ? BigInt(s) : undefined);
  if (v === undefined) throw new YangSchemaError(`${where}: bad bound '${s}'`);
  return v;
}

function parseIntervals(expr: string, base: Interval, fd: number | undefined, isDecimal: boolean, where: string): Interval[] {
  return expr.split('|').map((part) => {
    const p = part.trim();
    const dd = p.indexOf('..');
    if (dd < 0) {
      const v = parseBound(p, base, fd, isDecimal, where);
      return { lo: v, hi: v };
    }
    return {
      lo: parseBound(p.slice(0, dd).trim(), base, fd, isDecimal, where),
      hi: parseBound(p.slice(dd + 2).trim(), base, fd, isDecimal, where),
    };
  });
}

function restriction(s: Stmt, intervals: Interval[]): Restriction {
  const r: Restriction = { intervals, text: s.arg ?? '' };
  const appTag = subArg(s, 'error-app-tag');
  const message = subArg(s, 'error-message');
  if (appTag !== undefined) r.appTag = appTag;
  if (message !== undefined) r.message = message;
  return r;
}

export class Compiler {
  private readonly stmts = new Map<string, { stmt: Stmt; file: string; implemented: boolean }>();
  private readonly ctxs = new Map<string, ModCtx>();
  private readonly typedefCache = new Map<Stmt, YType>();
  readonly modules = new Map<string, CompiledModule>();

  add(stmt: Stmt, file: string, implemented = true): void {
    if (stmt.keyword !== 'module') return; // submodules are not used by this project
    const name = stmt.arg ?? '';
    if (this.stmts.has(name)) throw new YangSchemaError(`${file}: module ${name} is loaded twice`);
    this.stmts.set(name, { stmt, file, implemented });
  }

  compile(): Map<string, CompiledModule> {
    for (const name of this.stmts.keys()) this.ctxOf(name);
    for (const [name, { implemented }] of this.stmts) this.compileModule(this.ctxOf(name), implemented);
    for (const ctx of this.ctxs.values()) this.applyAugments(ctx);
    return this.modules;
  }

  private ctxOf(name: string): ModCtx {
    const have = this.ctxs.get(name);
    if (have) return have;
    const entry = this.stmts.get(name);
    if (!entry) throw new YangSchemaError(`module ${name} is imported but not loaded`);
    const { stmt, file } = entry;
    const ns = subArg(stmt, 'namespace');
    const prefix = subArg(stmt, 'prefix');
    if (ns === undefined || prefix === undefined) throw new YangSchemaError(`${file}: module ${name} lacks namespace or prefix`);
    const revs = subsOf(stmt, 'revision').map((r) => r.arg ?? '').sort();
    const ref: ModuleRef = { name, namespace: ns, prefix, revision: revs[revs.length - 1] ?? '' };
    const prefixes = new Map<string, string>([[prefix, name]]);
    for (const imp of subsOf(stmt, 'import')) {
      const p = subArg(imp, 'prefix');
      if (p === undefined || imp.arg === undefined) throw new YangSchemaError(`${file}:${imp.line}: import without prefix`);
      prefixes.set(p, imp.arg);
    }
    const ctx: ModCtx = { ref, stmt, file, prefixes, scope: this.scopeOf(stmt) };
    this.ctxs.set(name, ctx);
    return ctx;
  }

  private scopeOf(s: Stmt, parent?: Scope): Scope {
    const scope: Scope = { typedefs: new Map(), groupings: new Map() };
    if (parent) scope.parent = parent;
    for (const t of subsOf(s, 'typedef')) scope.typedefs.set(t.arg ?? '', t);
    for (const g of subsOf(s, 'grouping')) scope.groupings.set(g.arg ?? '', g);
    return scope;
  }

  /** resolve "prefix:name" or "name" to the module context and local name */
  private qualify(ctx: ModCtx, qname: string, where: string): { mod: ModCtx; name: string; local: boolean } {
    const i = qname.indexOf(':');
    if (i < 0) return { mod: ctx, name: qname, local: true };
    const p = qname.slice(0, i);
    const modName = ctx.prefixes.get(p);
    if (modName === undefined) throw new YangSchemaError(`${where}: unknown prefix '${p}'`);
    return { mod: this.ctxOf(modName), name: qname.slice(i + 1), local: modName === ctx.ref.name };
  }

  private findGrouping(ctx: ModCtx, scope: Scope, qname: string, where: string): { stmt: Stmt; ctx: ModCtx; scope: Scope } {
    const q = this.qualify(ctx, qname, where);
    if (q.local) {
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        const g = s.groupings.get(q.name);
        if (g) return { stmt: g, ctx, scope: this.scopeOf(g, s) };
      }
    }
    const g = q.mod.scope.groupings.get(q.name);
    if (!g) throw new YangSchemaError(`${where}: grouping '${qname}' not found`);
    return { stmt: g, ctx: q.mod, scope: this.scopeOf(g, q.mod.scope) };
  }

  private findTypedef(ctx: ModCtx, scope: Scope, qname: string, where: string): { stmt: Stmt; ctx: ModCtx; scope: Scope } | undefined {
    const q = this.qualify(ctx, qname, where);
    if (q.local) {
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        const t = s.typedefs.get(q.name);
        if (t) return { stmt: t, ctx, scope: s };
      }
      return undefined;
    }
    const t = q.mod.scope.typedefs.get(q.name);
    return t ? { stmt: t, ctx: q.mod, scope: q.mod.scope } : undefined;
  }

  private resolveType(ctx: ModCtx, scope: Scope, typeStmt: Stmt, holder: () => SchemaNode | undefined): YType {
    const where = `${ctx.file}:${typeStmt.line}`;
    const tname = typeStmt.arg ?? '';
    const t = !tname.includes(':') && BUILTINS.has(tname)
      ? this.builtinType(ctx, scope, typeStmt, holder, where)
      : this.derivedType(ctx, scope, typeStmt, holder, where);
    addRestrictions(t, typeStmt, where);
    return t;
  }

  /** a built-in type with what its statement says (enums, bits, fraction-digits, union members, bases, leafref path) */
  private builtinType(ctx: ModCtx, scope: Scope, typeStmt: Stmt, holder: () => SchemaNode | undefined, where: string): YType {
    const tname = typeStmt.arg ?? '';
    const t: YType = { base: tname as YType['base'], name: tname, lengths: [], ranges: [], patterns: [] };
    if (tname === 'enumeration') {
      t.enums = subsOf(typeStmt, 'enum').map((e) => e.arg ?? '');
      t.enumValues = enumValuesOf(typeStmt, undefined);
    }
    if (tname === 'bits') t.bits = subsOf(typeStmt, 'bit').map((e) => e.arg ?? '');
    if (tname === 'decimal64') {
      const fd = Number(subArg(typeStmt, 'fraction-digits'));
      if (!Number.isInteger(fd) || fd < 1 || fd > 18) throw new YangSchemaError(`${where}: decimal64 needs fraction-digits 1..18`);
      t.fractionDigits = fd;
    }
    if (tname === 'union') t.members = subsOf(typeStmt, 'type').map((m) => this.resolveType(ctx, scope, m, holder));
    if (tname === 'identityref') {
      t.identityBases = subsOf(typeStmt, 'base').map((b) => {
        const q = this.qualify(ctx, b.arg ?? '', where);
        return { module: q.mod.ref.name, name: q.name };
      });
    }
    if (tname === 'leafref') t.leafref = this.leafrefOf(ctx, typeStmt, holder, where);
    return t;
  }

  /** a leafref's path: its steps when it has no predicate, its target's type resolved once on first use */
  private leafrefOf(ctx: ModCtx, typeStmt: Stmt, holder: () => SchemaNode | undefined, where: string): NonNullable<YType['leafref']> {
    const path = subArg(typeStmt, 'path') ?? '';
    let cached: YType | undefined | null = null;
    const raw = path.trim();
    let steps: Array<'..' | { ns: string; name: string }> | undefined;
    if (!raw.includes('[')) {
      steps = raw.split('/').filter((x) => x.length > 0).map((x) => {
        if (x === '..') return '..' as const;
        const q = this.qualify(ctx, x, where);
        return { ns: q.mod.ref.namespace, name: q.name };
      });
    }
    return {
      path,
      resolve: () => {
        if (cached === null) cached = this.resolveLeafref(ctx, path, holder());
        return cached;
      },
      ...(steps ? { steps } : {}),
      absolute: raw.startsWith('/'),
      requireInstance: subArg(typeStmt, 'require-instance') !== 'false',
      xpathNamespaces: () => ({
        namespaces: Object.fromEntries([...ctx.prefixes].map(([p, m]) => [p, this.ctxOf(m).ref.namespace])),
        defaultNs: ctx.ref.namespace,
      }),
    };
  }

  /** a typedef's type (resolved once per typedef), copied so that this use can add restrictions; enums may be restricted */
  private derivedType(ctx: ModCtx, scope: Scope, typeStmt: Stmt, holder: () => SchemaNode | undefined, where: string): YType {
    const tname = typeStmt.arg ?? '';
    const td = this.findTypedef(ctx, scope, tname, where);
    if (!td) throw new YangSchemaError(`${where}: type '${tname}' not found`);
    let baseT = this.typedefCache.get(td.stmt);
    if (!baseT) {
      const inner = sub(td.stmt, 'type');
      if (!inner) throw new YangSchemaError(`${td.ctx.file}:${td.stmt.line}: typedef without type`);
      baseT = { ...this.resolveType(td.ctx, td.scope, inner, holder), name: tname };
      this.typedefCache.set(td.stmt, baseT);
    }
    const t: YType = { ...baseT, name: tname, lengths: [...baseT.lengths], ranges: [...baseT.ranges], patterns: [...baseT.patterns] };
    if (t.base === 'enumeration' && subsOf(typeStmt, 'enum').length > 0) {
      t.enums = subsOf(typeStmt, 'enum').map((e) => e.arg ?? '');
      t.enumValues = enumValuesOf(typeStmt, baseT.enumValues);
    }
    return t;
  }

  /** leafref: type of the target leaf (absolute or relative path, predicates ignored) */
  private resolveLeafref(ctx: ModCtx, path: string, from: SchemaNode | undefined): YType | undefined {
    const clean = path.replace(/\[[^\]]*\]/g, '').trim();
    const steps = clean.split('/').filter((s) => s.length > 0);
    let candidates: SchemaNode[];
    let node: SchemaNode | InnerNode | undefined;
    if (clean.startsWith('/')) {
      candidates = [];
      for (const m of this.modules.values()) candidates.push(...m.top);
      node = undefined;
    } else {
      node = from;
      candidates = [];
    }
    for (const step of steps) {
      if (step === '..') {
        node = node?.parent;
        while (node && (node.kind === 'choice' || node.kind === 'case')) node = node.parent;
        candidates = node && 'children' in node ? flatten(node.children) : [];
        continue;
      }
      const q = this.qualify(ctx, step, path);
      const found = candidates.find((c) => c.name === q.name && c.module.name === q.mod.ref.name);
      if (!found) return undefined;
      node = found;
      candidates = 'children' in found ? flatten(found.children) : [];
    }
    if (node && (node.kind === 'leaf' || node.kind === 'leaf-list')) {
      const tt = node.type;
      return tt.leafref ? tt.leafref.resolve() : tt;
    }
    return undefined;
  }

  private compileModule(ctx: ModCtx, implemented: boolean): void {
    const top: SchemaNode[] = [];
    const rpcs = new Map<string, RpcSchema>();
    const notifications = new Map<string, OperationPart>();
    const identities = new Map<string, IdentityRef[]>();
    const mod: CompiledModule = { ref: ctx.ref, top, rpcs, notifications, identities, implemented };
    this.modules.set(ctx.ref.name, mod);
    for (const s of ctx.stmt.subs) {
      if (s.keyword === 'identity') {
        identities.set(s.arg ?? '', subsOf(s, 'base').map((b) => {
          const q = this.qualify(ctx, b.arg ?? '', `${ctx.file}:${b.line}`);
          return { module: q.mod.ref.name, name: q.name };
        }));
      }
    }
    top.push(...this.dataNodes(ctx, ctx.scope, ctx.stmt.subs, true, undefined));
    for (const s of subsOf(ctx.stmt, 'rpc')) {
      const name = s.arg ?? '';
      const scope = this.scopeOf(s, ctx.scope);
      const part = (kind: 'input' | 'output'): OperationPart => {
        const io = sub(s, kind);
        const p: OperationPart = { kind, name, module: ctx.ref, children: [] };
        if (io) p.children.push(...this.dataNodes(ctx, this.scopeOf(io, scope), io.subs, false, p));
        return p;
      };
      const mark = nacmMark(ctx, s);
      rpcs.set(name, { name, module: ctx.ref, input: part('input'), output: part('output'), ...(mark ? { nacm: mark } : {}) });
    }
    for (const s of subsOf(ctx.stmt, 'notification')) {
      const name = s.arg ?? '';
      const p: OperationPart = { kind: 'notification', name, module: ctx.ref, children: [] };
      p.children.push(...this.dataNodes(ctx, this.scopeOf(s, ctx.scope), s.subs, false, p));
      const mark = nacmMark(ctx, s);
      if (mark) p.nacm = mark;
      notifications.set(name, p);
    }
  }

  private applyAugments(ctx: ModCtx): void {
    for (const a of subsOf(ctx.stmt, 'augment')) {
      const where = `${ctx.file}:${a.line}`;
      const steps = (a.arg ?? '').split('/').filter((x) => x.length > 0);
      let candidates: SchemaNode[] | undefined;
      let target: SchemaNode | OperationPart | undefined;
      for (const [i, step] of steps.entries()) {
        const q = this.qualify(ctx, step, where);
        const m = this.modules.get(q.mod.ref.name);
        if (i === 0) {
          const rpc = m?.rpcs.get(q.name);
          const notif = m?.notifications.get(q.name);
          if (rpc && steps[1] !== undefined) {
            const io = this.qualify(ctx, steps[1], where).name;
            target = io === 'output' ? rpc.output : rpc.input;
            steps.splice(1, 1);
            candidates = target.children;
            continue;
          }
          if (notif) { target = notif; candidates = notif.children; continue; }
          candidates = m?.top ?? [];
        }
        const found = (candidates ?? []).find((c) => c.name === q.name && c.module.name === q.mod.ref.name);
        if (!found) throw new YangSchemaError(`${where}: augment target '${a.arg}' not found`);
        target = found;
        candidates = 'children' in found ? found.children : 'cases' in found ? (found.cases as unknown as SchemaNode[]) : [];
      }
      if (!target || !('children' in target)) throw new YangSchemaError(`${where}: augment target '${a.arg}' cannot hold nodes`);
      const config = 'config' in target ? target.config : false;
      const parent = target as InnerNode;
      target.children.push(...this.dataNodes(ctx, this.scopeOf(a, ctx.scope), a.subs, config, parent));
    }
  }

  /** compile the data definition statements among `stmts` */
  private dataNodes(ctx: ModCtx, scope: Scope, stmts: Stmt[], config: boolean, parent: InnerNode | undefined,
    refines: Stmt[] = []): SchemaNode[] {
    const out: SchemaNode[] = [];
    for (const s of stmts) {
      const node = this.dataNode(ctx, scope, s, config, parent, refines);
      if (Array.isArray(node)) out.push(...node);
      else if (node) {
        const mark = nacmMark(ctx, s);
        if (mark) node.nacm = mark;
        out.push(node);
      }
    }
    return out;
  }

  private dataNode(ctx: ModCtx, scope: Scope, s: Stmt, inheritedConfig: boolean, parent: InnerNode | undefined,
    refines: Stmt[]): SchemaNode | SchemaNode[] | undefined {
    const d = definitionOf(ctx, scope, s, inheritedConfig, parent, refines);
    switch (s.keyword) {
      case 'container': return this.containerNode(d);
      case 'leaf': return this.leafNode(d);
      case 'leaf-list': return this.leafListNode(d);
      case 'list': return this.listNode(d);
      case 'choice': return this.choiceNode(d);
      case 'anyxml':
      case 'anydata': {
        const n: AnyNode = { kind: s.keyword, name: d.name, module: ctx.ref, config: d.config, mandatory: d.pick('mandatory') === 'true' };
        if (parent) n.parent = parent;
        return n;
      }
      case 'uses': return this.usesNodes(d);
      default:
        return undefined;
    }
  }

  private containerNode(d: Definition): ContainerNode {
    const { ctx, s } = d;
    const n: ContainerNode = { kind: 'container', name: d.name, module: ctx.ref, config: d.config, presence: d.pick('presence') !== undefined, children: [] };
    if (d.parent) n.parent = d.parent;
    n.children.push(...this.dataNodes(ctx, this.scopeOf(s, d.scope), s.subs, d.config, n, d.deeperRefines));
    return n;
  }

  private leafNode(d: Definition): LeafNode {
    const typeStmt = sub(d.s, 'type');
    if (!typeStmt) throw new YangSchemaError(`${d.where}: leaf ${d.name} without type`);
    const holder: { n?: LeafNode } = {};
    const def = d.pick('default');
    const n: LeafNode = {
      kind: 'leaf', name: d.name, module: d.ctx.ref, config: d.config,
      type: this.resolveType(d.ctx, d.scope, typeStmt, () => holder.n), mandatory: d.pick('mandatory') === 'true',
      ...(def !== undefined ? { default: def } : {}),
    };
    if (d.parent) n.parent = d.parent;
    holder.n = n;
    return n;
  }

  private leafListNode(d: Definition): LeafListNode {
    const typeStmt = sub(d.s, 'type');
    if (!typeStmt) throw new YangSchemaError(`${d.where}: leaf-list ${d.name} without type`);
    const holder: { n?: LeafListNode } = {};
    // every default statement (a leaf-list may have several); those of a refine replace the original ones
    const refined = d.refine.flatMap((r) => subsOf(r, 'default'));
    const defaults = (refined.length > 0 ? refined : subsOf(d.s, 'default')).map((x) => x.arg ?? '');
    const n: LeafListNode = {
      kind: 'leaf-list', name: d.name, module: d.ctx.ref, config: d.config,
      type: this.resolveType(d.ctx, d.scope, typeStmt, () => holder.n),
      ...elementBounds(d.pick('min-elements'), d.pick('max-elements')),
      ...(defaults.length > 0 ? { defaults } : {}),
    };
    if (d.parent) n.parent = d.parent;
    holder.n = n;
    return n;
  }

  private listNode(d: Definition): ListNode {
    const { ctx, s, name, where } = d;
    const keys = listKeys(subArg(s, 'key'));
    const n: ListNode = {
      kind: 'list', name, module: ctx.ref, config: d.config, keys,
      unique: subsOf(s, 'unique').map((u) => uniqueSpec(u.arg)),
      ...elementBounds(d.pick('min-elements'), d.pick('max-elements')),
      children: [],
    };
    if (d.parent) n.parent = d.parent;
    n.children.push(...this.dataNodes(ctx, this.scopeOf(s, d.scope), s.subs, d.config, n, d.deeperRefines));
    if (d.config && keys.length === 0) throw new YangSchemaError(`${where}: config list ${name} needs a key`);
    for (const k of keys) {
      if (!n.children.some((c) => c.kind === 'leaf' && c.name === k)) throw new YangSchemaError(`${where}: key leaf ${k} not found in list ${name}`);
    }
    return n;
  }

  private choiceNode(d: Definition): ChoiceNode {
    const { ctx, s, config } = d;
    const n: ChoiceNode = {
      kind: 'choice', name: d.name, module: ctx.ref, config, mandatory: d.pick('mandatory') === 'true', cases: [],
      ...(d.pick('default') !== undefined ? { defaultCase: d.pick('default')! } : {}),
    };
    if (d.parent) n.parent = d.parent;
    const cscope = this.scopeOf(s, d.scope);
    for (const c of s.subs) {
      if (c.keyword === 'case') {
        const cn: CaseNode = { kind: 'case', name: c.arg ?? '', module: ctx.ref, config, children: [], parent: n };
        cn.children.push(...this.dataNodes(ctx, this.scopeOf(c, cscope), c.subs, config, cn, d.deeperRefines));
        n.cases.push(cn);
      } else if (SHORTHAND_CASE.includes(c.keyword)) {
        // shorthand case (RFC 7950 section 7.9.2)
        const cn: CaseNode = { kind: 'case', name: c.arg ?? '', module: ctx.ref, config, children: [], parent: n };
        cn.children.push(...this.dataNodes(ctx, cscope, [c], config, cn, d.deeperRefines));
        n.cases.push(cn);
      }
    }
    return n;
  }

  /** the grouping's nodes, refined, in the using module, with the uses' own augments applied */
  private usesNodes(d: Definition): SchemaNode[] {
    const { ctx, s, where } = d;
    const g = this.findGrouping(ctx, d.scope, d.name, where);
    const nested = [...subsOf(s, 'refine'), ...d.refines.filter((r) => r.arg !== undefined)];
    const nodes = this.dataNodes(g.ctx, g.scope, g.stmt.subs, d.inheritedConfig, d.parent, nested)
      // nodes defined in a grouping belong to the module that uses them (RFC 7950 section 7.13)
      .map((x) => rehome(x, ctx.ref));
    for (const a of subsOf(s, 'augment')) {
      const target = usesAugmentTarget(nodes, a.arg ?? '', where);
      target.children.push(...this.dataNodes(ctx, this.scopeOf(a, d.scope), a.subs, target.config, target as InnerNode));
    }
    return nodes;
  }
}

/** the statements a choice takes as shorthand cases (RFC 7950 section 7.9.2) */
const SHORTHAND_CASE = ['container', 'leaf', 'leaf-list', 'list', 'anyxml', 'anydata', 'choice', 'uses'];

/** one data definition statement with what its compilation needs: where it is, its config, its refines */
interface Definition {
  ctx: ModCtx;
  scope: Scope;
  s: Stmt;
  where: string;
  name: string;
  inheritedConfig: boolean;
  config: boolean;
  parent: InnerNode | undefined;
  refines: Stmt[];
  /** the refines of this node (by its name) */
  refine: Stmt[];
  /** the refines of nodes below it, their paths relative to it */
  deeperRefines: Stmt[];
  /** a substatement's argument, a refine's first */
  pick(kw: string): string | undefined;
}

function definitionOf(ctx: ModCtx, scope: Scope, s: Stmt, inheritedConfig: boolean, parent: InnerNode | undefined, refines: Stmt[]): Definition {
  const name = s.arg ?? '';
  const refine = refines.filter((r) => r.arg === name);
  return {
    ctx, scope, s, where: `${ctx.file}:${s.line}`, name, inheritedConfig,
    config: inheritedConfig && subArg(s, 'config') !== 'false',
    parent, refines, refine,
    deeperRefines: refines
      .filter((r) => (r.arg ?? '').startsWith(`${name}/`))
      .map((r) => ({ ...r, arg: (r.arg ?? '').slice(name.length + 1) })),
    pick: (kw) => {
      for (const r of refine) { const v = subArg(r, kw); if (v !== undefined) return v; }
      return subArg(s, kw);
    },
  };
}

/** min-elements / max-elements as numbers (0 and Infinity by default; 'unbounded' is Infinity) */
export function elementBounds(min: string | undefined, max: string | undefined): { min: number; max: number } {
  return { min: Number(min ?? '0'), max: max === undefined || max === 'unbounded' ? Infinity : Number(max) };
}

/** a list's key statement: the key leaf names, prefixes dropped */
export function listKeys(arg: string | undefined): string[] {
  return (arg ?? '').split(/\s+/).filter((k) => k.length > 0).map((k) => k.replace(/^.*:/, ''));
}

/** a unique statement: each descendant path as its steps, prefixes dropped */
export function uniqueSpec(arg: string | undefined): string[][] {
  return (arg ?? '').split(/\s+/).filter((x) => x.length > 0).map((p) => p.split('/').map((x) => x.replace(/^.*:/, '')));
}

/** the node a uses' augment names (a descendant path, prefixes dropped), which must hold nodes */
function usesAugmentTarget(nodes: SchemaNode[], arg: string, where: string): Extract<SchemaNode, { children: SchemaNode[] }> {
  const path = arg.split('/').map((x) => x.replace(/^.*:/, ''));
  let list: SchemaNode[] = nodes;
  let target: SchemaNode | undefined;
  for (const step of path) {
    target = list.find((x) => x.name === step);
    if (!target) throw new YangSchemaError(`${where}: uses augment target '${arg}' not found`);
    list = 'children' in target ? target.children : [];
  }
  if (!target || !('children' in target)) throw new YangSchemaError(`${where}: uses augment target '${arg}' cannot hold nodes`);
  return target;
}

/** RFC 8341 3.1.3: nacm:default-deny-all / default-deny-write on a statement (any prefix bound to ietf-netconf-acm) */
function nacmMark(ctx: ModCtx, s: Stmt): NacmDefault | undefined {
  let mark: NacmDefault | undefined;
  for (const x of s.subs) {
    const i = x.keyword.indexOf(':');
    if (i < 0 || ctx.prefixes.get(x.keyword.slice(0, i)) !== 'ietf-netconf-acm') continue;
    const ext = x.keyword.slice(i + 1);
    if (ext === 'default-deny-all') mark = 'all';
    else if (ext === 'default-deny-write' && mark === undefined) mark = 'write';
  }
  return mark;
}

function rehome(n: SchemaNode, ref: ModuleRef): SchemaNode {
  if (n.module.name === ref.name) return n;
  const m = n as { module: ModuleRef };
  m.module = ref;
  if ('children' in n) for (const c of n.children) rehome(c, ref);
  if (n.kind === 'choice') for (const c of n.cases) { (c as { module: ModuleRef }).module = ref; for (const cc of c.children) rehome(cc, ref); }
  return n;
}

/** the data children of a schema node list, with choices and cases flattened */
export function flatten(nodes: SchemaNode[]): SchemaNode[] {
  const out: SchemaNode[] = [];
  for (const n of nodes) {
    if (n.kind === 'choice') for (const c of n.cases) out.push(...flatten(c.children));
    else out.push(n);
  }
  return out;
}

/**
 * The integer values of an enumeration's enums (RFC 7950 9.6.4.2): an explicit `value`, else (first enum) 0 or
 * one above the highest value so far; in a restriction of a derived enumeration, an enum without `value` keeps
 * its base's.
 */
function enumValuesOf(typeStmt: Stmt, base: ReadonlyMap<string, number> | undefined): Map<string, number> {
  const out = new Map<string, number>();
  let highest: number | undefined;
  for (const e of subsOf(typeStmt, 'enum')) {
    const name = e.arg ?? '';
    const explicit = subArg(e, 'value');
    const v = explicit !== undefined ? Number(explicit) : base?.get(name) ?? (highest === undefined ? 0 : highest + 1);
    out.set(name, v);
    if (highest === undefined || v > highest) highest = v;
  }
  return out;
}

/** the restrictions written on this type statement (length, range, patterns) added to `t` */
function addRestrictions(t: YType, typeStmt: Stmt, where: string): void {
  const len = sub(typeStmt, 'length');
  if (len) t.lengths.push(restriction(len, parseIntervals(len.arg ?? '', { lo: 0n, hi: 18446744073709551615n }, undefined, false, where)));
  const rng = sub(typeStmt, 'range');
  if (rng) {
    const isDec = t.base === 'decimal64';
    const bounds = isDec ? { lo: -9223372036854775808n, hi: 9223372036854775807n } : INT_BOUNDS[t.base];
    if (!bounds) throw new YangSchemaError(`${where}: range on non-numeric type ${t.base}`);
    t.ranges.push(restriction(rng, parseIntervals(rng.arg ?? '', bounds, t.fractionDigits, isDec, where)));
  }
  for (const p of subsOf(typeStmt, 'pattern')) {
    const src = p.arg ?? '';
    const pr: YType['patterns'][number] = {
      re: compileXsdPattern(src), source: src, invert: subArg(p, 'modifier') === 'invert-match',
    };
    const appTag = subArg(p, 'error-app-tag');
    const message = subArg(p, 'error-message');
    if (appTag !== undefined) pr.appTag = appTag;
    if (message !== undefined) pr.message = message;
    t.patterns.push(pr);
  }
}
