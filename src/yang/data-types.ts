/**
 * The schema of a data node, found by its element names from the top: what the RFC 7950 section 10 XPath
 * functions deref() (10.3.1) and enum-value() (10.5.1) need to know about a node of a data tree (its type). Choice and case are transparent in data (as in validate.ts); a node whose namespace and
 * name no loaded module defines at that place has no schema (undefined).
 */
import type { CompiledModule, SchemaNode } from './schema.js';

/** the schema node of the data node at `path` (each element's namespace and name, from the top) */
export function schemaNodeAt(modules: ReadonlyMap<string, CompiledModule>, path: ReadonlyArray<{ ns: string; name: string }>): SchemaNode | undefined {
  const [top, ...rest] = path;
  if (top === undefined) return undefined;
  let node: SchemaNode | undefined;
  for (const m of modules.values()) {
    if (m.ref.namespace !== top.ns) continue;
    node = childNamed(m.top, top.ns, top.name);
    if (node) break;
  }
  for (const step of rest) {
    if (!node || (node.kind !== 'container' && node.kind !== 'list')) return undefined;
    node = childNamed(node.children, step.ns, step.name);
  }
  return node;
}

function childNamed(children: readonly SchemaNode[], ns: string, name: string): SchemaNode | undefined {
  for (const c of children) {
    if (c.kind === 'choice') {
      for (const k of c.cases) {
        const found = childNamed(k.children, ns, name);
        if (found) return found;
      }
    } else if (c.name === name && c.module.namespace === ns) {
      return c;
    }
  }
  return undefined;
}
