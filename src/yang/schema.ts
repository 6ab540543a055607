/**
 * The compiled schema model: what src/yang/compile.ts produces and src/yang/validate.ts walks.
 * Choice and case are kept as nodes (they are transparent in instance data).
 */

export interface ModuleRef {
  readonly name: string;
  readonly namespace: string;
  readonly prefix: string;
  readonly revision: string;
}

export type Builtin =
  | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'decimal64' | 'string' | 'boolean' | 'enumeration' | 'bits' | 'binary' | 'leafref'
  | 'identityref' | 'empty' | 'union' | 'instance-identifier';

/** an inclusive interval; numbers as bigint (decimal64 scaled by 10^fraction-digits) */
export interface Interval {
  lo: bigint;
  hi: bigint;
}

export interface Restriction {
  intervals: Interval[];
  /** the expression as written, for messages */
  text: string;
  appTag?: string;
  message?: string;
}

export interface PatternRestriction {
  re: RegExp;
  source: string;
  invert: boolean;
  appTag?: string;
  message?: string;
}

export interface IdentityRef {
  module: string;
  name: string;
}

export interface YType {
  base: Builtin;
  /** the name the type was referred to by (typedef or built-in), for messages */
  name: string;
  lengths: Restriction[];
  ranges: Restriction[];
  patterns: PatternRestriction[];
  enums?: string[];
  /** each enum's integer value (RFC 7950 9.6.4.2: explicit, else one above the highest before it; a restricted enum keeps its base's) */
  enumValues?: ReadonlyMap<string, number>;
  bits?: string[];
  fractionDigits?: number;
  members?: YType[];
  identityBases?: IdentityRef[];
  /** leafref: resolved lazily to the target leaf's type */
  leafref?: {
    path: string;
    resolve: () => YType | undefined;
    /** the path as steps ('..' or a qualified name); undefined when it has predicates (not evaluated) */
    steps?: Array<'..' | { ns: string; name: string }>;
    absolute: boolean;
    /** RFC 7950 section 9.9.3, default true */
    requireInstance: boolean;
    /**
     * the path's prefix bindings (the module that wrote it: its own prefix and its imports) and the namespace
     * of unprefixed names in it (that module's), for evaluating it as XPath (deref(), RFC 7950 10.3.1)
     */
    xpathNamespaces?: () => { namespaces: Readonly<Record<string, string>>; defaultNs: string };
  };
}

interface NodeBase {
  readonly name: string;
  readonly module: ModuleRef;
  /** true for configuration nodes (RFC 7950 section 7.21.1); false for state, RPC and notification content */
  readonly config: boolean;
  parent?: InnerNode;
  /** RFC 8341 extension on this node: nacm:default-deny-write ('write') or nacm:default-deny-all ('all') */
  nacm?: NacmDefault;
}

/** RFC 8341 section 3.1.3: the ietf-netconf-acm extensions default-deny-write and default-deny-all */
export type NacmDefault = 'write' | 'all';

export interface ContainerNode extends NodeBase {
  readonly kind: 'container';
  readonly presence: boolean;
  readonly children: SchemaNode[];
}

export interface LeafNode extends NodeBase {
  readonly kind: 'leaf';
  readonly type: YType;
  readonly mandatory: boolean;
  readonly default?: string;
}

export interface LeafListNode extends NodeBase {
  readonly kind: 'leaf-list';
  readonly type: YType;
  readonly min: number;
  readonly max: number;
  /** YANG 1.1 default values (RFC 7950 7.7.4), in order; a refine's defaults replace the leaf-list's own */
  readonly defaults?: string[];
}

export interface ListNode extends NodeBase {
  readonly kind: 'list';
  readonly keys: string[];
  /** each unique statement: descendant schema node names, each a path of names */
  readonly unique: string[][][];
  readonly min: number;
  readonly max: number;
  readonly children: SchemaNode[];
}

export interface ChoiceNode extends NodeBase {
  readonly kind: 'choice';
  readonly mandatory: boolean;
  readonly cases: CaseNode[];
  readonly defaultCase?: string;
}

export interface CaseNode extends NodeBase {
  readonly kind: 'case';
  readonly children: SchemaNode[];
}

export interface AnyNode extends NodeBase {
  readonly kind: 'anyxml' | 'anydata';
  readonly mandatory: boolean;
}

export type SchemaNode = ContainerNode | LeafNode | LeafListNode | ListNode | ChoiceNode | AnyNode;
export type InnerNode = ContainerNode | ListNode | ChoiceNode | CaseNode | OperationPart;

/** the input or output of an RPC, or a notification's content */
export interface OperationPart {
  readonly kind: 'input' | 'output' | 'notification';
  readonly name: string;
  readonly module: ModuleRef;
  readonly children: SchemaNode[];
  parent?: undefined;
  /** a notification's nacm:default-deny-all (RFC 8341 section 3.4.6) */
  nacm?: NacmDefault;
}

export interface RpcSchema {
  readonly name: string;
  readonly module: ModuleRef;
  readonly input: OperationPart;
  readonly output: OperationPart;
  /** nacm:default-deny-all on the rpc statement (RFC 8341 section 3.4.4) */
  nacm?: NacmDefault;
}

export interface CompiledModule {
  readonly ref: ModuleRef;
  readonly top: SchemaNode[];
  readonly rpcs: Map<string, RpcSchema>;
  readonly notifications: Map<string, OperationPart>;
  /** identity name -> its bases (module-qualified) */
  readonly identities: Map<string, IdentityRef[]>;
  readonly implemented: boolean;
}

export function isMandatory(n: SchemaNode): boolean {
  switch (n.kind) {
    case 'leaf': return n.mandatory;
    case 'anyxml': case 'anydata': return n.mandatory;
    case 'choice': return n.mandatory;
    case 'list': case 'leaf-list': return n.min > 0;
    case 'container': return !n.presence && n.children.some(isMandatory);
  }
}
