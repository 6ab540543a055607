// src/host-key.ts (issue 14 item 6): a host key pin in either form, the fingerprint or the public key.
import { describe, expect, it } from 'vitest';
import { fingerprintOfKeyBlob, hostKeyFingerprint } from '../src/host-key.js';
import { generateEd25519KeyPair } from '../src/netconf/server/index.js';
import ssh2 from '../src/netconf/ssh/ssh2.js';

describe('hostKeyFingerprint', () => {
  const pair = generateEd25519KeyPair('test');
  const parsed = ssh2.utils.parseKey(pair.public);
  if (parsed instanceof Error) throw parsed;
  const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
  const fp = fingerprintOfKeyBlob(blob);
  const line = `ssh-ed25519 ${blob.toString('base64')}`;

  it('the fingerprint, the public key line (with or without a comment) and the bare blob give one fingerprint', () => {
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(hostKeyFingerprint(fp)).toBe(fp);
    expect(hostKeyFingerprint(line)).toBe(fp);
    expect(hostKeyFingerprint(`${line} oam@example`)).toBe(fp);
    expect(hostKeyFingerprint(`  ${blob.toString('base64')}\n`)).toBe(fp);
  });

  it('refuses what is neither: a short fingerprint, a type that does not match the blob, garbage', () => {
    expect(hostKeyFingerprint('SHA256:abc')).toBeUndefined();
    expect(hostKeyFingerprint(`ssh-rsa ${blob.toString('base64')}`)).toBeUndefined();
    expect(hostKeyFingerprint('ssh-ed25519 !!!')).toBeUndefined();
    expect(hostKeyFingerprint('hello world')).toBeUndefined();
    expect(hostKeyFingerprint('')).toBeUndefined();
    expect(hostKeyFingerprint('AAAA')).toBeUndefined();
  });
});

describe('every place that pins a host key takes both forms (issue 14 item 6)', () => {
  it('rollout --host-key: a public key is accepted, garbage is a usage error naming both forms', async () => {
    const { runCli } = await import('../src/cli/main.js');
    const { BufferWritable } = await import('../src/cli/io.js');
    const run = async (key: string): Promise<{ code: number; err: string }> => {
      const stderr = new BufferWritable();
      // port 1 on loopback: nothing listens, so a key that passes the check fails only later, at connect (exit 3)
      const code = await runCli(['rollout', '--server', '127.0.0.1:1', '--software', 'file:///x.bin', '--host-key', key, '--report', '/nonexistent/r.json'],
        { stdout: new BufferWritable(), stderr, env: { HENB_SW_VERIFY_PASSWORD: 'x' }, signal: new AbortController().signal });
      return { code, err: stderr.text() };
    };
    const pair = generateEd25519KeyPair('t');
    const parsed = ssh2.utils.parseKey(pair.public);
    if (parsed instanceof Error) throw parsed;
    const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
    const bad = await run('ssh-ed25519 nonsense');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--host-key expects SHA256:<43 base64 chars> (ssh-keygen -lf) or a public key 'ssh-ed25519 AAAA...'");
    for (const key of [`ssh-ed25519 ${blob.toString('base64')}`, fingerprintOfKeyBlob(blob)]) {
      const r = await run(key);
      expect(r.code, key).toBe(3);
      expect(r.err, key).not.toContain('--host-key expects');
    }
  });

  it('the PVE devices file takes a public key as host-key and pins its fingerprint; serve --check refuses a bad ssh-host-key', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadPveDevicesFile } = await import('../src/cli/pve-service.js');
    const { runCli } = await import('../src/cli/main.js');
    const { BufferWritable } = await import('../src/cli/io.js');
    const dir = await mkdtemp(join(tmpdir(), 'hsv-hostkey-'));
    try {
      const pair = generateEd25519KeyPair('t');
      const parsed = ssh2.utils.parseKey(pair.public);
      if (parsed instanceof Error) throw parsed;
      const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
      const pem = (await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      await writeFile(join(dir, 'devices.yaml'), `devices:\n  - henb-id: a\n    host: 127.0.0.1\n    port: 830\n    username: u\n    password: p\n    host-key: ssh-ed25519 ${blob.toString('base64')} dev@a\n    device-public-key: |\n${pem.split('\n').map((l) => `      ${l}`).join('\n')}\n`);
      const f = await loadPveDevicesFile(join(dir, 'devices.yaml'), {});
      expect(f.devices[0]?.hostKeySha256).toBe(fingerprintOfKeyBlob(blob));

      await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0\ndata-dir: data\nhenbs:\n  - henb-id: a\n    address: 127.0.0.1\n    ssh-host-key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbad\n`);
      const stderr = new BufferWritable();
      const code = await runCli(['serve', '--config', join(dir, 'config.yaml'), '--check'], { stdout: new BufferWritable(), stderr, env: {}, signal: new AbortController().signal });
      expect(code).toBe(2);
      expect(stderr.text()).toContain('ERR_CONFIG_HOST_KEY');
      expect(stderr.text()).toContain('henbs[0].ssh-host-key');
      await writeFile(join(dir, 'config.yaml'), `listen: 127.0.0.1:0\ndata-dir: data\nhenbs:\n  - henb-id: a\n    address: 127.0.0.1\n    ssh-host-key: ssh-ed25519 ${blob.toString('base64')}\n`);
      const ok = await runCli(['serve', '--config', join(dir, 'config.yaml'), '--check'], { stdout: new BufferWritable(), stderr: new BufferWritable(), env: {}, signal: new AbortController().signal });
      expect(ok).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
