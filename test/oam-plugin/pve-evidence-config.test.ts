/** Config pve.evidence (issue 15): collect (default) | relay; anything else refused with a readable error, before anything opens. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import type { ConfigError } from '../../src/config/errors.js';
import { validateManifest } from '../../src/plugin/manifest.js';
import { configOf, pveEvidenceOf } from '../../src/oam-plugin/config.js';

const manifest = validateManifest(JSON.parse(readFileSync(new URL('../../plugin.json', import.meta.url), 'utf8')));
const PVE = 'pve:\n  endpoint: https://pve.example:8443/restconf\n  ca: pve-ca.pem\n  jwks: pve.jwks\n';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-pve-evidence-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('config pve.evidence', () => {
  it('collect and relay are accepted; collect is the default', async () => {
    const file = join(dir, 'config.yaml');
    const relay = await parseConfig(`${PVE}  evidence: relay\n`, file, { manifest, env: {} });
    expect((relay.builtin as { pve: { evidence: string } }).pve.evidence).toBe('relay');
    const dflt = await parseConfig(PVE, file, { manifest, env: {} });
    expect((dflt.builtin as { pve: { evidence: string } }).pve.evidence).toBe('collect');
    expect(pveEvidenceOf(undefined)).toBe('collect');
    expect(pveEvidenceOf('relay')).toBe('relay');
  });

  it('another value: the serve config names the key and the allowed values; the plugin refuses it too (ERR_OAM_CONFIG)', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(file, `${PVE}  evidence: forward\n`);
    const e = await loadConfigFile(file, { manifest, env: {} }).then(() => undefined, (x: unknown) => x as ConfigError);
    expect(e?.code).toBe('ERR_CONFIG_INVALID');
    expect(e?.message).toContain(`${file}:5:13: pve.evidence: expected one of "collect", "relay", got "forward"`);
    expect(() => configOf({ pve: { endpoint: 'https://pve.example/restconf', ca: 'ca.pem', evidence: 'forward' } }))
      .toThrow(expect.objectContaining({ code: 'ERR_OAM_CONFIG', message: 'plugin config: pve.evidence: expected collect or relay, got "forward"' }));
  });
});
