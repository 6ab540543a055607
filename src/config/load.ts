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
  limits: { maxSessions?: number; helloTimeoutMs?: number; idleTimeoutMs?: number; maxMessageSize?: number; xml?: XmlLimitsConfig };
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: LocatedIssue[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return { file, line: pos.line, col: pos.col, path: '(syntax)', segments: [], expected: e.message.split('\n')[0] ?? e.code };
    });
    throw new ConfigError('ERR_CONFIG_PARSE', `${file} is not valid YAML/JSON:\n${issues.map((i) => `  ${locate(i)}: ${i.expected}`).join('\n')}`, { issues });
  }
  const data: unknown = doc.toJS() ?? {};
  const pluginSchema = options.manifest.configSchema as { properties?: Record<string, unknown> };
  const pluginKeys = Object.keys(pluginSchema.properties ?? {});

  const issues: SchemaIssue[] = [];
  const validateHost = newAjv().compile(hostSchemaWith(pluginKeys));
  if (!validateHost(data)) issues.push(...schemaIssues(validateHost.errors, data));

  let builtinRaw: Record<string, unknown> = {};
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    builtinRaw = Object.fromEntries(Object.entries(data).filter(([k]) => pluginKeys.includes(k)));
    const checked = validateWithSchema(options.manifest.configSchema, builtinRaw);
    builtinRaw = checked.value as Record<string, unknown>;
    issues.push(...checked.issues);
  }
  if (issues.length > 0) {
    const located = issues.map((i) => ({ ...i, file, ...position(doc, lineCounter, i.segments, i.got !== undefined) }));
    const lines = located.map((i) => `  ${locate(i)}: ${i.path}: expected ${i.expected}${i.got !== undefined ? `, got ${i.got}` : ''}`);
    throw new ConfigError('ERR_CONFIG_INVALID', `invalid configuration in ${file} (${located.length} problem${located.length > 1 ? 's' : ''}):\n${lines.join('\n')}`, { issues: located });
  }

  const baseDir = dirname(resolve(file));
  const env = options.env ?? process.env;
  const raw = data as Record<string, unknown>;
  // resolve once to fail early (missing variable or file); the values are dropped here
  await resolveSecrets(builtinRaw, env, baseDir, file);
  const builtin = builtinRaw;
  // the plugin's own file names (pve.ca, software.file-root, ...) stay as written: the plugin resolves them
  // against baseDir (PluginHost.baseDir), which the host hands it with the config

  const users: UserConfig[] = [];
  for (const [i, u] of ((raw.users as Array<Record<string, unknown>> | undefined) ?? []).entries()) {
    const resolved = (await resolveSecrets(u, env, baseDir, file, ['users', i])) as Record<string, unknown>;
    const keys = ((resolved['authorized-keys'] as string[] | undefined) ?? []).flatMap((k, j) => parseAuthorizedKeys(k, `${file}: users[${i}].authorized-keys[${j}]`).map((a) => a.key));
    const keyFile = resolved['authorized-keys-file'] as string | undefined;
    if (keyFile) {
      const path = resolve(baseDir, keyFile);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        throw new ConfigError('ERR_CONFIG_READ', `${file}: users[${i}].authorized-keys-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
      }
      keys.push(...parseAuthorizedKeys(text).map((k) => k.key));
    }
    const user: UserConfig = { name: resolved.name as string, authorizedKeys: keys };
    if (typeof resolved.password === 'string') user.password = resolved.password;
    if (Array.isArray(resolved.groups)) user.groups = resolved.groups as string[];
    users.push(user);
  }
  const names = new Set<string>();
  for (const [i, u] of users.entries()) {
    if (names.has(u.name)) {
      const issue: LocatedIssue = { file, path: `users[${i}].name`, segments: ['users', i, 'name'], expected: 'a user name listed once', got: JSON.stringify(u.name), ...position(doc, lineCounter, ['users', i, 'name']) };
      throw new ConfigError('ERR_CONFIG_INVALID', `invalid configuration in ${file}:\n  ${locate(issue)}: ${issue.path}: expected ${issue.expected}, got ${issue.got}`, { issues: [issue] });
    }
    names.add(u.name);
  }
  const henbs = (builtin.henbs as Array<Record<string, unknown>> | undefined) ?? [];
  const ids = new Set<string>();
  for (const [i, h] of henbs.entries()) {
    const id = h['henb-id'] as string;
    if (ids.has(id)) {
      const issue: LocatedIssue = { file, path: `henbs[${i}].henb-id`, segments: ['henbs', i, 'henb-id'], expected: 'a henb-id listed once', got: JSON.stringify(id), ...position(doc, lineCounter, ['henbs', i, 'henb-id']) };
      throw new ConfigError('ERR_CONFIG_INVALID', `invalid configuration in ${file}:\n  ${locate(issue)}: ${issue.path}: expected ${issue.expected}, got ${issue.got}`, { issues: [issue] });
    }
    ids.add(id);
  }

  const limitsRaw = (raw.limits as Record<string, number> | undefined) ?? {};
  const limits: ServeConfig['limits'] = {};
  if (limitsRaw['max-sessions'] !== undefined) limits.maxSessions = limitsRaw['max-sessions'];
  if (limitsRaw['hello-timeout'] !== undefined) limits.helloTimeoutMs = limitsRaw['hello-timeout'] * 1000;
  if (limitsRaw['idle-timeout'] !== undefined) limits.idleTimeoutMs = limitsRaw['idle-timeout'] * 1000;
  if (limitsRaw['max-message-size'] !== undefined) limits.maxMessageSize = limitsRaw['max-message-size'];
  const ssh = sshConfig((raw.ssh as Record<string, unknown> | undefined) ?? {});
  for (const [i, e] of (ssh.penalties?.exempt ?? []).entries()) {
    const [addr = '', bits] = e.split('/');
    const family = isIP(addr);
    if (family === 0 || (bits !== undefined && Number(bits) > (family === 4 ? 32 : 128))) {
      const segments = ['ssh', 'source-penalties', 'exempt', i];
      const issue: LocatedIssue = { file, path: `ssh.source-penalties.exempt[${i}]`, segments, expected: 'an IP address or CIDR prefix', got: JSON.stringify(e), ...position(doc, lineCounter, segments) };
      throw new ConfigError('ERR_CONFIG_INVALID', `invalid configuration in ${file}:\n  ${locate(issue)}: ${issue.path}: expected ${issue.expected}, got ${issue.got}`, { issues: [issue] });
    }
  }
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

  const config: ServeConfig = {
    file,
    logLevel: ((raw.logging as { level?: LogLevel } | undefined)?.level) ?? 'info',
    users,
    limits,
    ssh,
    plugins: ((raw.plugins as Array<{ path: string; config?: unknown }> | undefined) ?? []).map((p, i) => ({
      path: resolve(baseDir, p.path),
      config: p.config ?? {},
      where: ['plugins', i, 'config'],
    })),
    builtin,
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
