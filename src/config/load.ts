/**
 * Loads the `serve` configuration: one YAML file (JSON accepted, it is YAML too), validated with ajv
 * against the host schema plus the built-in plugin's configSchema (plugin.json). Every error names the
 * file, the line, the path in it (`henbs[2].port`) and what was expected. Secrets come from
 * `{env: NAME}` / `{file: PATH}` references and are resolved only after validation succeeded.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isPair, isScalar, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { ConfigError } from './errors.js';
import type { LocatedIssue } from './errors.js';
import { formatPath, newAjv, schemaIssues, validateWithSchema } from './schema-issues.js';
import type { SchemaIssue } from './schema-issues.js';
import { hostSchemaWith } from './schema.js';
import { resolveSecrets } from './secrets.js';
import type { CertToNameEntry } from '../netconf/tls/index.js';
import type { LogLevel } from '../log/logger.js';

export interface UserConfig {
  name: string;
  /** resolved secret; never log it */
  password?: string;
  /** OpenSSH public key lines (`type base64 [comment]`) */
  authorizedKeys: string[];
  /** NACM groups (RFC 8341 external groups) */
  groups?: string[];
}

export interface ServeSshConfig {
  loginGraceMs?: number;
  maxUnauthenticated?: number;
  maxSessionsPerConnection?: number;
  maxSessionsPerUser?: number;
  macs?: Array<'hmac-sha2-256-etm@openssh.com' | 'hmac-sha2-512-etm@openssh.com' | 'hmac-sha2-256' | 'hmac-sha2-512'>;
  penalties?: { authFailMs?: number; graceExceededMs?: number; minMs?: number; maxMs?: number; exempt?: string[] };
}

/** limits.xml, in the names of the XML layer's ParseLimits (structurally the same type) */
export interface XmlLimitsConfig {
  maxDepth?: number;
  maxAttributes?: number;
  maxNsDeclarationsPerElement?: number;
  maxNsDeclarations?: number;
  maxPrefixesInScope?: number;
}

/** `tls:` (NETCONF over TLS), paths made absolute; the files are read at start */
export interface ServeTlsConfig {
  listen?: string;
  cert: string;
  key: string;
  ca: string;
  certToName: CertToNameEntry[];
}

export interface ServeConfig {
  /** the file it came from (undefined for embedded defaults) */
  file?: string;
  listen?: string;
  dataDir?: string;
  logLevel: LogLevel;
  users: UserConfig[];
  limits: { maxSessions?: number; helloTimeoutMs?: number; idleTimeoutMs?: number; maxMessageSize?: number; xml?: XmlLimitsConfig; pluginActivationMs?: number };
  /** SSH hardening (schema `ssh`), in ms; absent = the server's defaults */
  ssh: ServeSshConfig;
  /** NETCONF over TLS (schema `tls`); absent = SSH only */
  tls?: ServeTlsConfig;
  /** Prometheus metrics and health endpoints (schema `metrics`); absent = none */
  metrics?: { listen: string };
  /** extra plugins: directory (absolute) and their raw config */
  plugins: Array<{ path: string; config: unknown; where: Array<string | number> }>;
  /**
   * the built-in plugin's section (henbs, pve, policies...): validated, defaults applied; secret
   * references are left in place (the plugin host resolves them for the plugin only), file names as written
   * (the plugin resolves them against baseDir)
   */
  builtin: Record<string, unknown>;
  /** the directory relative file names of the config (`{file: PATH}` references, the plugins' files) are relative to */
  baseDir: string;
}

export interface LoadConfigOptions {
  /** the built-in plugin's manifest (plugin.json; its configSchema validates the plugin keys) */
  manifest: { readonly configSchema: Record<string, unknown> };
  env?: NodeJS.ProcessEnv;
}

/** Read and validate a config file. */
export async function loadConfigFile(file: string, options: LoadConfigOptions): Promise<ServeConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_READ', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return parseConfig(text, file, options);
}

/** Validate config text; `file` names it in errors and is the base of relative paths. */
export async function parseConfig(text: string, file: string, options: LoadConfigOptions): Promise<ServeConfig> {
  const { doc, at } = parseConfigDocument(text, file);
  const data: unknown = doc.toJS() ?? {};
  const builtin = validateConfig(data, file, options.manifest, at);
  const baseDir = dirname(resolve(file));
  const env = options.env ?? process.env;
  const raw = data as Record<string, unknown>;
  // resolve once to fail early (missing variable or file); the values are dropped here
  await resolveSecrets(builtin, env, baseDir, file);
  // the plugin's own file names (pve.ca, software.file-root, ...) stay as written: the plugin resolves them
  // against baseDir (PluginHost.baseDir), which the host hands it with the config
  const users = await usersOf(raw, env, baseDir, file);
  checkListedOnce(users.map((u) => u.name), (i) => ['users', i, 'name'], 'a user name listed once', file, at);
  const henbs = (builtin.henbs as Array<Record<string, unknown>> | undefined) ?? [];
  checkListedOnce(henbs.map((h) => h['henb-id'] as string), (i) => ['henbs', i, 'henb-id'], 'a henb-id listed once', file, at);
  const limits = limitsOf(raw);
  const ssh = sshConfig((raw.ssh as Record<string, unknown> | undefined) ?? {});
  checkPenaltyExempt(ssh, file, at);
  return serveConfigOf(raw, { file, users, limits, ssh, builtin, baseDir });
}

/** where a path of the document is: line and column (of the value when `preferValue`) */
type Locator = (segments: ReadonlyArray<string | number>, preferValue?: boolean) => { line?: number; col?: number };

/** the YAML (or JSON) document and a locator into it; ERR_CONFIG_PARSE listing every syntax error with its place */
function parseConfigDocument(text: string, file: string): { doc: Document; at: Locator } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: LocatedIssue[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { file, line: pos.line, col: pos.col, path: '(syntax)', segments: [], expected: e.message.split('\n')[0] ?? e.code };
    });
    throw new ConfigError('ERR_CONFIG_PARSE', `${file} is not valid YAML/JSON:\n${issues.map((i) => `  ${locate(i)}: ${i.expected}`).join('\n')}`, { issues });
  }
  return { doc, at: (segments, preferValue) => position(doc, lineCounter, segments, preferValue) };
}

/**
 * The host schema (with the plugin's keys allowed) and the built-in plugin's configSchema, every problem at once
 * (ERR_CONFIG_INVALID); the plugin's section, defaults applied.
 */
function validateConfig(data: unknown, file: string, manifest: LoadConfigOptions['manifest'], at: Locator): Record<string, unknown> {
  const pluginSchema = manifest.configSchema as { properties?: Record<string, unknown> };
  const pluginKeys = Object.keys(pluginSchema.properties ?? {});
  const issues: SchemaIssue[] = [];
  const validateHost = newAjv().compile(hostSchemaWith(pluginKeys));
  if (!validateHost(data)) issues.push(...schemaIssues(validateHost.errors, data));
  let builtin: Record<string, unknown> = {};
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    const checked = validateWithSchema(manifest.configSchema, Object.fromEntries(Object.entries(data).filter(([k]) => pluginKeys.includes(k))));
    builtin = checked.value as Record<string, unknown>;
    issues.push(...checked.issues);
  }
  if (issues.length > 0) {
    const located = issues.map((i) => ({ ...i, file, ...at(i.segments, i.got !== undefined) }));
    const lines = located.map((i) => `  ${locate(i)}: ${i.path}: expected ${i.expected}${i.got !== undefined ? `, got ${i.got}` : ''}`);
    throw new ConfigError('ERR_CONFIG_INVALID', `invalid configuration in ${file} (${located.length} problem${located.length > 1 ? 's' : ''}):\n${lines.join('\n')}`, { issues: located });
  }
  return builtin;
}

/** ERR_CONFIG_INVALID for one value at `segments` */
function invalidAt(file: string, segments: Array<string | number>, expected: string, got: string, at: Locator): ConfigError {
  const issue: LocatedIssue = { file, path: formatPath(segments), segments, expected, got, ...at(segments) };
  return new ConfigError('ERR_CONFIG_INVALID', `invalid configuration in ${file}:\n  ${locate(issue)}: ${issue.path}: expected ${issue.expected}, got ${issue.got}`, { issues: [issue] });
}

/** each value once: the second of two equal ones is the error (at its own place) */
function checkListedOnce(values: string[], segmentsOf: (i: number) => Array<string | number>, expected: string, file: string, at: Locator): void {
  const seen = new Set<string>();
  for (const [i, v] of values.entries()) {
    if (seen.has(v)) throw invalidAt(file, segmentsOf(i), expected, JSON.stringify(v), at);
    seen.add(v);
  }
}

/** users, secrets resolved, authorized keys from the list and the authorized-keys-file */
async function usersOf(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, baseDir: string, file: string): Promise<UserConfig[]> {
  const users: UserConfig[] = [];
  for (const [i, u] of ((raw.users as Array<Record<string, unknown>> | undefined) ?? []).entries()) {
    const resolved = (await resolveSecrets(u, env, baseDir, file, ['users', i])) as Record<string, unknown>;
    const keys = ((resolved['authorized-keys'] as string[] | undefined) ?? []).flatMap((k, j) => parseAuthorizedKeys(k, `${file}: users[${i}].authorized-keys[${j}]`).map((a) => a.key));
    const keyFile = resolved['authorized-keys-file'] as string | undefined;
    if (keyFile) keys.push(...await authorizedKeysFile(resolve(baseDir, keyFile), `${file}: users[${i}].authorized-keys-file`));
    const user: UserConfig = { name: resolved.name as string, authorizedKeys: keys };
    if (typeof resolved.password === 'string') user.password = resolved.password;
    if (Array.isArray(resolved.groups)) user.groups = resolved.groups as string[];
    users.push(user);
  }
  return users;
}

async function authorizedKeysFile(path: string, where: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_READ', `${where}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  return parseAuthorizedKeys(text).map((k) => k.key);
}

/** limits, in the server's units (seconds in the file, ms here) and names */
export function limitsOf(raw: Record<string, unknown>): ServeConfig['limits'] {
  const limitsRaw = (raw.limits as Record<string, number> | undefined) ?? {};
  const limits: ServeConfig['limits'] = {};
  if (limitsRaw['max-sessions'] !== undefined) limits.maxSessions = limitsRaw['max-sessions'];
  if (limitsRaw['hello-timeout'] !== undefined) limits.helloTimeoutMs = limitsRaw['hello-timeout'] * 1000;
  if (limitsRaw['idle-timeout'] !== undefined) limits.idleTimeoutMs = limitsRaw['idle-timeout'] * 1000;
  if (limitsRaw['plugin-activation'] !== undefined) limits.pluginActivationMs = limitsRaw['plugin-activation'] * 1000;
  if (limitsRaw['max-message-size'] !== undefined) limits.maxMessageSize = limitsRaw['max-message-size'];
  const xmlRaw = (raw.limits as { xml?: Record<string, number> } | undefined)?.xml;
  if (xmlRaw) {
    const xml: XmlLimitsConfig = {};
    if (xmlRaw['max-depth'] !== undefined) xml.maxDepth = xmlRaw['max-depth'];
    if (xmlRaw['max-attributes'] !== undefined) xml.maxAttributes = xmlRaw['max-attributes'];
    if (xmlRaw['max-namespace-declarations-per-element'] !== undefined) xml.maxNsDeclarationsPerElement = xmlRaw['max-namespace-declarations-per-element'];
    if (xmlRaw['max-namespace-declarations'] !== undefined) xml.maxNsDeclarations = xmlRaw['max-namespace-declarations'];
    if (xmlRaw['max-prefixes-in-scope'] !== undefined) xml.maxPrefixesInScope = xmlRaw['max-prefixes-in-scope'];
    limits.xml = xml;
  }
  return limits;
}

/** ssh.source-penalties.exempt: IP addresses or CIDR prefixes whose length fits the family */
function checkPenaltyExempt(ssh: ServeSshConfig, file: string, at: Locator): void {
  for (const [i, e] of (ssh.penalties?.exempt ?? []).entries()) {
    const [addr = '', bits] = e.split('/');
    const family = isIP(addr);
    if (family === 0 || (bits !== undefined && Number(bits) > (family === 4 ? 32 : 128))) {
      throw invalidAt(file, ['ssh', 'source-penalties', 'exempt', i], 'an IP address or CIDR prefix', JSON.stringify(e), at);
    }
  }
}

/** the ServeConfig: paths made absolute against baseDir (data-dir, plugins, TLS files) */
function serveConfigOf(raw: Record<string, unknown>, parts: Pick<ServeConfig, 'users' | 'limits' | 'ssh' | 'builtin' | 'baseDir'> & { file: string }): ServeConfig {
  const { baseDir } = parts;
  const config: ServeConfig = {
    file: parts.file,
    logLevel: ((raw.logging as { level?: LogLevel } | undefined)?.level) ?? 'info',
    users: parts.users,
    limits: parts.limits,
    ssh: parts.ssh,
    plugins: ((raw.plugins as Array<{ path: string; config?: unknown }> | undefined) ?? []).map((p, i) => ({
      path: resolve(baseDir, p.path),
      config: p.config ?? {},
      where: ['plugins', i, 'config'],
    })),
    builtin: parts.builtin,
    baseDir,
  };
  if (typeof raw.listen === 'string') config.listen = raw.listen;
  if (typeof raw['data-dir'] === 'string') config.dataDir = resolve(baseDir, raw['data-dir']);
  const metrics = raw.metrics as { listen: string } | undefined;
  if (metrics) config.metrics = { listen: metrics.listen };
  const tls = raw.tls as { listen?: string; cert: string; key: string; ca: string; 'cert-to-name': CertToNameEntry[] } | undefined;
  if (tls) {
    config.tls = { cert: resolve(baseDir, tls.cert), key: resolve(baseDir, tls.key), ca: resolve(baseDir, tls.ca), certToName: tls['cert-to-name'] };
    if (tls.listen !== undefined) config.tls.listen = tls.listen;
  }
  return config;
}

/** The embedded defaults used when `serve` runs without --config. */
export function defaultServeConfig(): ServeConfig {
  return { logLevel: 'info', users: [], limits: {}, ssh: {}, plugins: [], builtin: {}, baseDir: process.cwd() };
}

export interface AuthorizedKey {
  /** `type base64` (comment dropped) */
  key: string;
  /** the user this key logs in as (`user="NAME"` option), when given */
  user?: string;
  comment?: string;
}

/**
 * Parse an OpenSSH authorized_keys text. Blank lines and `#` comments are skipped. The one option we
 * understand is `user="NAME"` (which user the key logs in as); other options are refused, since we
 * cannot honour them (e.g. `command=`), rather than silently ignored.
 */
export function parseAuthorizedKeys(text: string, source = 'authorized_keys'): AuthorizedKey[] {
  const out: AuthorizedKey[] = [];
  for (const [i, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:user="([A-Za-z_][-A-Za-z0-9_.]{0,63})"\s+)?((?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521))\s+[A-Za-z0-9+/]+={0,3})(?:\s+(.*))?$/.exec(line);
    if (!m) {
      throw new ConfigError('ERR_CONFIG_INVALID', `${source}:${i + 1}: expected [user="NAME"] TYPE BASE64 [COMMENT] with TYPE ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521`, {
        issues: [{ file: source, line: i + 1, path: `line ${i + 1}`, segments: [], expected: '[user="NAME"] TYPE BASE64 [COMMENT]' }],
      });
    }
    const key: AuthorizedKey = { key: (m[2] as string).replace(/\s+/, ' ') };
    if (m[1]) key.user = m[1];
    if (m[3]) key.comment = m[3];
    out.push(key);
  }
  return out;
}

function locate(i: LocatedIssue): string {
  return i.line ? `${i.file}:${i.line}:${i.col ?? 1}` : i.file;
}

/** line/col of the node at `segments` (or of its nearest existing ancestor; of the key for a missing/unknown key) */
function position(doc: Document, lc: LineCounter, segments: ReadonlyArray<string | number>, preferValue = false): { line?: number; col?: number } {
  for (let n = segments.length; n >= 0; n--) {
    const parentPath = segments.slice(0, Math.max(0, n - 1));
    const last = segments[n - 1];
    const parent = (n === 0 ? doc.contents : parentPath.length ? doc.getIn(parentPath, true) : doc.contents) as YamlNode | null | undefined;
    if (n > 0 && isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last);
      const valueNode = pair?.value as YamlNode | null | undefined;
      const keyNode = (preferValue && n === segments.length && valueNode?.range ? valueNode : pair?.key) as YamlNode | undefined;
      if (keyNode?.range) {
        const pos = lc.linePos(keyNode.range[0]);
        return { line: pos.line, col: pos.col };
      }
      continue;
    }
    const node = (n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true)) as YamlNode | null | undefined;
    if (node?.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, col: pos.col };
    }
  }
  return {};
}

export { formatPath };

/** the schema-validated `ssh` section, seconds to ms */
function sshConfig(raw: Record<string, unknown>): ServeSshConfig {
  const out: ServeSshConfig = {};
  const n = (k: string): number | undefined => raw[k] as number | undefined;
  if (n('login-grace-time') !== undefined) out.loginGraceMs = n('login-grace-time')! * 1000;
  if (n('max-unauthenticated') !== undefined) out.maxUnauthenticated = n('max-unauthenticated')!;
  if (n('max-sessions-per-connection') !== undefined) out.maxSessionsPerConnection = n('max-sessions-per-connection')!;
  if (n('max-sessions-per-user') !== undefined) out.maxSessionsPerUser = n('max-sessions-per-user')!;
  if (raw.macs !== undefined) out.macs = raw.macs as NonNullable<ServeSshConfig['macs']>;
  const p = raw['source-penalties'] as Record<string, unknown> | undefined;
  if (p) {
    const penalties: NonNullable<ServeSshConfig['penalties']> = {};
    const sec = (k: string): number | undefined => (p[k] === undefined ? undefined : (p[k] as number) * 1000);
    if (sec('auth-fail') !== undefined) penalties.authFailMs = sec('auth-fail')!;
    if (sec('grace-exceeded') !== undefined) penalties.graceExceededMs = sec('grace-exceeded')!;
    if (sec('min') !== undefined) penalties.minMs = sec('min')!;
    if (sec('max') !== undefined) penalties.maxMs = sec('max')!;
    if (p.exempt !== undefined) penalties.exempt = p.exempt as string[];
    out.penalties = penalties;
  }
  return out;
}
