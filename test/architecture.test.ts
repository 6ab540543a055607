/**
 * The layers stay separate (docs/architecture.md): imports point down. This test reads every import in
 * src/ (static and dynamic) and fails on an import that crosses a layer the wrong way.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
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

const graph = files(SRC).map((f) => ({ from: relative(SRC, f), to: importsOf(f) }));

/** the implementations of src/oam/ports.ts that the plugin's activate() builds from its configuration */
const PORT_IMPLEMENTATIONS = ['device/driver', 'device/connect', 'pve/client', 'pve/netconf-client'];

/** [importing files (prefix), forbidden targets (prefix), allowed exceptions (exact target or from)] */
const RULES: Array<{ from: string; forbid: string[]; unless?: (from: string, to: string) => boolean; why: string }> = [
  { from: 'netconf/framing/', forbid: ['netconf/xml', 'netconf/session', 'netconf/server', 'netconf/client', 'yang', 'oam', 'pve', 'device', 'tokens', 'store', 'cli', 'plugin'], why: 'framing knows bytes only' },
  { from: 'netconf/ssh/', forbid: ['netconf/xml', 'netconf/framing', 'netconf/session', 'netconf/server', 'netconf/client', 'yang', 'oam', 'pve', 'device', 'tokens', 'store', 'cli', 'plugin'], why: 'the ssh2 loader knows SSH only' },
  { from: 'netconf/xml/', forbid: ['netconf/framing', 'netconf/session', 'netconf/server', 'netconf/client', 'yang', 'oam', 'pve', 'device', 'store', 'cli', 'plugin'], why: 'the XML layer knows no session' },
  { from: 'netconf/session/', forbid: ['netconf/server', 'netconf/client', 'oam', 'pve', 'device', 'store', 'cli', 'plugin'], why: 'the session is shared by server and client and imports neither' },
  { from: 'netconf/client/', forbid: ['netconf/server', 'oam', 'pve', 'device', 'cli', 'plugin'], why: 'the client knows no server' },
  { from: 'netconf/server/', forbid: ['netconf/client', 'oam', 'pve', 'device', 'cli', 'plugin', 'tokens', 'integrity'], why: 'the server hosts plugins and does not know the flow' },
  { from: 'integrity/', forbid: ['netconf', 'oam', 'pve', 'device', 'store', 'cli', 'plugin', 'yang'], why: 'integrity knows no transport' },
  { from: 'tokens/', forbid: ['netconf', 'oam', 'pve', 'device', 'cli', 'plugin', 'yang'], why: 'tokens know no transport' },
  { from: 'yang/', forbid: ['netconf/session', 'netconf/client', 'netconf/framing', 'netconf/server', 'oam', 'pve', 'device', 'cli', 'plugin', 'store'], unless: (_f, t) => t === 'netconf/server/registry.ts', why: 'YANG validation knows no transport (the module-info type is shared)' },
  { from: 'store/', forbid: ['oam', 'pve', 'device', 'cli', 'plugin', 'netconf/server', 'netconf/session', 'netconf/client'], why: 'the store does not know the flow' },
  { from: 'oam/', forbid: ['cli', 'device', 'pve', 'netconf/session', 'netconf/client', 'netconf/framing', 'netconf/server'], unless: (f, t) => t === 'netconf/server/registry.ts' || (f === 'oam/plugin.ts' && PORT_IMPLEMENTATIONS.some((p) => t.startsWith(p))),
    why: 'the flow reaches the NMS only through the plugin contract and the world through its ports (plugin.ts, the composition root, builds the real ports)' },
  { from: 'pve/', forbid: ['device/model', 'device/simulator', 'oam/runner', 'oam/transition', 'oam/service', 'oam/plugin', 'cli/'], unless: (f) => f === 'pve/cli.ts', why: 'the verifier does not depend on the simulator it verifies' },
  { from: '', forbid: ['cli/'], unless: (f) => f.startsWith('cli/'), why: 'nothing below the command line imports it' },
];

describe('architecture: imports point down', () => {
  for (const rule of RULES) {
    it(`${rule.from || 'src/'}: ${rule.why}`, () => {
      const bad: string[] = [];
      for (const { from, to } of graph) {
        if (!from.startsWith(rule.from)) continue;
        for (const t of to) {
          if (rule.forbid.some((p) => t.startsWith(p)) && !rule.unless?.(from, t)) bad.push(`${from} -> ${t}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

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
  });
});
