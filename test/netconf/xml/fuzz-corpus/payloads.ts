/**
 * The hostile XML payloads of issue 11 (items 2 and 3), rebuilt byte for byte from their description, so the
 * fuzz test and bench/xml-limits.ts use the same input. Each is a complete NETCONF message (no framing).
 */
import { NETCONF_BASE_NS } from '../../../../src/netconf/xml/index.js';

/** `levels` nested elements, each declaring `perLevel` prefixes of its own (distinct, so all stay in scope) */
function prefixTower(levels: number, perLevel: number): { open: string; close: string } {
  let open = '';
  let close = '';
  for (let i = 0; i < levels; i++) {
    let decls = '';
    for (let j = 0; j < perLevel; j++) decls += ` xmlns:p${i}x${j}="u:${i}:${j}"`;
    open += `<p${i}x0:e${decls}>`;
    close = `</p${i}x0:e>` + close;
  }
  return { open, close };
}

/** item 2: a ~400 KB <hello>, 250 levels x 63 prefixes (ran the process out of heap) */
export function helloPrefixBomb(levels = 250, perLevel = 63): string {
  const t = prefixTower(levels, perLevel);
  return `<hello xmlns="${NETCONF_BASE_NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities>`
    + t.open + t.close + '</hello>';
}

/** item 2: the same shape as an <rpc> of ~325 KB (2.5 GB, event loop blocked 23 s) */
export function rpcPrefixBomb(levels = 230, perLevel = 60): string {
  const t = prefixTower(levels, perLevel);
  return `<rpc message-id="1" xmlns="${NETCONF_BASE_NS}"><get><filter type="subtree">` + t.open + t.close + '</filter></get></rpc>';
}

/** item 3: ~420 KB, 60,000 nesting levels (answered after 35 s, every other session waited) */
export function deepNesting(levels = 60_000): string {
  return `<rpc message-id="1" xmlns="${NETCONF_BASE_NS}"><get><filter type="subtree">`
    + '<a>'.repeat(levels) + '</a>'.repeat(levels) + '</filter></get></rpc>';
}

/** many elements, each declaring a fresh default namespace (per-message declaration count) */
export function manyDeclarations(n = 20_000): string {
  return `<rpc message-id="1" xmlns="${NETCONF_BASE_NS}"><get><filter type="subtree">`
    + '<x xmlns="urn:y"/>'.repeat(n) + '</filter></get></rpc>';
}

/** one element with more attributes than any NETCONF element needs */
export function manyAttributes(n = 5_000): string {
  let attrs = '';
  for (let i = 0; i < n; i++) attrs += ` a${i}="v"`;
  return `<rpc message-id="1" xmlns="${NETCONF_BASE_NS}"><get${attrs}/></rpc>`;
}

export const ISSUE_PAYLOADS: ReadonlyArray<{ name: string; hello: boolean; build: () => string }> = [
  { name: 'hello-prefix-bomb', hello: true, build: () => helloPrefixBomb() },
  { name: 'rpc-prefix-bomb', hello: false, build: () => rpcPrefixBomb() },
  { name: 'deep-nesting', hello: false, build: () => deepNesting() },
  { name: 'many-declarations', hello: false, build: () => manyDeclarations() },
  { name: 'many-attributes', hello: false, build: () => manyAttributes() },
];
