// The built-in plugin loaded into a second, minimal host that implements only the documented contract
// (src/plugin/contract.ts + NetconfRegistry, here an in-memory recorder): proof that the plugin does not
// depend on our server's internals.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinPluginDir, loadPlugin } from '../../src/plugin/host.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { validatePluginConfig } from '../../src/plugin/manifest.js';
import { resolveSecrets } from '../../src/config/secrets.js';
import { silentLogger } from '../../src/log/logger.js';
import { loadOrCreateSigningKey, publishJwks } from '../../src/tokens/index.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { el, leaf, childText } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { FakeRegistry } from './fake-registry.js';

const HSV = 'urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify';

let dir: string;
let handle: PluginHandle | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-minhost-'));
});
afterEach(async () => {
  await handle?.close();
  handle = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('the built-in plugin in a minimal host', () => {
  it('activates through the contract only, registers what plugin.json declares, answers RPCs, closes', async () => {
    await loadOrCreateSigningKey(join(dir, 'pve-keys'), 'pve');
    await publishJwks(join(dir, 'pve-keys'));
    await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const plugin = await loadPlugin(builtinPluginDir());
    const valid = validatePluginConfig(plugin.manifest, {
      henbs: [{ 'henb-id': 'site-1', address: '127.0.0.1', port: 1, username: 'oam', password: { env: 'DEVICE_PW' } }],
      pve: { endpoint: 'https://127.0.0.1:1/restconf', ca: join(dir, 'ca.pem'), jwks: join(dir, 'pve-keys', 'jwks.json') },
    });
    const config = await resolveSecrets(valid, { DEVICE_PW: 'x' }, dir, 'test');
    const registry = new FakeRegistry();
    const ac = new AbortController();
    // the whole host: the six members of PluginHost, nothing else
    handle = await plugin.activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, 'data'), config, signal: ac.signal });

    const declared = plugin.manifest.yang.modules.map((m) => `${m.name}@${m.revision}`).sort();
    expect(registry.modules.map((m) => `${m.name}@${m.revision}`).sort()).toEqual(declared);
    expect(registry.streams.map((s) => s.name)).toEqual(plugin.manifest.streams.map((s) => s.name));
    expect([...registry.rpcs.keys()].sort()).toEqual([`${HSV} completion-tim`, `${HSV} integrity-request`, `${HSV} software-update`]);

    const ctx = { sessionId: 1, username: 'admin', signal: ac.signal, log: silentLogger };
    const refused = await registry.rpcs.get(`${HSV} software-update`)!(
      el(HSV, 'software-update', leaf(HSV, 'henb-id', 'nobody'), el(HSV, 'software', leaf(HSV, 'uri', 'file:///x.bin'))), ctx,
    ).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NetconfError);
    expect((refused as NetconfError).errors[0]?.appTag).toBe('unknown-henb');

    const keys = (await registry.states.get(`${HSV} signing-keys`)!()) as XmlElement;
    expect(JSON.parse(childText(keys, HSV, 'jwks') ?? '{}').keys.length).toBeGreaterThan(0);
    await handle.close();
    await handle.close();
    handle = undefined;
  });
});
