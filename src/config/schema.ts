/**
 * The JSON Schema of the `serve` configuration file: the host's part (listen, data-dir, logging, users,
 * limits, ssh, plugins) plus the built-in plugin's configSchema from plugin.json (henbs, pve, policies),
 * both at the top level of one file.
 */
export const SECRET_SCHEMA = {
  description: 'a secret, never written in the file itself: {env: NAME} or {file: PATH}',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    file: { type: 'string', minLength: 1 },
  },
} as const;

/** 0..65535 as a regular expression */
const PORT = '(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})';

export const HOST_CONFIG_SCHEMA = {
  type: 'object',
  properties: {
    listen: { type: 'string', pattern: `^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s\\[\\]]+):${PORT}$`, description: 'HOST:PORT (port 0..65535, 0 = any free port)' },
    'data-dir': { type: 'string', minLength: 1 },
    logging: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['debug', 'info', 'warn', 'error', 'silent'] } },
    },
    users: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z_][-A-Za-z0-9_.@]{0,254}$', description: 'a login name; @ and up to 255 characters for names that NETCONF over TLS maps from a certificate (san-rfc822-name)' },
          password: SECRET_SCHEMA,
          'authorized-keys': { type: 'array', items: { type: 'string', pattern: '^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$' } },
          'authorized-keys-file': { type: 'string', minLength: 1 },
          groups: {
            type: 'array', uniqueItems: true, description: 'NACM groups (RFC 8341 external groups; docs/security.md)',
            items: { type: 'string', pattern: '^[^*\\s][^\\s]{0,63}$' },
          },
        },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        'max-sessions': { type: 'integer', minimum: 1, maximum: 100000 },
        'hello-timeout': { type: 'integer', minimum: 1, maximum: 3600, description: 'seconds' },
        'idle-timeout': { type: 'integer', minimum: 0, maximum: 86400, description: 'seconds, 0 = none' },
        'plugin-activation': { type: 'integer', minimum: 1, maximum: 3600, description: 'seconds one plugin may take to activate (default 10; an inventory of 100,000 H(e)NBs takes 10-20 s here)' },
        'max-message-size': { type: 'integer', minimum: 4096, description: 'bytes' },
        xml: {
          type: 'object',
          additionalProperties: false,
          description: 'bounds checked while each NETCONF message is parsed (docs/security.md)',
          properties: {
            'max-depth': { type: 'integer', minimum: 8, maximum: 10000 },
            'max-attributes': { type: 'integer', minimum: 4, maximum: 10000, description: 'per element, namespace declarations included' },
            'max-namespace-declarations-per-element': { type: 'integer', minimum: 1, maximum: 10000 },
            'max-namespace-declarations': { type: 'integer', minimum: 1, maximum: 10000000, description: 'per message' },
            'max-prefixes-in-scope': { type: 'integer', minimum: 1, maximum: 100000 },
          },
        },
      },
    },
    ssh: {
      description: 'SSH hardening of the NETCONF server (docs/security.md, "SSH hardening")',
      type: 'object',
      additionalProperties: false,
      properties: {
        'login-grace-time': { type: 'integer', minimum: 1, maximum: 3600, description: 'seconds from TCP accept to authenticated' },
        'max-unauthenticated': { type: 'integer', minimum: 1, maximum: 100000, description: 'connections not yet authenticated' },
        'max-sessions-per-connection': { type: 'integer', minimum: 1, maximum: 1000 },
        'max-sessions-per-user': { type: 'integer', minimum: 1, maximum: 100000 },
        macs: {
          description: 'MACs offered: the ETM ones, plus hmac-sha2-256 / hmac-sha2-512 (encrypt-and-MAC) for old clients',
          type: 'array', minItems: 1, uniqueItems: true,
          items: { enum: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'] },
        },
        'source-penalties': {
          type: 'object',
          additionalProperties: false,
          properties: {
            'auth-fail': { type: 'integer', minimum: 0, maximum: 86400, description: 'seconds' },
            'grace-exceeded': { type: 'integer', minimum: 0, maximum: 86400, description: 'seconds' },
            min: { type: 'integer', minimum: 0, maximum: 86400, description: 'seconds' },
            max: { type: 'integer', minimum: 1, maximum: 86400, description: 'seconds' },
            exempt: { type: 'array', items: { type: 'string', pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$', description: 'an IP address or CIDR prefix' } },
          },
        },
      },
    },
    metrics: {
      description: 'Prometheus metrics at /metrics and health at /healthz, /readyz over plain HTTP (docs/operator-guide.md, "Metrics and health"); bind it to a management address',
      type: 'object',
      additionalProperties: false,
      required: ['listen'],
      properties: {
        listen: { type: 'string', pattern: `^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s\\[\\]]+):${PORT}$`, description: 'HOST:PORT (e.g. 127.0.0.1:9464; port 0 = any free port)' },
      },
    },
    tls: {
      description: 'NETCONF over TLS (RFC 7589) beside SSH: mutual X.509, clients mapped to users by RFC 7407 cert-to-name (docs/security.md, "NETCONF over TLS")',
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key', 'ca', 'cert-to-name'],
      properties: {
        listen: { type: 'string', pattern: `^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s\\[\\]]+):${PORT}$`, description: 'HOST:PORT; default the host of `listen`, port 6513' },
        cert: { type: 'string', minLength: 1, description: 'PEM file: the server certificate (and intermediates)' },
        key: { type: 'string', minLength: 1, description: 'PEM file: its private key' },
        ca: { type: 'string', minLength: 1, description: 'PEM file: the CA certificates client certificates must chain to' },
        'cert-to-name': {
          type: 'array', minItems: 1, description: 'searched in order; the first entry that gives a name wins (RFC 7407)',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['fingerprint', 'map-type'],
            properties: {
              fingerprint: { type: 'string', pattern: '^(04:?)?[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$', description: 'SHA-256 of the client certificate or of a CA certificate in its chain, hex (colons allowed)' },
              'map-type': { enum: ['specified', 'san-rfc822-name', 'san-dns-name', 'san-ip-address', 'san-any', 'common-name'] },
              name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s]+$', description: 'the user, for map-type specified only' },
            },
            if: { properties: { 'map-type': { const: 'specified' } } },
            then: { required: ['name'] },
            else: { not: { required: ['name'] } },
          },
        },
      },
    },
    plugins: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: { path: { type: 'string', minLength: 1 }, config: { type: 'object' } },
      },
    },
  },
} as const;

export const HOST_KEYS = Object.keys(HOST_CONFIG_SCHEMA.properties);

/**
 * The host schema for a file that also holds the built-in plugin's keys: unknown keys are refused,
 * except the ones the plugin's schema defines (validated separately against that schema).
 */
export function hostSchemaWith(pluginKeys: string[]): Record<string, unknown> {
  const props: Record<string, unknown> = { ...HOST_CONFIG_SCHEMA.properties };
  for (const k of pluginKeys) if (!(k in props)) props[k] = true;
  return { ...HOST_CONFIG_SCHEMA, additionalProperties: false, properties: props };
}

/**
 * One JSON Schema for the whole serve config file (host keys + the built-in plugin's keys), for editors
 * (e.g. the YAML language server) and `serve --print-schema`. The loader validates the two parts
 * separately so that errors name the right owner; this schema accepts and refuses the same documents.
 */
export function combinedSchema(pluginSchema: Record<string, unknown>): Record<string, unknown> {
  const plugin = pluginSchema as { properties?: Record<string, unknown>; definitions?: Record<string, unknown> };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'henb-sw-verify serve configuration',
    type: 'object',
    additionalProperties: false,
    properties: { ...HOST_CONFIG_SCHEMA.properties, ...(plugin.properties ?? {}) },
    ...(plugin.definitions ? { definitions: plugin.definitions } : {}),
  };
}
