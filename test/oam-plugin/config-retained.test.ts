/**
 * The plugin configuration's `henbs` list is not kept once it seeded running (issue 15, branch invmem): running holds
 * the entries, and the device driver needs only each entry's login and secrets, which the plugin keeps (one record
 * shared by the entries that have the same ones). Kept before, through the host the plugin held (host.config), and
 * through configOf's copy in the driver's lookup of secrets: ~0.35 KiB per H(e)NB at 100,000. Checked with WeakRefs
 * to the host's configuration, its list and one of its entries, after full GCs.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import { NETCONF_BASE_NS as NC, child, childText, childrenNamed, el } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HOST_API_VERSION } from '../../src/plugin/contract.js';
import type { PluginHandle } from '../../src/plugin/contract.js';
import { HSV_NS as HSV, activate } from '../../src/oam-plugin/index.js';
import { fileHenbsById } from '../../src/oam-plugin/inventory.js';
import { recordingRegistry } from '../helpers/registry.js';
import { createTestPki } from '../helpers/tls-pki.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-config-retained-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** a CA certificate's PEM file (pve.ca) */
async function pem(): Promise<string> {
  const pki = createTestPki();
  const f = join(dir, 'pve-ca.pem');
  await writeFile(f, pki.ca.cert);
  pki.cleanup();
  return f;
}

/** a JWKS file with one ES256 key (pve.jwks) */
async function jwks(): Promise<string> {
  const f = join(dir, 'pve-jwks.json');
  await writeFile(f, JSON.stringify({ keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  return f;
}

/** full GCs, then a turn of the event loop (WeakRefs are cleared at the end of a job) */
async function collect(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

describe('the configuration\'s henbs once seeded', () => {
  // with a PVE too: its client's callbacks (operations counted, an older PVE noticed) once held the whole host
  const pves: Array<[string, () => Promise<Record<string, unknown>>]> = [
    ['no pve section', async () => ({})],
    ['a RESTCONF PVE', async () => ({ pve: { endpoint: 'https://127.0.0.1:1/restconf', ca: await pem(), jwks: await jwks() } })],
    ['a NETCONF PVE', async () => ({ pve: { endpoint: 'ssh://127.0.0.1:1', transport: 'netconf', 'ssh-host-key': `SHA256:${'A'.repeat(43)}`, username: 'oam', password: 'pw', jwks: await jwks() } })],
  ];
  it.each(pves)('%s: neither the host\'s configuration nor its list nor an entry of it is kept by the active plugin; running holds the entries', async (name, extra) => {
    const seeded: XmlElement[] = [];
    const registry = {
      ...recordingRegistry(),
      seedRunning: (node: XmlElement): Promise<boolean> => {
        seeded.push(node);
        return Promise.resolve(true);
      },
      getRunning: (): XmlElement => el(NC, 'data', seeded),
    };
    const refs: Array<WeakRef<object>> = [];
    // the host and its configuration made and handed over in here: nothing of them stays in this test's scope
    const handle: PluginHandle = await (async () => {
      const henbs = Array.from({ length: 3 }, (_, i) => ({ 'henb-id': `h${i}`, address: `192.0.2.${i + 1}`, port: 830, username: 'oam', password: 'pw-shared', transport: 'ssh' }));
      const config = { henbs, ...(await extra()) };
      refs.push(new WeakRef(config), new WeakRef(henbs), new WeakRef(henbs[0]!));
      return activate({ apiVersion: HOST_API_VERSION, registry, log: silentLogger, dataDir: join(dir, `oam-${name.replace(/\W+/g, '-')}`), config, baseDir: dir, signal: new AbortController().signal });
    })();
    try {
      const inv = child(registry.getRunning(), HSV, 'inventory')!;
      expect(childrenNamed(inv, HSV, 'henb').map((h) => childText(h, HSV, 'henb-id'))).toEqual(['h0', 'h1', 'h2']);
      await collect();
      expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true, true]);
    } finally {
      await handle.close();
    }
  });

  it('the secrets kept: one record per distinct login and secrets, none for an entry without any; the first entry of an id wins', () => {
    const m = fileHenbsById([
      { 'henb-id': 'a', address: 'x', username: 'oam', password: 'pw' },
      { 'henb-id': 'b', address: 'y', username: 'oam', password: 'pw' },
      { 'henb-id': 'c', address: 'z', 'private-key': 'KEY' },
      { 'henb-id': 'd', address: 'w' },
      { 'henb-id': 'a', address: 'v', password: 'other' },
    ]);
    expect(m.get('a')).toEqual({ username: 'oam', password: 'pw' });
    expect(m.get('b')).toBe(m.get('a'));
    expect(m.get('c')).toEqual({ 'private-key': 'KEY' });
    expect(m.has('d')).toBe(false);
    expect(Object.isFrozen(m.get('a'))).toBe(true);
  });
});
