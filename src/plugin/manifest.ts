/**
 * plugin.json: the declarative description of a plugin, validated before anything of the plugin runs
 * (the fastify-plugin model): name, version, the host API range, entry module, YANG modules,
 * capabilities and notification streams it adds, what it requires from the host, and the JSON Schema
 * of its configuration. Errors are coded (ERR_PLUGIN_MANIFEST, ERR_PLUGIN_HOST_VERSION,
 * ERR_PLUGIN_CONFIG, ERR_PLUGIN_REQUIRES) and name the file and the field.
 */
import { readFile } from 'node:fs/promises';
import type { ValidateFunction } from 'ajv';
import { PluginError } from './errors.js';
import { isValidRange, parseVersion, satisfies } from './semver.js';
import { formatIssue, newAjv, schemaIssues, validateWithSchema } from '../config/schema-issues.js';
import type { SchemaIssue } from '../config/schema-issues.js';

/** What a host can provide; a manifest's `requires` must be a subset of what the host offers. */
export const HOST_SERVICES = ['logger', 'store', 'netconf-registry'] as const;
export type HostService = (typeof HOST_SERVICES)[number];

export interface ManifestYangModule {
  name: string;
  revision: string;
  /** path relative to the plugin's directory */
  file: string;
  /** false for modules only imported (default true) */
  implemented?: boolean;
}

export interface ManifestStream {
  name: string;
  description: string;
  replaySupport: boolean;
}

export interface PluginManifest {
  name: string;
  version: string;
  description: string;
  /** semver range of the host contract (src/plugin/contract.ts HOST_API_VERSION) */
  hostApi: string;
  /** the module exporting `activate`, relative to the plugin's directory */
  entry: string;
  yang: { modules: ManifestYangModule[] };
  capabilities: string[];
  streams: ManifestStream[];
  requires: HostService[];
  /** upper bound of activate() in ms (the host may lower it) */
  activationTimeoutMs?: number;
  /** JSON Schema (draft-07) of the plugin's configuration */
  configSchema: Record<string, unknown>;
}

export const MANIFEST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'description', 'hostApi', 'entry', 'yang', 'capabilities', 'streams', 'requires', 'configSchema'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' },
    version: { type: 'string', pattern: '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)$' },
    description: { type: 'string', minLength: 1 },
    hostApi: { type: 'string', minLength: 1 },
    entry: { type: 'string', pattern: '^[^/].*\\.(ts|js|mjs)$' },
    yang: {
      type: 'object',
      additionalProperties: false,
      required: ['modules'],
      properties: {
        modules: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'revision', 'file'],
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z_][-A-Za-z0-9_.]*$' },
              revision: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
              file: { type: 'string', pattern: '\\.yang$' },
              implemented: { type: 'boolean' },
            },
          },
        },
      },
    },
    capabilities: { type: 'array', items: { type: 'string', pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*:\\S+$' }, uniqueItems: true },
    streams: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'description', 'replaySupport'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][-A-Za-z0-9_.]*$', not: { const: 'NETCONF' } },
          description: { type: 'string' },
          replaySupport: { type: 'boolean' },
        },
      },
    },
    requires: { type: 'array', items: { type: 'string' }, uniqueItems: true },
    activationTimeoutMs: { type: 'integer', minimum: 1, maximum: 600000 },
    configSchema: { type: 'object' },
  },
} as const;

let manifestValidator: ValidateFunction | undefined;

export { newAjv };

function fail(source: string, issues: SchemaIssue[]): never {
  const lines = issues.map((i) => '  ' + formatIssue(source, i));
  throw new PluginError('ERR_PLUGIN_MANIFEST', `invalid plugin manifest ${source}:\n${lines.join('\n')}`, { issues });
}

/** Validate a parsed manifest. `source` names the file in errors. */
export function validateManifest(data: unknown, source = 'plugin.json'): PluginManifest {
  manifestValidator ??= newAjv().compile(MANIFEST_SCHEMA);
  if (!manifestValidator(data)) fail(source, schemaIssues(manifestValidator.errors, data));
  const m = data as PluginManifest;
  const issues: SchemaIssue[] = [];
  if (!isValidRange(m.hostApi)) {
    issues.push({ path: 'hostApi', segments: ['hostApi'], expected: 'a semver range (e.g. ^1.0.0)', got: JSON.stringify(m.hostApi) });
  }
  m.requires.forEach((r, i) => {
    if (!(HOST_SERVICES as readonly string[]).includes(r)) {
      issues.push({ path: `requires[${i}]`, segments: ['requires', i], expected: `one of ${HOST_SERVICES.join(', ')}`, got: JSON.stringify(r) });
    }
  });
  const names = new Set<string>();
  m.yang.modules.forEach((mod, i) => {
    if (names.has(mod.name)) issues.push({ path: `yang.modules[${i}].name`, segments: ['yang', 'modules', i, 'name'], expected: 'a module listed once', got: JSON.stringify(mod.name) });
    names.add(mod.name);
  });
  const streams = new Set<string>();
  m.streams.forEach((s, i) => {
    if (streams.has(s.name)) issues.push({ path: `streams[${i}].name`, segments: ['streams', i, 'name'], expected: 'a stream listed once', got: JSON.stringify(s.name) });
    streams.add(s.name);
  });
  try {
    newAjv().compile(m.configSchema);
  } catch (err) {
    issues.push({ path: 'configSchema', segments: ['configSchema'], expected: `a valid JSON Schema (${err instanceof Error ? err.message : String(err)})` });
  }
  if (issues.length > 0) fail(source, issues);
  return m;
}

/** Read and validate a manifest file. */
export async function readManifest(file: string): Promise<PluginManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PluginError('ERR_PLUGIN_MANIFEST', `cannot read plugin manifest ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PluginError('ERR_PLUGIN_MANIFEST', `plugin manifest ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return validateManifest(data, file);
}

/** The host's API version must be inside the manifest's hostApi range. */
export function checkHostVersion(manifest: PluginManifest, hostApiVersion: string): void {
  if (!parseVersion(hostApiVersion) || !satisfies(hostApiVersion, manifest.hostApi)) {
    throw new PluginError(
      'ERR_PLUGIN_HOST_VERSION',
      `plugin ${manifest.name}@${manifest.version} needs host API ${manifest.hostApi}, this host implements ${hostApiVersion}`,
    );
  }
}

/** Everything the manifest requires must be provided by the host. */
export function checkRequires(manifest: PluginManifest, provided: readonly string[]): void {
  const missing = manifest.requires.filter((r) => !provided.includes(r));
  if (missing.length > 0) {
    throw new PluginError('ERR_PLUGIN_REQUIRES', `plugin ${manifest.name} requires ${missing.join(', ')}, which this host does not provide (it provides: ${provided.join(', ') || 'nothing'})`);
  }
}

/**
 * Validate (and default) a plugin's configuration against its configSchema. `source` and `prefix` let
 * errors name the file and where the plugin's section is in it. Returns the config with defaults applied
 * (a copy; the input is not changed).
 */
export function validatePluginConfig(manifest: PluginManifest, config: unknown, source = `${manifest.name} config`, prefix: Array<string | number> = []): unknown {
  const { value, issues } = validateWithSchema(manifest.configSchema, config, prefix);
  if (issues.length > 0) {
    const lines = issues.map((i) => '  ' + formatIssue(source, i));
    throw new PluginError('ERR_PLUGIN_CONFIG', `invalid configuration for plugin ${manifest.name}:\n${lines.join('\n')}`, { issues });
  }
  return value;
}

