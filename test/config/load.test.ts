import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig, parseAuthorizedKeys } from '../../src/config/load.js';
import { validateManifest } from '../../src/plugin/manifest.js';
import type { ConfigError } from '../../src/config/errors.js';

const manifest = validateManifest(JSON.parse(readFileSync(new URL('../../plugin.json', import.meta.url), 'utf8')));
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fail(text: string, env: NodeJS.ProcessEnv = {}): Promise<ConfigError> {
  const file = join(dir, 'config.yaml');
  await writeFile(file, text);
  try {
    await loadConfigFile(file, { manifest, env });
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('expected a config error');
}

const GOOD = `
listen: 127.0.0.1:8830
data-dir: ./data
logging: { level: debug }
users:
  - name: nms
    password: { env: NMS_PASSWORD }
    authorized-keys: ["${KEY} nms@host"]
henbs:
  - henb-id: site-1
    address: 10.0.0.1
    username: oam
    password: { file: device.secret }
  - henb-id: site-2
    address: 10.0.0.2
    port: 8300
pve:
  endpoint: https://pve.example:8443/restconf
  ca: pve-ca.pem
software:
  ca: sw-ca.pem
  file-root: images
policies:
  on-mismatch: [alarm, rollback]
`;

describe('serve configuration', () => {
  it('loads YAML: host part, plugin part with defaults, relative paths, secrets resolved for users only', async () => {
    await writeFile(join(dir, 'device.secret'), 'dev-pass\n');
    const file = join(dir, 'config.yaml');
    await writeFile(file, GOOD);
    const c = await loadConfigFile(file, { manifest, env: { NMS_PASSWORD: 'nms-pass' } });
    expect(c.listen).toBe('127.0.0.1:8830');
    expect(c.dataDir).toBe(join(dir, 'data'));
    expect(c.logLevel).toBe('debug');
    expect(c.users).toEqual([{ name: 'nms', password: 'nms-pass', authorizedKeys: [KEY] }]);
    const henbs = c.builtin.henbs as Array<Record<string, unknown>>;
    expect(henbs[0]?.port).toBeUndefined(); // no schema default: the plugin dials 830 (ssh) or 6513 (transport tls)
    expect(henbs[0]?.password).toEqual({ file: 'device.secret' });
    expect(henbs[1]?.port).toBe(8300);
    // the plugin's file names stay as written: the plugin resolves them against baseDir (PluginHost.baseDir)
    expect((c.builtin.pve as Record<string, unknown>).ca).toBe('pve-ca.pem');
    expect((c.builtin.policies as Record<string, unknown>)['step-timeout']).toBe(300);
    expect(c.builtin.software).toEqual({ ca: 'sw-ca.pem', 'file-root': 'images' });
    expect(c.baseDir).toBe(dir);
  });

  it('accepts JSON', async () => {
    const c = await parseConfig(JSON.stringify({ listen: '[::1]:830', henbs: [{ 'henb-id': 'a', address: 'h' }] }), join(dir, 'c.json'), { manifest, env: {} });
    expect(c.listen).toBe('[::1]:830');
  });

  it('every error names the file, the line, the path and what was expected', async () => {
    const e = await fail(`
listen: 127.0.0.1:8830
henbs:
  - henb-id: a
    address: x
  - henb-id: b
    address: y
  - henb-id: c
    address: z
    port: 70000
pve:
  endpoint: ftp://nope
polices: {}
`);
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    const file = join(dir, 'config.yaml');
    expect(e.message).toContain(`${file}:10:11: henbs[2].port: expected a number <= 65535, got 70000`);
    expect(e.message).toContain(`${file}:12:13: pve.endpoint: expected https://HOST:PORT/restconf (RESTCONF) or ssh://HOST:PORT (NETCONF)`);
    // a mistyped key is named with the key it is closest to (issue 14 item 7: `listne`, `polices`)
    expect(e.message).toMatch(/:13:1: polices: expected no such key; did you mean policies\? \(allowed here: listen, data-dir, .*policies\)/);
    // the schema's cross-field rule (transport restconf, the default: an https endpoint and a CA) also speaks
    expect(e.message).toContain(`${file}:12:13: pve.endpoint: expected https://HOST:PORT/restconf for transport restconf (ssh:// needs pve.transport: netconf)`);
    expect(e.message).toMatch(/:11:1: pve\.ca: expected the PEM file of the PVE's CA \(transport restconf\)/);
    expect(e.issues.map((i) => i.path).sort()).toEqual(['henbs[2].port', 'polices', 'pve.ca', 'pve.endpoint', 'pve.endpoint']);
  });

  it('an unknown key says which key it is closest to, and nothing when none is close', async () => {
    const e = await fail('listne: 127.0.0.1:8830\nlogging:\n  levle: info\nzzzzzz: 1\n');
    expect(e.message).toMatch(/:1:1: listne: expected no such key; did you mean listen\? \(allowed here: listen,/);
    expect(e.message).toMatch(/:3:3: logging\.levle: expected no such key; did you mean level\? \(allowed here: /);
    expect(e.message).toMatch(/:4:1: zzzzzz: expected no such key \(allowed here: listen,/);
  });

  it('cross-field rules of the plugin schema (if/then): pve transport, store driver', async () => {
    const file = join(dir, 'config.yaml');
    const netconf = await fail('pve:\n  endpoint: https://pve.example/restconf\n  transport: netconf\n  jwks: j.json\n');
    expect(netconf.message).toContain(`${file}:2:13: pve.endpoint: expected ssh://HOST[:PORT] (transport netconf)`);
    expect(netconf.message).toContain('pve.ssh-host-key: expected transport netconf: the PVE\'s pinned SSH host key and the NETCONF user at the PVE');
    expect(netconf.message).toContain('pve.username: expected transport netconf');
    expect(netconf.message).toContain('pve.password: expected a password or a private-key (secret references) for transport netconf');
    expect(netconf.issues.map((i) => i.path).sort()).toEqual(['pve.endpoint', 'pve.password', 'pve.ssh-host-key', 'pve.username']);
    // a private-key instead of a password is enough
    const key = `SHA256:${'A'.repeat(43)}`;
    await parseConfig(`pve:\n  endpoint: ssh://pve.example\n  transport: netconf\n  jwks: j.json\n  ssh-host-key: ${key}\n  username: oam\n  private-key: { env: PVE_KEY }\n`, file, { manifest, env: { PVE_KEY: 'k' } });
    const pg = await fail('store:\n  driver: postgres\n');
    expect(pg.message).toContain('store.url: expected postgres://USER@HOST:PORT/DATABASE for driver postgres');
    const sqlite = await fail('store:\n  url: postgres://oam@db/hsv\n  pool-size: 3\n');
    expect(sqlite.message).toContain(`${file}:2:8: store.url: expected nothing: url is for driver postgres`);
    expect(sqlite.issues.map((i) => i.path).sort()).toEqual(['store.pool-size', 'store.url']);
    await parseConfig('store:\n  driver: postgres\n  url: postgres://oam@db/hsv\n', file, { manifest, env: {} });
  });

  it('listen must be HOST:PORT with a port up to 65535', async () => {
    const e = await fail('listen: 127.0.0.1:99999\n');
    expect(e.message).toContain('config.yaml:1:9: listen: expected HOST:PORT (port 0..65535, 0 = any free port)');
    expect(e.message).not.toContain('^(');
    const c = await parseConfig('listen: 127.0.0.1:65535\n', join(dir, 'c.yaml'), { manifest, env: {} });
    expect(c.listen).toBe('127.0.0.1:65535');
  });

  it('limits.xml: the XML parser limits, in the names of the XML layer; unknown keys and too-small values are refused', async () => {
    const c = await parseConfig('limits:\n  xml:\n    max-depth: 64\n    max-attributes: 16\n    max-namespace-declarations-per-element: 8\n    max-namespace-declarations: 500\n    max-prefixes-in-scope: 20\n', join(dir, 'c.yaml'), { manifest, env: {} });
    expect(c.limits.xml).toEqual({ maxDepth: 64, maxAttributes: 16, maxNsDeclarationsPerElement: 8, maxNsDeclarations: 500, maxPrefixesInScope: 20 });
    expect((await fail('limits:\n  xml:\n    max-depth: 2\n')).message).toContain('limits.xml.max-depth');
    expect((await fail('limits:\n  xml:\n    max-entities: 2\n')).message).toContain('limits.xml');
  });

  it('ssh hardening: seconds become ms; unknown MACs and bad exempt prefixes are refused with their path', async () => {
    const file = join(dir, 'ssh.yaml');
    await writeFile(file, `ssh:
  login-grace-time: 20
  max-unauthenticated: 5
  max-sessions-per-connection: 2
  max-sessions-per-user: 3
  macs: [hmac-sha2-256-etm@openssh.com, hmac-sha2-256]
  source-penalties: { auth-fail: 2, grace-exceeded: 4, min: 6, max: 60, exempt: [10.0.0.0/8, "2001:db8::/32"] }
`);
    const c = await loadConfigFile(file, { manifest, env: {} });
    expect(c.ssh).toEqual({
      loginGraceMs: 20_000, maxUnauthenticated: 5, maxSessionsPerConnection: 2, maxSessionsPerUser: 3,
      macs: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-256'],
      penalties: { authFailMs: 2_000, graceExceededMs: 4_000, minMs: 6_000, maxMs: 60_000, exempt: ['10.0.0.0/8', '2001:db8::/32'] },
    });
    const mac = await fail('ssh:\n  macs: [hmac-sha1]\n');
    expect(mac.code).toBe('ERR_CONFIG_INVALID');
    expect(mac.message).toContain('ssh.macs[0]');
    const cidr = await fail('ssh:\n  source-penalties:\n    exempt: [10.0.0.0/40]\n');
    expect(cidr.code).toBe('ERR_CONFIG_INVALID');
    expect(cidr.message).toMatch(/:3:.*ssh\.source-penalties\.exempt\[0\]: expected an IP address or CIDR prefix, got "10\.0\.0\.0\/40"/);
  });

  it('missing required keys point at the enclosing entry', async () => {
    const e = await fail('henbs:\n  - henb-id: a\n');
    expect(e.message).toContain('config.yaml:2:5: henbs[0].address: expected a value (it is required)');
  });

  it('call home (issue 12): a call-home henb needs its pinned host key instead of an address', async () => {
    const e = await fail('henbs:\n  - henb-id: a\n    call-home: true\n');
    expect(e.message).toContain('henbs[0].ssh-host-key: expected a value (it is required)');
    expect(e.message).not.toContain('address');
    const e2 = await fail('henbs:\n  - henb-id: a\n    call-home: false\n');
    expect(e2.message).toContain('henbs[0].address: expected a value (it is required)');
    const e3 = await fail('call-home:\n  listen: 4334\n');
    expect(e3.message).toContain('call-home.listen');
  });

  it('refuses literal secrets, and names a missing env var without any value', async () => {
    const e = await fail('users:\n  - name: admin\n    password: hunter2\n');
    expect(e.code).toBe('ERR_CONFIG_INVALID');
    expect(e.message).toContain('users[0].password: expected a mapping (object)');
    expect(e.message).not.toContain('hunter2');
    const e2 = await fail('users:\n  - name: admin\n    password: { env: NOT_SET }\n');
    expect(e2.code).toBe('ERR_CONFIG_SECRET');
    expect(e2.message).toContain('users[0].password: the environment variable NOT_SET is not set');
    const e3 = await fail('henbs:\n  - henb-id: a\n    address: b\n    password: { file: missing.txt }\n');
    expect(e3.code).toBe('ERR_CONFIG_SECRET');
    expect(e3.message).toContain('henbs[0].password: cannot read the secret file');
  });

  it('syntax errors and duplicates', async () => {
    const e = await fail('listen: [unclosed\n');
    expect(e.code).toBe('ERR_CONFIG_PARSE');
    expect(e.message).toMatch(/config\.yaml:\d+:\d+:/);
    const d = await fail('henbs:\n  - { henb-id: a, address: x }\n  - { henb-id: a, address: y }\n');
    expect(d.message).toContain('henbs[1].henb-id: expected a henb-id listed once, got "a"');
    const k = await fail('listen: a:1\nlisten: b:2\n');
    expect(k.code).toBe('ERR_CONFIG_PARSE');
  });

  it('a missing file is ERR_CONFIG_READ', async () => {
    await expect(loadConfigFile(join(dir, 'nope.yaml'), { manifest })).rejects.toMatchObject({ code: 'ERR_CONFIG_READ' });
  });
});

describe('authorized_keys', () => {
  it('parses keys, comments and the user option', () => {
    const keys = parseAuthorizedKeys(`# comment\n\n${KEY} me@host\nuser="nms" ${KEY}\n`);
    expect(keys).toEqual([{ key: KEY, comment: 'me@host' }, { key: KEY, user: 'nms' }]);
  });
  it('refuses options it cannot honour', () => {
    expect(() => parseAuthorizedKeys(`command="/bin/sh" ${KEY}\n`, 'ak')).toThrow(/ak:1: expected \[user="NAME"\] TYPE BASE64/);
  });
});
