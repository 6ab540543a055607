/**
 * Ad-hoc (issue 15, branch invcache): one edit-config that changes one leaf the device driver does not use (an
 * inventory entry's description) on an OAM whose running inventory has N entries naming files: even entries ssh with
 * credentials file:PW, odd entries tls with tls-ca, tls-client-certificate and credentials file:KEY. Either every
 * entry names the same files (`shared`, the usual case: one password, one CA, one client certificate and key) or each
 * its own (`distinct`). Measured per edit: the rpc's time (client side), the longest event-loop block while it ran
 * (perf_hooks monitorEventLoopDelay, 1 ms resolution), and the synchronous file calls on the bench's files
 * (readFileSync / openSync / statSync, counted by wrapping node:fs and syncBuiltinESMExports).
 * Two servers in this one process: A = another checkout (--base DIR, the code before the change), B = this tree;
 * rounds A B B A.
 * With --listener: the inventory listener alone (devicesFromConfig's onInventory over the same entries, as after a
 * change of running that leaves the entries as they were), A B B A in the same way: its wall time (synchronous).
 *   node --import tsx bench/_inventory-edit.ts --base DIR [N ...] [--rounds R] [--listener]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Fs from 'node:fs';
import type * as OamServer from '../src/cli/oam-server.js';
import type * as ConfigLoad from '../src/config/load.js';
import type * as Manifest from '../src/plugin/manifest.js';
import type * as PluginHost from '../src/plugin/host.js';
import type * as Log from '../src/log/logger.js';
import type * as Client from '../src/netconf/client/index.js';
import type * as Xml from '../src/netconf/xml/index.js';
import type * as OamPlugin from '../src/oam-plugin/index.js';
import type * as Ports from '../src/oam-plugin/ports.js';
import type * as Inventory from '../src/oam-plugin/inventory.js';

const args = process.argv.slice(2);
const baseAt = args.indexOf('--base');
if (baseAt < 0) throw new Error('--base DIR: a checkout of the code to compare with');
const baseTree = args[baseAt + 1]!;
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const listenerOnly = args.includes('--listener');
const sizes = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--rounds').map(Number);
const thisTree = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'inventory-edit-'));
const filesDir = join(dir, 'files');
const fs = createRequire(import.meta.url)('node:fs') as typeof Fs;

// the synchronous file calls on the bench's files, counted
const counts = { read: 0, open: 0, stat: 0 };
const mine = (p: unknown): boolean => typeof p === 'string' && p.startsWith(filesDir);
const wrap = <K extends 'readFileSync' | 'openSync' | 'statSync'>(name: K, what: keyof typeof counts): void => {
  const orig = fs[name] as (...a: unknown[]) => unknown;
  (fs as unknown as Record<string, unknown>)[name] = (...a: unknown[]): unknown => {
    if (mine(a[0])) counts[what]++;
    return orig(...a);
  };
};
wrap('readFileSync', 'read');
wrap('openSync', 'open');
wrap('statSync', 'stat');
syncBuiltinESMExports();

const PW = 'a-password\n';
const KEY = '-----BEGIN PRIVATE KEY-----\n' + 'A'.repeat(64 * 3) + '\n-----END PRIVATE KEY-----\n';
const PEM = '-----BEGIN CERTIFICATE-----\n' + 'B'.repeat(64 * 12) + '\n-----END CERTIFICATE-----\n';

/** running.xml with N entries; the files they name written under files/ */
function runningXml(n: number, layout: 'shared' | 'distinct', hsv: string): string {
  rmSync(filesDir, { recursive: true, force: true });
  mkdirSync(filesDir, { recursive: true });
  const file = (kind: string, i: number, text: string): string => {
    const p = join(filesDir, layout === 'shared' ? kind : `${kind}-${i}`);
    if (layout === 'distinct' || i < 2) writeFileSync(p, text);
    return p;
  };
  const henbs: string[] = [];
  for (let i = 0; i < n; i++) {
    const addr = `<address>10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}</address>`;
    if (i % 2 === 0) henbs.push(`<henb><henb-id>h${i}</henb-id>${addr}<credentials>file:${file('pw', i, PW)}</credentials><description>d</description></henb>`);
    else {
      henbs.push(`<henb><henb-id>h${i}</henb-id>${addr}<transport>tls</transport><tls-ca>${file('ca.pem', i, PEM)}</tls-ca>`
        + `<tls-client-certificate>${file('cert.pem', i, PEM)}</tls-client-certificate><credentials>file:${file('key.pem', i, KEY)}</credentials></henb>`);
    }
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><inventory xmlns="${hsv}">${henbs.join('')}</inventory></data>\n`;
}

interface Served {
  edit(value: string): Promise<void>;
  close(): Promise<void>;
}

async function serve(tree: string, dataDir: string, running: string): Promise<Served> {
  const mod = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(tree, p)).href)) as T;
  const { startOamServer } = await mod<typeof OamServer>('src/cli/oam-server.ts');
  const { parseConfig } = await mod<typeof ConfigLoad>('src/config/load.ts');
  const { readManifest } = await mod<typeof Manifest>('src/plugin/manifest.ts');
  const { builtinPluginDir } = await mod<typeof PluginHost>('src/plugin/host.ts');
  const { silentLogger } = await mod<typeof Log>('src/log/logger.ts');
  const { connectNetconf } = await mod<typeof Client>('src/netconf/client/index.ts');
  const x = await mod<typeof Xml>('src/netconf/xml/index.ts');
  const { HSV_NS } = await mod<typeof OamPlugin>('src/oam-plugin/index.ts');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'running.xml'), running);
  writeFileSync(join(dataDir, 'inventory-seeded'), 'bench\n');
  const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
  const config = await parseConfig('listen: 127.0.0.1:0\n', join(dir, 'serve.yaml'), { manifest, env: {} });
  const server = await startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir, config, env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw' }, log: silentLogger });
  const nc = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: 'pw', hostKeySha256: server.fingerprint, rpcTimeoutMs: 600_000 });
  const NC = x.NETCONF_BASE_NS;
  return {
    edit: async (value) => {
      await nc.rpc(x.el(NC, 'edit-config', x.el(NC, 'target', x.el(NC, 'running')), x.el(NC, 'config', x.el(HSV_NS, 'inventory',
        x.el(HSV_NS, 'henb', x.leaf(HSV_NS, 'henb-id', 'h0'), x.leaf(HSV_NS, 'description', value))))));
    },
    close: async () => {
      await nc.close();
      await server.close();
    },
  };
}

interface Sample { ms: number; blockMs: number; read: number; open: number; stat: number }

async function measure(s: Served, value: string): Promise<Sample> {
  counts.read = counts.open = counts.stat = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await s.edit(value);
  const ms = performance.now() - t0;
  h.disable();
  return { ms, blockMs: h.max / 1e6, ...counts };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: Sample[]): string => `${median(xs.map((x) => x.ms)).toFixed(1)} ms (block ${median(xs.map((x) => x.blockMs)).toFixed(1)} ms), `
  + `reads ${median(xs.map((x) => x.read))}, opens ${median(xs.map((x) => x.open))}, stats ${median(xs.map((x) => x.stat))}`;

/** the inventory listener alone (what a change of running runs in the OAM plugin): devicesFromConfig's onInventory over the same entries */
async function listener(tree: string, running: string): Promise<{ run(): number; close(): Promise<void> }> {
  const mod = async <T>(p: string): Promise<T> => (await import(pathToFileURL(join(tree, p)).href)) as T;
  const { devicesFromConfig } = await mod<typeof Ports>('src/oam-plugin/ports.ts');
  const { inventoryFromRunning } = await mod<typeof Inventory>('src/oam-plugin/inventory.ts');
  const { parseXml } = await mod<typeof Xml>('src/netconf/xml/index.ts');
  const { silentLogger } = await mod<typeof Log>('src/log/logger.ts');
  const entries = inventoryFromRunning(parseXml(running));
  const { devices, onInventory } = await devicesFromConfig({}, silentLogger, dir);
  return {
    run: () => {
      const t0 = performance.now();
      onInventory(entries);
      return performance.now() - t0;
    },
    close: () => devices.close(),
  };
}

const { HSV_NS } = (await import('../src/oam-plugin/index.js'));
const uptime = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`load average ${uptime}; A = ${baseTree}, B = ${thisTree}; ${ROUNDS} rounds of A B B A`);
try {
  for (const n of sizes.length > 0 ? sizes : [1000, 10_000]) {
    for (const layout of ['shared', 'distinct'] as const) {
      const running = runningXml(n, layout, HSV_NS);
      if (listenerOnly) {
        const la = await listener(baseTree, running);
        const lb = await listener(thisTree, running);
        const t = { a: [] as number[], b: [] as number[] };
        la.run();
        lb.run();
        for (let r = 0; r < ROUNDS; r++) {
          t.a.push(la.run());
          t.b.push(lb.run());
          t.b.push(lb.run());
          t.a.push(la.run());
        }
        await la.close();
        await lb.close();
        console.log(`${n} entries, ${layout} files, the inventory listener alone: A ${median(t.a).toFixed(1)} ms | B ${median(t.b).toFixed(1)} ms | B/A ${(median(t.b) / median(t.a)).toFixed(2)}`);
        continue;
      }
      const a = await serve(baseTree, join(dir, `a-${n}-${layout}`), running);
      const b = await serve(thisTree, join(dir, `b-${n}-${layout}`), running);
      const res = { a: [] as Sample[], b: [] as Sample[] };
      let v = 0;
      await a.edit('warm');
      await b.edit('warm');
      for (let r = 0; r < ROUNDS; r++) {
        res.a.push(await measure(a, `v${++v}`));
        res.b.push(await measure(b, `v${++v}`));
        res.b.push(await measure(b, `v${++v}`));
        res.a.push(await measure(a, `v${++v}`));
      }
      await a.close();
      await b.close();
      const ratio = median(res.b.map((x) => x.ms)) / median(res.a.map((x) => x.ms));
      console.log(`${n} entries, ${layout} files: A ${fmt(res.a)} | B ${fmt(res.b)} | B/A time ${ratio.toFixed(2)}`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
