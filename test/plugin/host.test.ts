import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PluginHostRuntime, loadPlugin } from '../../src/plugin/host.js';
import type { LoadedPlugin } from '../../src/plugin/host.js';
import { validateManifest } from '../../src/plugin/manifest.js';
import type { PluginHost } from '../../src/plugin/contract.js';
import { silentLogger } from '../../src/log/logger.js';
import { FakeRegistry } from './fake-registry.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const el = (ns: string, name: string) => ({ ns, name, attrs: [], children: [] });

function plugin(name: string, activate: LoadedPlugin['activate'], over: Record<string, unknown> = {}): LoadedPlugin {
  const manifest = validateManifest({
    name,
    version: '1.0.0',
    description: 'test',
    hostApi: '^1.0.0',
    entry: 'index.ts',
    yang: { modules: [{ name: `${name}-mod`, revision: '2026-01-01', file: 'x.yang' }, { name: 'shared-types', revision: '2020-01-01', file: 't.yang', implemented: false }] },
    capabilities: [],
    streams: [{ name: `${name}-events`, description: 'events', replaySupport: true }],
    requires: ['logger'],
    configSchema: { type: 'object', properties: { n: { type: 'integer', minimum: 1 }, secret: { type: 'object' } }, additionalProperties: false },
    ...over,
  });
  return { manifest, dir: fixtures, activate };
}

const mod = (name: string, revision: string, implemented = true) => ({ name, revision, namespace: `urn:${name}`, prefix: name, text: '', implemented });

let dataDir: string;
let registry: FakeRegistry;
let host: PluginHostRuntime;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hsv-host-'));
  registry = new FakeRegistry();
  host = new PluginHostRuntime({ registry, log: silentLogger, dataDir, activationTimeoutMs: 1000 });
});
afterEach(async () => {
  vi.useRealTimers();
  await host.close().catch(() => undefined);
  await rm(dataDir, { recursive: true, force: true });
});

describe('plugin host', () => {
  it('activates a plugin in its scope with validated config and its own data dir', async () => {
    let seen: PluginHost | undefined;
    await host.activate(plugin('a', async (h) => {
      seen = h;
      h.registry.addRpc('urn:a', 'go', async () => 'ok');
      h.registry.addStream({ name: 'a-events', description: 'events', replaySupport: true });
      h.registry.addModule(mod('a-mod', '2026-01-01'));
      h.registry.addModule(mod('shared-types', '2020-01-01', false));
      return { close: async () => undefined };
    }), { n: 3 });
    expect(registry.rpcs.has('urn:a go')).toBe(true);
    expect(registry.streams.map((s) => s.name)).toEqual(['a-events']);
    expect(seen?.config).toEqual({ n: 3 });
    expect(seen?.dataDir).toBe(join(dataDir, 'plugins', 'a'));
    expect(seen?.apiVersion).toBe('1.0.0');
    expect(seen?.baseDir).toBe(process.cwd()); // no config file: relative names are the working directory's
    expect(host.plugins()).toEqual([{ name: 'a', version: '1.0.0' }]);
  });

  it('hands the plugin the directory its config\'s relative file names are relative to (baseDir)', async () => {
    let seen: PluginHost | undefined;
    await host.activate(plugin('a', async (h) => { seen = h; return { close: async () => undefined }; }), {}, { baseDir: join(dataDir, 'etc', '..', 'conf') });
    expect(seen?.baseDir).toBe(join(dataDir, 'conf'));
  });

  it('one plugin may provide the replay log, while activating only; a second is a conflict', async () => {
    const log = { append: async () => 1, lastId: async () => 0, replayPage: async () => [], times: async () => ({ created: new Date(0), aged: undefined }) };
    await host.activate(plugin('a', async (h) => {
      h.registry.setReplayLog?.(log);
      return { close: async () => undefined };
    }), {});
    expect(registry.replayLogs).toEqual([log]);
    const second = host.activate(plugin('b', async (h) => {
      h.registry.setReplayLog?.(log);
      return { close: async () => undefined };
    }), {});
    await expect(second).rejects.toMatchObject({ code: 'ERR_PLUGIN_CONFLICT', message: expect.stringContaining('the replay log') });
    let late: PluginHost | undefined;
    await host.activate(plugin('c', async (h) => { late = h; return { close: async () => undefined }; }), {});
    host.start();
    expect(() => late!.registry.setReplayLog?.(log)).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_SEALED' }));
    expect(registry.replayLogs).toEqual([log]);
  });

  it('seedRunning: only a node of a module the plugin implements, added once, never overwritten; not after start', async () => {
    let h0: PluginHost | undefined;
    await host.activate(plugin('a', async (h) => {
      h0 = h;
      h.registry.addModule(mod('a-mod', '2026-01-01'));
      h.registry.addModule(mod('shared-types', '2020-01-01', false));
      expect(await h.registry.seedRunning?.(el('urn:a-mod', 'inventory'))).toBe(true);
      expect(await h.registry.seedRunning?.(el('urn:a-mod', 'inventory'))).toBe(false);
      // an imported module's namespace, or another plugin's, is not its own
      await expect(h.registry.seedRunning!(el('urn:shared-types', 'x'))).rejects.toMatchObject({ code: 'ERR_PLUGIN_SCOPE' });
      await expect(h.registry.seedRunning!(el('urn:b-mod', 'x'))).rejects.toMatchObject({ code: 'ERR_PLUGIN_SCOPE' });
      return { close: async () => undefined };
    }), {});
    expect(registry.running.children).toEqual([el('urn:a-mod', 'inventory')]);
    host.start();
    expect(() => h0!.registry.seedRunning!(el('urn:a-mod', 'other'))).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_SEALED' }));
  });

  it('a plugin cannot overwrite what another registered; shared import-only modules are fine', async () => {
    const reg = (h: PluginHost) => {
      h.registry.addModule(mod('shared-types', '2020-01-01', false));
      h.registry.addRpc('urn:x', 'same', async () => 'ok');
      return Promise.resolve({ close: async () => undefined });
    };
    await host.activate(plugin('a', reg), {});
    const err = await host.activate(plugin('b', reg), {}).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('ERR_PLUGIN_CONFLICT');
    expect((err as Error).message).toContain('already registered by plugin a');
    expect(registry.modules.filter((m) => m.name === 'shared-types')).toHaveLength(1);
  });

  it('refuses streams and modules the manifest does not declare', async () => {
    const e1 = await host.activate(plugin('a', async (h) => {
      h.registry.addStream({ name: 'surprise', description: '', replaySupport: false });
      return { close: async () => undefined };
    }), {}).catch((e: unknown) => e);
    expect((e1 as { code: string }).code).toBe('ERR_PLUGIN_UNDECLARED');
    const e2 = await host.activate(plugin('b', async (h) => {
      h.registry.addModule(mod('b-mod', '1999-01-01'));
      return { close: async () => undefined };
    }), {}).catch((e: unknown) => e);
    expect((e2 as { code: string }).code).toBe('ERR_PLUGIN_UNDECLARED');
  });

  it('cannot add after start, and cannot notify on a stream it does not own', async () => {
    let later: PluginHost | undefined;
    await host.activate(plugin('a', async (h) => {
      later = h;
      h.registry.addStream({ name: 'a-events', description: 'events', replaySupport: true });
      return { close: async () => undefined };
    }), {});
    await host.activate(plugin('b', async (h) => {
      h.registry.addStream({ name: 'b-events', description: 'events', replaySupport: true });
      return { close: async () => undefined };
    }), {});
    host.start();
    expect(() => later?.registry.addRpc('urn:a', 'late', async () => 'ok')).toThrow(expect.objectContaining({ code: 'ERR_PLUGIN_SEALED' }));
    await expect(later?.registry.notify('b-events', el('urn:a', 'x'))).rejects.toMatchObject({ code: 'ERR_PLUGIN_SCOPE' });
    await later?.registry.notify('a-events', el('urn:a', 'x'));
    await later?.registry.notify('NETCONF', el('urn:a', 'y'));
    expect(registry.notifications.map((n) => n.stream)).toEqual(['a-events', 'NETCONF']);
    await expect(host.activate(plugin('c', async () => ({ close: async () => undefined })), {})).rejects.toMatchObject({ code: 'ERR_PLUGIN_SEALED' });
  });

  it('validates config before running any plugin code', async () => {
    const activate = vi.fn(async () => ({ close: async () => undefined }));
    await expect(host.activate(plugin('a', activate), { n: 0 }, { source: 'cfg.yaml', prefix: ['plugins', 1, 'config'] }))
      .rejects.toMatchObject({ code: 'ERR_PLUGIN_CONFIG', message: expect.stringContaining('cfg.yaml: plugins[1].config.n: expected a number >= 1, got 0') });
    await expect(host.activate(plugin('b', activate, { hostApi: '>=2.0.0' }), {})).rejects.toMatchObject({ code: 'ERR_PLUGIN_HOST_VERSION' });
    await expect(host.activate(plugin('c', activate, { requires: ['logger', 'store'] }), {})).resolves.toBeUndefined();
    const strict = new PluginHostRuntime({ registry, log: silentLogger, dataDir, provides: ['logger'] });
    await expect(strict.activate(plugin('d', activate, { requires: ['store'] }), {})).rejects.toMatchObject({ code: 'ERR_PLUGIN_REQUIRES' });
    expect(activate).toHaveBeenCalledTimes(1);
  });

  it('resolves secret references for the plugin only, after validation', async () => {
    let config: unknown;
    await host.activate(plugin('a', async (h) => {
      config = h.config;
      return { close: async () => undefined };
    }), { secret: { env: 'HSV_TEST_SECRET' } }, { env: { HSV_TEST_SECRET: 's3cret' } });
    expect(config).toEqual({ secret: 's3cret' });
    await expect(host.activate(plugin('b', async () => ({ close: async () => undefined })), { secret: { env: 'HSV_MISSING' } }, { env: {} }))
      .rejects.toMatchObject({ code: 'ERR_CONFIG_SECRET' });
  });

  it('activation has a time limit; a late handle is closed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const close = vi.fn(async () => undefined);
    let finish: (() => void) | undefined;
    let signal: AbortSignal | undefined;
    const p = host.activate(plugin('slow', (h) => {
      signal = h.signal;
      return new Promise((res) => {
        finish = () => res({ close });
      });
    }), {});
    const caught = p.catch((e: unknown) => e);
    const deadline = Date.now() + 5000;
    while (!signal && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(signal).toBeDefined();
    await vi.advanceTimersByTimeAsync(1001);
    expect(await caught).toMatchObject({ code: 'ERR_PLUGIN_TIMEOUT' });
    expect(signal?.aborted).toBe(true);
    finish?.();
    await vi.runAllTimersAsync();
    expect(close).toHaveBeenCalledTimes(1);
    expect(host.plugins()).toEqual([]);
  });

  it('wraps activate failures, and closes in reverse order (avvio)', async () => {
    const order: string[] = [];
    for (const n of ['a', 'b', 'c']) {
      await host.activate(plugin(n, async (h) => {
        h.signal.addEventListener('abort', () => order.push(`abort ${n}`));
        return { close: async () => void order.push(`close ${n}`) };
      }), {});
    }
    await expect(host.activate(plugin('d', async () => {
      throw new Error('boom');
    }), {})).rejects.toMatchObject({ code: 'ERR_PLUGIN_ACTIVATE', message: expect.stringContaining('boom') });
    await host.close();
    await host.close();
    expect(order).toEqual(['abort c', 'abort b', 'abort a', 'close c', 'close b', 'close a']);
  });

  it('reports close failures after closing every plugin', async () => {
    const closed: string[] = [];
    await host.activate(plugin('a', async () => ({ close: async () => void closed.push('a') })), {});
    await host.activate(plugin('b', async () => ({ close: async () => { throw new Error('stuck'); } })), {});
    await expect(host.close()).rejects.toMatchObject({ code: 'ERR_PLUGIN_CLOSE' });
    expect(closed).toEqual(['a']);
  });

  it('ignores config changes after a plugin closed', async () => {
    const seen: string[] = [];
    await host.activate(plugin('a', async (h) => {
      h.registry.onConfigChange(() => void seen.push('a'));
      return { close: async () => undefined };
    }), {});
    await registry.commit(el('urn:ietf:params:xml:ns:netconf:base:1.0', 'data'));
    await host.close();
    await registry.commit(el('urn:ietf:params:xml:ns:netconf:base:1.0', 'data'));
    expect(seen).toEqual(['a']);
  });
});

describe('loadPlugin', () => {
  it('loads a plugin directory and runs it through the host', async () => {
    const p = await loadPlugin(join(fixtures, 'echo-plugin'));
    expect(p.manifest.name).toBe('echo-plugin');
    await host.activate(p, { token: { env: 'ECHO_TOKEN' } }, { env: { ECHO_TOKEN: 'abcd' } });
    const reply = await registry.rpcs.get('urn:test:echo echo')?.(el('urn:test:echo', 'echo'), { sessionId: 1, username: 'u', signal: new AbortController().signal, log: silentLogger });
    expect(reply).toEqual([{ ns: 'urn:test:echo', name: 'greeting', attrs: [], children: ['hello 4'] }]);
  });

  it('coded errors for a missing plugin, a missing manifest and a missing activate', async () => {
    await expect(loadPlugin(join(fixtures, 'nope'))).rejects.toMatchObject({ code: 'ERR_PLUGIN_LOAD' });
    await expect(loadPlugin(fixtures)).rejects.toMatchObject({ code: 'ERR_PLUGIN_MANIFEST' });
    await expect(loadPlugin(join(fixtures, 'no-activate'))).rejects.toMatchObject({ code: 'ERR_PLUGIN_LOAD', message: expect.stringContaining('exports no activate') });
  });
});
