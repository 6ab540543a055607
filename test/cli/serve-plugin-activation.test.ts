/**
 * `limits.plugin-activation`: the plugin host's bound on one activation (default 10 s) comes from the serve
 * configuration, so that an operator whose inventory takes longer to load (100,000 H(e)NBs: 10-20 s on a 2-core
 * machine) can start the server. A plugin slower than the bound is refused with ERR_PLUGIN_TIMEOUT naming it.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log/logger.js';
import { readManifest } from '../../src/plugin/manifest.js';
import { builtinPluginDir } from '../../src/plugin/host.js';

const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));

let dir: string | undefined;
let server: RunningOamServer | undefined;
afterEach(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  server = dir = undefined;
});

/** a plugin whose activate() takes `ms`, asking for the manifest's largest bound (the host's decides) */
async function slowPlugin(at: string, ms: number): Promise<string> {
  const p = join(at, 'slow-plugin');
  await mkdir(p, { recursive: true });
  await writeFile(join(p, 'plugin.json'), JSON.stringify({
    name: 'slow-plugin', version: '0.0.1', description: 'test: a slow activation', hostApi: '^1.0.0', entry: 'index.js',
    yang: { modules: [] }, capabilities: [], streams: [], requires: [], activationTimeoutMs: 600000, configSchema: { type: 'object' },
  }));
  await writeFile(join(p, 'index.js'), `export async function activate() {\n  await new Promise((r) => setTimeout(r, ${ms}));\n  return { close: async () => undefined };\n}\n`);
  return p;
}

async function serve(limitS: number | undefined): Promise<RunningOamServer> {
  dir ??= await mkdtemp(join(tmpdir(), 'hsv-activation-'));
  const plugin = await slowPlugin(dir, 1300);
  const yaml = `listen: 127.0.0.1:0\n${limitS !== undefined ? `limits:\n  plugin-activation: ${limitS}\n` : ''}plugins:\n  - path: ${plugin}\n`;
  const config = await parseConfig(yaml, join(dir, 'serve.yaml'), { manifest, env: {} });
  return startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'data'), config, env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw' }, log: silentLogger, builtin: false });
}

describe('limits.plugin-activation', () => {
  it('a plugin slower than the configured bound is refused, naming the plugin and the bound', async () => {
    const err = await serve(1).then((s) => {
      server = s;
      return undefined;
    }, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_PLUGIN_TIMEOUT' });
    expect((err as Error).message).toContain('slow-plugin did not finish activating within 1000 ms');
  });

  it('the same plugin starts when the bound is raised', async () => {
    server = await serve(5);
    expect(server.address.port).toBeGreaterThan(0);
  });

  it('is checked: 0 and a non-integer are refused by the configuration', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hsv-activation-'));
    await expect(parseConfig('limits:\n  plugin-activation: 0\n', join(dir, 'serve.yaml'), { manifest, env: {} })).rejects.toThrow(/plugin-activation/);
    await expect(parseConfig('limits:\n  plugin-activation: 2.5\n', join(dir, 'serve.yaml'), { manifest, env: {} })).rejects.toThrow(/plugin-activation/);
  });
});
