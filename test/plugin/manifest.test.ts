import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkHostVersion, checkRequires, validateManifest, validatePluginConfig } from '../../src/plugin/manifest.js';
import type { PluginManifest } from '../../src/plugin/manifest.js';
import type { PluginError } from '../../src/plugin/errors.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';

const shipped = JSON.parse(readFileSync(new URL('../../plugin.json', import.meta.url), 'utf8')) as PluginManifest;

function minimal(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'test-plugin',
    version: '1.0.0',
    description: 'a test plugin',
    hostApi: '^1.0.0',
    entry: 'index.ts',
    yang: { modules: [] },
    capabilities: [],
    streams: [],
    requires: ['logger'],
    configSchema: { type: 'object', properties: { port: { type: 'integer', maximum: 65535 } }, additionalProperties: false },
    ...over,
  };
}

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    return { code: (err as PluginError).code, message: (err as Error).message };
  }
  throw new Error('expected an error');
}

describe('plugin manifest', () => {
  it('accepts the shipped plugin.json and this host', () => {
    const m = validateManifest(structuredClone(shipped));
    expect(m.name).toBe('henb-sw-verify');
    expect(() => checkHostVersion(m, HOST_API_VERSION)).not.toThrow();
    expect(() => checkRequires(m, ['logger', 'store', 'netconf-registry'])).not.toThrow();
  });

  it('names the file and the field of each problem', () => {
    const e = codeOf(() => validateManifest(minimal({ version: 'one', requires: ['logger', 'gpu'], streams: [{ name: 'x' }] }), 'my/plugin.json'));
    expect(e.code).toBe('ERR_PLUGIN_MANIFEST');
    expect(e.message).toContain('my/plugin.json: version: expected a string matching');
    expect(e.message).toContain('streams[0].description: expected a value (it is required)');
  });

  it('refuses unknown services, duplicate modules and a bad host range', () => {
    const e = codeOf(() => validateManifest(minimal({ hostApi: '^one', requires: ['gpu'] })));
    expect(e.code).toBe('ERR_PLUGIN_MANIFEST');
    expect(e.message).toContain('hostApi: expected a semver range');
    expect(e.message).toContain('requires[0]: expected one of logger, store, netconf-registry, got "gpu"');
  });

  it('refuses an unknown top-level key', () => {
    const e = codeOf(() => validateManifest(minimal({ main: 'x.js' })));
    expect(e.message).toContain('main: expected no such key');
  });

  it('ERR_PLUGIN_HOST_VERSION when the host is outside the range', () => {
    const m = validateManifest(minimal({ hostApi: '^2.0.0' }));
    const e = codeOf(() => checkHostVersion(m, '1.0.0'));
    expect(e.code).toBe('ERR_PLUGIN_HOST_VERSION');
    expect(e.message).toContain('needs host API ^2.0.0, this host implements 1.0.0');
  });

  it('ERR_PLUGIN_REQUIRES when the host lacks a service', () => {
    const m = validateManifest(minimal({ requires: ['logger', 'store'] }));
    expect(codeOf(() => checkRequires(m, ['logger'])).code).toBe('ERR_PLUGIN_REQUIRES');
  });

  it('validates config against configSchema, with the path and expectation', () => {
    const m = validateManifest(minimal());
    const e = codeOf(() => validatePluginConfig(m, { port: 70000 }, 'cfg.yaml', ['plugins', 0, 'config']));
    expect(e.code).toBe('ERR_PLUGIN_CONFIG');
    expect(e.message).toContain('cfg.yaml: plugins[0].config.port: expected a number <= 65535, got 70000');
  });

  it('applies defaults from the shipped schema without changing the input', () => {
    const m = validateManifest(structuredClone(shipped));
    const input = { policies: {} };
    const out = validatePluginConfig(m, input) as { policies: Record<string, unknown> };
    expect(out.policies['step-timeout']).toBe(300);
    expect(input.policies).toEqual({});
  });
});
