/**
 * The layers stay separate (docs/architecture.md): imports point down. This test reads every import in
 * src/ (static and dynamic) and fails on
 *  - an import that crosses a layer the wrong way (RULES: a folder reaching past its neighbours), and
 *  - an import that bypasses a folder's index.ts (a folder with an index.ts is entered only through it).
 * The rule functions are also run against synthetic graphs with planted violations, so that a rule that
 * stopped matching anything fails here too.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** src-relative import targets of a file, e.g. 'netconf/xml/index.ts' */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

type Graph = Array<{ from: string; to: string[] }>;

interface Rule {
  /** importing files (prefix of the src-relative path) */
  from: string;
  /** forbidden targets (prefixes); a folder may always import its own files (cli/ importing cli/) */
  forbid: string[];
  why: string;
}

const ALL_NETCONF = ['netconf/framing', 'netconf/ssh', 'netconf/xml', 'netconf/session', 'netconf/server', 'netconf/client', 'netconf/registry', 'netconf/rpc-error', 'netconf/xpath', 'netconf/tls', 'netconf/peer-close'];
/** the plugin host's internals: a plugin sees src/plugin/contract.ts only */
const PLUGIN_INTERNALS = ['plugin/host', 'plugin/manifest', 'plugin/errors', 'plugin/semver'];

const RULES: Rule[] = [
  { from: 'netconf/framing/', forbid: ['netconf/xml', 'netconf/session', 'netconf/server', 'netconf/client', 'yang', 'oam', 'pve', 'device', 'simulator', 'tokens', 'store', 'cli', 'plugin'], why: 'framing knows bytes only' },
  { from: 'netconf/ssh/', forbid: ['netconf/xml', 'netconf/framing', 'netconf/session', 'netconf/server', 'netconf/client', 'yang', 'oam', 'pve', 'device', 'simulator', 'tokens', 'store', 'cli', 'plugin'], why: 'the ssh2 loader knows SSH only' },
  { from: 'netconf/tls/', forbid: ['netconf/xml', 'netconf/framing', 'netconf/session', 'netconf/server', 'netconf/client', 'netconf/ssh', 'yang', 'oam', 'pve', 'device', 'simulator', 'tokens', 'store', 'cli', 'plugin', 'config'], why: 'the TLS helpers know certificates only (cert-to-name, versions)' },
  { from: 'netconf/xml/', forbid: ['netconf/framing', 'netconf/session', 'netconf/server', 'netconf/client', 'yang', 'oam', 'pve', 'device', 'simulator', 'store', 'cli', 'plugin'], why: 'the XML layer knows no session' },
  { from: 'netconf/xpath/', forbid: ['netconf/framing', 'netconf/session', 'netconf/server', 'netconf/client', 'netconf/ssh', 'netconf/registry', 'netconf/rpc-error', 'yang', 'oam', 'pve', 'device', 'simulator', 'tokens', 'integrity', 'store', 'cli', 'plugin', 'config'], why: 'XPath evaluates over XML element trees and knows no transport (the server makes rpc-errors of its errors)' },
  { from: 'netconf/session/', forbid: ['netconf/server', 'netconf/client', 'oam', 'pve', 'device', 'simulator', 'store', 'cli', 'plugin'], why: 'the session is shared by server and client and imports neither' },
  { from: 'netconf/client/', forbid: ['netconf/server', 'oam', 'pve', 'device', 'simulator', 'cli', 'plugin'], why: 'the client knows no server' },
  { from: 'netconf/server/', forbid: ['netconf/client', 'oam', 'pve', 'device', 'simulator', 'cli', 'plugin', 'tokens', 'integrity'], why: 'the server hosts plugins and does not know the flow' },
  { from: 'netconf/registry.ts', forbid: ['netconf/server', 'netconf/session', 'netconf/client', 'netconf/framing', 'plugin', 'oam', 'store'], why: 'the registry contract is a leaf (types of XML, logger and YANG modules only)' },
  { from: 'netconf/peer-close.ts', forbid: [''], why: 'the bound on a peer\'s close after we end a connection is a leaf every transport uses (node:net only)' },
  { from: 'integrity/', forbid: ['netconf', 'oam', 'pve', 'device', 'simulator', 'store', 'cli', 'plugin', 'yang'], why: 'integrity knows no transport' },
  { from: 'tokens/', forbid: ['netconf', 'oam', 'pve', 'device', 'simulator', 'cli', 'plugin', 'yang'], why: 'tokens know no transport' },
  { from: 'yang/', forbid: ['netconf/session', 'netconf/client', 'netconf/framing', 'netconf/server', 'netconf/registry', 'oam', 'pve', 'device', 'simulator', 'cli', 'plugin', 'store'], why: 'YANG validation knows no transport (it owns the module-info type the registry uses)' },
  { from: 'store/', forbid: ['oam', 'pve', 'device', 'simulator', 'cli', 'plugin', 'netconf/server', 'netconf/session', 'netconf/client'], why: 'the store does not know the flow' },
  { from: 'oam/', forbid: [...ALL_NETCONF, 'cli', 'device', 'simulator', 'pve', 'plugin', 'config', 'yang'], why: 'the flow knows no transport: the world only through its ports (src/oam/ports.ts)' },
  { from: 'oam-plugin/', forbid: [...ALL_NETCONF.filter((p) => p !== 'netconf/xml'), ...PLUGIN_INTERNALS, 'cli', 'simulator', 'config'],
    why: 'the plugin reaches the server only through the plugin contract (src/plugin/contract.ts) and builds XML with the XML layer' },
  { from: 'device/', forbid: ['cli', 'simulator', 'pve', 'oam-plugin', 'plugin', 'store', 'config'], why: 'the southbound driver knows neither the simulator nor the PVE nor the plugin' },
  { from: 'simulator/', forbid: ['cli', 'pve', 'oam-plugin', 'plugin', 'store', 'config'], why: 'the simulated femtocell knows the device module, not the OAM nor the PVE' },
  { from: 'conformance/', forbid: ['cli/', 'simulator', 'oam/', 'oam-plugin', 'pve', 'plugin', 'store', 'config', 'netconf/server'], why: 'the conformance kit tests a device through the device layer, knowing neither our simulator nor the OAM it stands in for' },
  { from: 'pve/', forbid: ['simulator', 'oam-plugin', 'plugin', 'cli/'], why: 'the verifier does not depend on the simulator it verifies (its command, src/cli/pve-service.ts, defaults to the simulator\'s factory reference values)' },
  { from: 'plugin/', forbid: ['oam', 'pve', 'device', 'simulator', 'cli', 'netconf/server', 'netconf/session', 'netconf/client'], why: 'the plugin host knows the contract, not a plugin nor the server\'s internals' },
  { from: 'metrics/', forbid: ['netconf', 'oam', 'pve', 'device', 'simulator', 'tokens', 'store', 'cli', 'plugin', 'yang', 'integrity', 'config'], why: 'the metrics registry is a leaf: the layers above feed it' },
  { from: '', forbid: ['cli/'], why: 'nothing below the command line imports it' },
];

/** 'a -> b' for each import of a `rule.from` file into a forbidden target */
function layerViolations(graph: Graph, rule: Rule): string[] {
  const bad: string[] = [];
  for (const { from, to } of graph) {
    if (!from.startsWith(rule.from)) continue;
    for (const t of to) if (rule.forbid.some((p) => t.startsWith(p) && !from.startsWith(p))) bad.push(`${from} -> ${t}`);
  }
  return bad;
}

/** 'a -> b' for each import from another folder that names a file of a folder with an index.ts other than it */
function indexViolations(graph: Graph, hasIndex: (dir: string) => boolean): string[] {
  const bad: string[] = [];
  for (const { from, to } of graph) {
    for (const t of to) {
      const dir = dirname(t);
      if (dir === '.' || dir === dirname(from) || t === `${dir}/index.ts`) continue;
      if (hasIndex(dir)) bad.push(`${from} -> ${t}`);
    }
  }
  return bad;
}

/**
 * Entry points sit above their folder: they wire its parts and nothing in src/ imports them (src/index.ts is the
 * plugin's, cli/main.ts the command line's, which dispatches to cli/commands/).
 */
const ENTRY_POINTS = ['index.ts', 'cli/main.ts'];

/**
 * The node of a file in the folder graph: its folder, except
 *  - the files directly in src/ (errors.ts, abort.ts, host-port.ts: leaves every layer may use),
 *  - the files directly in src/netconf/ (registry.ts and rpc-error.ts: the NETCONF contracts, each a leaf module
 *    that RULES names on its own; src/yang produces rpc-errors and the registry names YANG module info; peer-close.ts,
 *    the transports' bound on a peer's close),
 *  - the entry points,
 * which are nodes of their own.
 */
function folderOf(file: string): string {
  const dir = dirname(file);
  return dir === '.' || dir === 'netconf' || ENTRY_POINTS.includes(file) ? file : dir;
}

/** the folder graph: one edge per pair of folders with an import between them */
function folderGraph(graph: Graph): Graph {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of graph) {
    const f = folderOf(from);
    if (!edges.has(f)) edges.set(f, new Set());
    for (const t of to) if (folderOf(t) !== f) edges.get(f)!.add(folderOf(t));
  }
  return [...edges].map(([from, to]) => ({ from, to: [...to] }));
}

/** 'a -> b' for each import of an entry point */
function entryPointImports(graph: Graph): string[] {
  return graph.flatMap(({ from, to }) => to.filter((t) => ENTRY_POINTS.includes(t)).map((t) => `${from} -> ${t}`));
}

/** the cycles of a file graph (strongly connected components of more than one file, or a file importing itself) */
function fileCycles(graph: Graph): string[][] {
  const edges = new Map(graph.map((g) => [g.from, g.to]));
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        onStack.delete(w);
        c.push(w);
        if (w === v) break;
      }
      if (c.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

const graph: Graph = files(SRC).map((f) => ({ from: relative(SRC, f), to: importsOf(f) }));
const hasIndex = (dir: string): boolean => existsSync(join(SRC, dir, 'index.ts'));

describe('architecture: imports point down', () => {
  for (const rule of RULES) {
    it(`${rule.from || 'src/'}: ${rule.why}`, () => {
      expect(layerViolations(graph, rule)).toEqual([]);
    });
  }

  it('a folder with an index.ts is imported through it from other folders', () => {
    expect(indexViolations(graph, hasIndex)).toEqual([]);
  });

  it('no file cycles (type-only imports count: a cycle is two files that cannot be read apart)', () => {
    expect(fileCycles(graph)).toEqual([]);
  });

  it('no folder cycles: a folder never reaches, through others, a folder that imports it (also within src/cli and src/netconf)', () => {
    expect(fileCycles(folderGraph(graph))).toEqual([]);
  });

  it('nothing in src/ imports an entry point', () => {
    expect(entryPointImports(graph)).toEqual([]);
  });

  it('the flow (src/oam), the plugin (src/oam-plugin), pve, device and the simulator each have an index.ts', () => {
    for (const d of ['oam', 'oam-plugin', 'pve', 'device', 'simulator', 'store', 'tokens', 'integrity', 'yang']) expect(hasIndex(d), d).toBe(true);
  });

  it('ssh2 is loaded only by src/netconf/ssh/ssh2.ts (pooled padding randomness); elsewhere only its types', () => {
    const bad = files(SRC)
      .filter((f) => relative(SRC, f) !== 'netconf/ssh/ssh2.ts')
      .filter((f) => /^import\s+(?!type\b)[^;]*from\s+'ssh2(\/[^']*)?'|require\(\s*'ssh2|import\(\s*'ssh2/m.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(bad).toEqual([]);
  });

  it('finds the imports it checks', () => {
    expect(graph.length).toBeGreaterThan(50);
    expect(graph.find((g) => g.from === 'netconf/session/index.ts')?.to.length).toBeGreaterThan(0);
    expect(graph.find((g) => g.from === 'oam-plugin/northbound.ts')?.to).toContain('plugin/contract.ts');
  });
});

describe('architecture: the rules catch planted violations', () => {
  const rule = (from: string): Rule => RULES.find((r) => r.from === from)!;

  it('the flow importing the NETCONF server, or the plugin importing the server past the contract', () => {
    const planted: Graph = [
      { from: 'oam/runner.ts', to: ['oam/ports.ts', 'netconf/server/registry.ts'] },
      { from: 'oam/transition.ts', to: ['device/index.ts'] },
      { from: 'oam-plugin/northbound.ts', to: ['plugin/contract.ts', 'netconf/server/index.ts', 'netconf/xml/index.ts'] },
      { from: 'oam-plugin/activate.ts', to: ['netconf/rpc-error.ts', 'plugin/host.ts'] },
    ];
    expect(layerViolations(planted, rule('oam/'))).toEqual(['oam/runner.ts -> netconf/server/registry.ts', 'oam/transition.ts -> device/index.ts']);
    expect(layerViolations(planted, rule('oam-plugin/'))).toEqual([
      'oam-plugin/northbound.ts -> netconf/server/index.ts', 'oam-plugin/activate.ts -> netconf/rpc-error.ts', 'oam-plugin/activate.ts -> plugin/host.ts',
    ]);
  });

  it('YANG importing the server, the PVE importing the simulator, anything importing the CLI', () => {
    const planted: Graph = [
      { from: 'yang/load.ts', to: ['netconf/server/registry.ts', 'netconf/xml/index.ts'] },
      { from: 'pve/service.ts', to: ['simulator/index.ts', 'device/index.ts'] },
      { from: 'store/sqlite.ts', to: ['cli/args.ts'] },
      { from: 'cli/main.ts', to: ['cli/args.ts'] },
    ];
    expect(layerViolations(planted, rule('yang/'))).toEqual(['yang/load.ts -> netconf/server/registry.ts']);
    expect(layerViolations(planted, rule('pve/'))).toEqual(['pve/service.ts -> simulator/index.ts']);
    expect(layerViolations(planted, rule(''))).toEqual(['store/sqlite.ts -> cli/args.ts']);
  });

  it('a file cycle, through any number of files', () => {
    const planted: Graph = [
      { from: 'pve/service.ts', to: ['pve/collector.ts', 'pve/types.ts'] },
      { from: 'pve/collector.ts', to: ['pve/types.ts', 'pve/appraise.ts'] },
      { from: 'pve/appraise.ts', to: ['pve/service.ts'] },
      { from: 'pve/types.ts', to: [] },
      { from: 'oam/runner.ts', to: ['oam/runner.ts'] },
    ];
    expect(fileCycles(planted)).toEqual([['pve/appraise.ts', 'pve/collector.ts', 'pve/service.ts'], ['oam/runner.ts']]);
    expect(fileCycles(planted.slice(1))).toEqual([['oam/runner.ts']]);
  });

  it('an import past an index.ts, but not one inside a folder, into its index or into a folder without one; inside src/netconf too', () => {
    const planted: Graph = [
      { from: 'pve/collector.ts', to: ['device/connect.ts', 'device/index.ts', 'pve/service.ts', 'log/logger.ts', 'errors.ts'] },
      { from: 'oam-plugin/activate.ts', to: ['oam/runner.ts', 'store/types.ts'] },
      { from: 'netconf/session/hello.ts', to: ['netconf/xml/build.ts', 'netconf/xml/index.ts', 'netconf/rpc-error.ts'] },
      { from: 'netconf/server/server.ts', to: ['netconf/session/server-session.ts', 'netconf/server/dispatch.ts'] },
    ];
    const withIndex = (d: string): boolean => ['device', 'pve', 'oam', 'store', 'netconf/xml', 'netconf/session', 'netconf/server'].includes(d);
    expect(indexViolations(planted, withIndex)).toEqual([
      'pve/collector.ts -> device/connect.ts', 'oam-plugin/activate.ts -> oam/runner.ts', 'oam-plugin/activate.ts -> store/types.ts',
      'netconf/session/hello.ts -> netconf/xml/build.ts', 'netconf/server/server.ts -> netconf/session/server-session.ts',
    ]);
  });

  it('a folder cycle: plugin <-> config, cli <-> cli/commands, through a third folder; not through a leaf file or an entry point', () => {
    const planted: Graph = [
      { from: 'plugin/host.ts', to: ['config/secrets.ts', 'errors.ts'] },
      { from: 'config/load.ts', to: ['plugin/manifest.ts', 'errors.ts'] },
      { from: 'cli/main.ts', to: ['cli/commands/serve.ts', 'cli/args.ts'] },
      { from: 'cli/commands/serve.ts', to: ['cli/args.ts', 'cli/rollout/engine.ts'] },
      { from: 'cli/rollout/netconf-target.ts', to: ['cli/commands/rollout.ts'] },
      { from: 'yang/load.ts', to: ['netconf/rpc-error.ts'] },
      { from: 'netconf/registry.ts', to: ['yang/index.ts'] },
      { from: 'errors.ts', to: [] },
    ];
    expect(fileCycles(folderGraph(planted)).map((c) => c.join(' <-> ')).sort()).toEqual(['cli/commands <-> cli/rollout', 'config <-> plugin']);
    // the command line's entry dispatching to its commands is no cycle; a helper of src/cli importing a command is
    expect(fileCycles(folderGraph([...planted.slice(2, 4), { from: 'cli/args.ts', to: ['cli/commands/serve.ts'] }]))).toEqual([['cli', 'cli/commands']]);
    expect(entryPointImports([{ from: 'cli/commands/demo.ts', to: ['cli/main.ts', 'cli/args.ts'] }])).toEqual(['cli/commands/demo.ts -> cli/main.ts']);
  });
});
