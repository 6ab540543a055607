/**
 * One inventory (issue 12 item 3): running's /hsv:inventory is the list; the plugin configuration seeds it on
 * the first start only. Over a real `serve` host and NETCONF/SSH on loopback: get-config, /hsv:henbs and the
 * rollout tool's inventory agree, edit-config changes all three, and a restart with a changed file neither
 * brings back a deleted entry nor adds a new file entry (it warns). Plus the pure parts: running <-> entries,
 * and how an entry's secret is found.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOamServer } from '../../src/cli/oam-server.js';
import type { RunningOamServer } from '../../src/cli/oam-server.js';
import { connectRolloutTarget } from '../../src/cli/rollout/netconf-target.js';
import { parseConfig } from '../../src/config/load.js';
import type { ServeConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import type { NetconfClient } from '../../src/netconf/client/index.js';
import { NETCONF_BASE_NS as NC, child, childText, childrenNamed, el, elA, leaf } from '../../src/netconf/xml/index.js';
import type { XmlElement } from '../../src/netconf/xml/index.js';
import { HSV_NS as HSV } from '../../src/oam-plugin/index.js';
import { deviceEntryOf, fileHenbsById, inventoryFromRunning, inventoryXml } from '../../src/oam-plugin/inventory.js';
import { builtinPluginDir } from '../../src/plugin/host.js';
import { readManifest } from '../../src/plugin/manifest.js';
import { fingerprintOfKeyBlob } from '../../src/host-key.js';
import { generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import ssh2 from '../../src/netconf/ssh/ssh2.js';

const SUBTREE = [{ ns: '', name: 'type', value: 'subtree' }];
const KEY_A = 'SHA256:' + 'A'.repeat(43);
const KEY_C = 'SHA256:' + 'C'.repeat(43);
let dir: string;

async function serve(yaml: string, log = silentLogger): Promise<{ server: RunningOamServer; nc: NetconfClient }> {
  const manifest = await readManifest(join(builtinPluginDir(), 'plugin.json'));
  const config: ServeConfig = await parseConfig(yaml, join(dir, 'serve.yaml'), { manifest, env: { PW_A: 'a-secret' } });
  const server = await startOamServer({ listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'data'), config, env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw', PW_A: 'a-secret' }, log });
  const nc = await connectNetconf({ host: '127.0.0.1', port: server.address.port, username: 'admin', password: 'pw', hostKeySha256: server.fingerprint });
  return { server, nc };
}

async function views(s: { server: RunningOamServer; nc: NetconfClient }): Promise<{ running: XmlElement[]; state: Map<string, XmlElement>; rollout: string[] }> {
  const cfg = await s.nc.rpc(el(NC, 'get-config', el(NC, 'source', el(NC, 'running')), elA(NC, 'filter', SUBTREE, el(HSV, 'inventory'))));
  const inv = child(child(cfg, NC, 'data')!, HSV, 'inventory');
  const st = await s.nc.rpc(el(NC, 'get', elA(NC, 'filter', SUBTREE, el(HSV, 'henbs'))));
  const henbs = child(child(st, NC, 'data')!, HSV, 'henbs');
  const conn = await connectRolloutTarget({
    host: '127.0.0.1', port: s.server.address.port, username: 'admin', password: 'pw', hostKey: s.server.fingerprint,
    software: { uri: 'file:///x' }, selfCheck: true, log: silentLogger, signal: new AbortController().signal,
  });
  const rollout = await conn.inventory(new AbortController().signal);
  await conn.close();
  return {
    running: inv ? childrenNamed(inv, HSV, 'henb') : [],
    state: new Map((henbs ? childrenNamed(henbs, HSV, 'henb') : []).map((h) => [childText(h, HSV, 'henb-id')!, h])),
    rollout,
  };
}

const ids = (hs: XmlElement[]): string[] => hs.map((h) => childText(h, HSV, 'henb-id')!).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-inventory-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('running is the one inventory', () => {
  it('first start: the file seeds running (no secret in it); get-config, /hsv:henbs and the rollout tool agree; edit-config changes all three', async () => {
    const s = await serve(`listen: 127.0.0.1:0
henbs:
  - henb-id: a
    address: 192.0.2.1
    ssh-host-key: ${KEY_A}
    username: oam
    password: { env: PW_A }
  - henb-id: b
    address: 192.0.2.2
`);
    try {
      let v = await views(s);
      expect(ids(v.running)).toEqual(['a', 'b']);
      const a = v.running.find((h) => childText(h, HSV, 'henb-id') === 'a')!;
      expect(childText(a, HSV, 'address')).toBe('192.0.2.1');
      expect(childText(a, HSV, 'ssh-host-key')).toBe(KEY_A);
      expect(childText(a, HSV, 'credentials')).toBeUndefined(); // the secret stays in the file
      expect(JSON.stringify(v.running)).not.toContain('a-secret');
      expect([...v.state.keys()].sort()).toEqual(['a', 'b']);
      expect(v.rollout.sort()).toEqual(['a', 'b']);
      expect(childText(v.state.get('a')!, HSV, 'connection')).toBe('not-connected');
      expect(childText(v.state.get('a')!, HSV, 'connected-since')).toBeUndefined();

      // the operator removes b and adds c (a call-home device: no address)
      await s.nc.rpc(el(NC, 'edit-config', el(NC, 'target', el(NC, 'running')), el(NC, 'config', el(HSV, 'inventory',
        elA(HSV, 'henb', [{ ns: NC, name: 'operation', value: 'delete' }], leaf(HSV, 'henb-id', 'b')),
        el(HSV, 'henb', leaf(HSV, 'henb-id', 'c'), el(HSV, 'call-home'), leaf(HSV, 'ssh-host-key', KEY_C), leaf(HSV, 'credentials', 'env:PW_C'))))));
      v = await views(s);
      expect(ids(v.running)).toEqual(['a', 'c']);
      expect([...v.state.keys()].sort()).toEqual(['a', 'c']);
      expect(v.rollout.sort()).toEqual(['a', 'c']);
      // software-update accepts exactly the inventory: b is unknown now
      const err = await s.nc.rpc(el(HSV, 'software-update', leaf(HSV, 'henb-id', 'b'), el(HSV, 'software', leaf(HSV, 'uri', 'file:///x')))).catch((e: unknown) => e);
      expect((err as { errors?: Array<{ appTag?: string }> }).errors?.[0]?.appTag).toBe('unknown-henb');
    } finally {
      await s.nc.close();
      await s.server.close();
    }
  });

  it('a restart with a changed file: running is kept (b stays deleted, d is not added) and the start warns', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const s = await serve(`listen: 127.0.0.1:0
henbs:
  - henb-id: a
    address: 192.0.2.1
  - henb-id: b
    address: 192.0.2.2
  - henb-id: d
    address: 192.0.2.4
`, createLogger({ level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }));
    try {
      const v = await views(s);
      expect(ids(v.running)).toEqual(['a', 'c']);
      expect([...v.state.keys()].sort()).toEqual(['a', 'c']);
      expect(v.rollout.sort()).toEqual(['a', 'c']);
      const warn = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('running does not have'));
      expect(warn?.henbs).toEqual(['b', 'd']);
    } finally {
      await s.nc.close();
      await s.server.close();
    }
  });
});

describe('inventory entries', () => {
  const log = silentLogger;
  it('running <-> entries: what the file seeds reads back the same', () => {
    const xml = inventoryXml([
      { 'henb-id': 'a', address: '192.0.2.1', port: 1830, 'ssh-host-key': KEY_A, username: 'oam', password: 'secret', description: 'x' },
      { 'henb-id': 'c', 'call-home': true, 'ssh-host-key': KEY_C },
    ]);
    expect(JSON.stringify(xml)).not.toContain('secret');
    expect(inventoryFromRunning(el(NC, 'data', xml))).toEqual([
      { henbId: 'a', address: '192.0.2.1', port: 1830, sshHostKey: KEY_A, username: 'oam', callHome: false, description: 'x' },
      { henbId: 'c', port: 830, sshHostKey: KEY_C, callHome: true },
    ]);
  });

  it('no port: the transport\'s (830 ssh, 6513 tls), for an entry from the file and one written by edit-config alike', () => {
    const xml = inventoryXml([
      { 'henb-id': 't1', address: '192.0.2.1', transport: 'tls', 'tls-certificate': 'AB'.repeat(32) },
      { 'henb-id': 't2', address: '192.0.2.2', transport: 'tls', port: 830, 'tls-certificate': 'AB'.repeat(32) },
      { 'henb-id': 's1', address: '192.0.2.3', port: 6513, 'ssh-host-key': KEY_A },
    ]);
    // running holds a port only where it is not the transport's own
    expect(childrenNamed(xml, HSV, 'henb').map((h) => childText(h, HSV, 'port'))).toEqual([undefined, '830', '6513']);
    expect(inventoryFromRunning(el(NC, 'data', xml)).map((e) => [e.henbId, e.port])).toEqual([['t1', 6513], ['t2', 830], ['s1', 6513]]);
    // as an NMS writes it with edit-config: transport tls and no port
    const edited = el(NC, 'data', el(HSV, 'inventory', el(HSV, 'henb', leaf(HSV, 'henb-id', 'e1'), leaf(HSV, 'address', '192.0.2.9'), leaf(HSV, 'transport', 'tls')),
      el(HSV, 'henb', leaf(HSV, 'henb-id', 'e2'), leaf(HSV, 'address', '192.0.2.10'))));
    expect(inventoryFromRunning(edited).map((e) => [e.henbId, e.port, e.transport])).toEqual([['e1', 6513, 'tls'], ['e2', 830, undefined]]);
  });

  it('the file entry of a henb-id: the first of the file wins, as before the lookup by id', () => {
    const file = fileHenbsById([
      { 'henb-id': 'a', address: 'h', username: 'first', password: 'pw-1' },
      { 'henb-id': 'b', address: 'h', username: 'other', password: 'pw-b' },
      { 'henb-id': 'a', address: 'h', username: 'second', password: 'pw-2' },
    ]);
    expect(deviceEntryOf({ henbId: 'a', address: 'h', port: 830, callHome: false }, file, {}, log)).toMatchObject({ username: 'first', password: 'pw-1' });
    expect(deviceEntryOf({ henbId: 'b', address: 'h', port: 830, callHome: false }, file, {}, log)).toMatchObject({ username: 'other', password: 'pw-b' });
    expect(deviceEntryOf({ henbId: 'c', address: 'h', port: 830, callHome: false }, file, {}, log)).toMatchObject({ username: 'admin' });
  });

  it('the secret: from credentials env:/file:, else the file entry of the same henb-id; unusable entries are refused', async () => {
    const file = [{ 'henb-id': 'a', address: 'h', username: 'from-file', password: 'file-pw' }];
    expect(deviceEntryOf({ henbId: 'a', address: 'h', port: 830, callHome: false }, fileHenbsById(file), {}, log)).toMatchObject({ username: 'from-file', password: 'file-pw' });
    expect(deviceEntryOf({ henbId: 'a', address: 'h', port: 830, callHome: false, credentials: 'env:X' }, fileHenbsById(file), { X: 'env-pw' }, log)).toMatchObject({ password: 'env-pw' });
    const keyFile = join(dir, 'key.pem');
    await writeFile(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n');
    const withKey = deviceEntryOf({ henbId: 'z', address: 'h', port: 830, callHome: false, credentials: `file:${keyFile}` }, fileHenbsById(file), {}, log)!;
    expect(withKey.privateKey).toContain('OPENSSH PRIVATE KEY');
    expect(withKey.password).toBeUndefined();
    const missing = deviceEntryOf({ henbId: 'z', address: 'h', port: 830, callHome: false, credentials: 'env:NOPE' }, fileHenbsById(file), {}, log)!;
    expect(missing.password).toBeUndefined(); // connects fail with ERR_DEVICE_CONFIG, logged
    expect(deviceEntryOf({ henbId: 'z', port: 830, callHome: false }, fileHenbsById(file), {}, log)).toBeUndefined(); // nothing to dial
    expect(deviceEntryOf({ henbId: 'z', port: 830, callHome: true }, fileHenbsById(file), {}, log)).toBeUndefined(); // call home without a key
    expect(deviceEntryOf({ henbId: 'z', port: 830, callHome: true, sshHostKey: KEY_C }, fileHenbsById(file), {}, log)).toMatchObject({ callHome: true, hostKeySha256: KEY_C });
  });

  it('an ssh-host-key given as the public key (typedef ssh-host-key) is pinned by its fingerprint; a blob that is no SSH key is unusable', () => {
    const pair = generateEd25519KeyPair('inv');
    const parsed = ssh2.utils.parseKey(pair.public);
    if (parsed instanceof Error) throw parsed;
    const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
    const line = `ssh-ed25519 ${blob.toString('base64')} henb@bench`;
    expect(deviceEntryOf({ henbId: 'p', address: 'h', port: 830, callHome: false, sshHostKey: line }, fileHenbsById([]), {}, log)).toMatchObject({ hostKeySha256: fingerprintOfKeyBlob(blob) });
    expect(deviceEntryOf({ henbId: 'p', port: 830, callHome: true, sshHostKey: line }, fileHenbsById([]), {}, log)).toMatchObject({ callHome: true, hostKeySha256: fingerprintOfKeyBlob(blob) });
    // matches the YANG pattern, but the blob is cut short: not pinned to anything, the entry is not used
    expect(deviceEntryOf({ henbId: 'p', address: 'h', port: 830, callHome: false, sshHostKey: `ssh-ed25519 ${blob.subarray(0, 20).toString('base64')}` }, fileHenbsById([]), {}, log)).toBeUndefined();
  });
});
