import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { runSimulateCommand } from '../../src/simulator/cli.js';
import { loadPveDevicesFile, runPveCommand } from '../../src/cli/pve-service.js';
import { createPveClient } from '../../src/pve/client.js';
import { createNetconfPveClient } from '../../src/pve/netconf-client.js';
import { newNonce } from '../../src/tokens/nonce.js';

class Out {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

/** the first output line, or the command's failure if it ends first */
async function firstLine(out: Out, running: Promise<number>): Promise<string> {
  let ended: unknown;
  running.then((rc) => { ended = new Error(`the command ended with ${rc} before printing`); }, (e: unknown) => { ended = e; });
  for (let i = 0; i < 1000 && !out.text.includes('\n'); i++) {
    if (ended !== undefined) throw ended;
    await new Promise((r) => setTimeout(r, 20));
  }
  return out.text.split('\n')[0]!;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('simulate and pve entry functions', () => {
  it('simulate --json output is a devices file for pve; pve prints a ready line and answers; both stop on abort', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-cli-'));
    dirs.push(dir);
    const simOut = new Out();
    const simStop = new AbortController();
    const sim = runSimulateCommand({ fleet: [{ profile: 'healthy', count: 1 }, { profile: 'compromised', count: 1 }], json: true, 'log-level': 'silent' },
      { stdout: simOut, stderr: new Out(), signal: simStop.signal, cwd: dir });
    const inventory = JSON.parse(await firstLine(simOut, sim)) as { event: string; devices: Array<{ henbId: string }> };
    expect(inventory.event).toBe('ready');
    expect(inventory.devices.map((d) => d.henbId)).toEqual(['healthy-1', 'compromised-1']);
    await writeFile(join(dir, 'fleet.json'), JSON.stringify({ ...inventory, netconf: { listen: '127.0.0.1:0', users: [{ username: 'oam', 'password-env': 'PVE_NC_PW' }] } }));

    const pveOut = new Out();
    const pveStop = new AbortController();
    const pve = runPveCommand({ listen: '127.0.0.1:0', 'data-dir': 'pve', devices: 'fleet.json', json: true, 'log-level': 'silent' },
      { stdout: pveOut, stderr: new Out(), signal: pveStop.signal, cwd: dir, env: { PVE_NC_PW: 'nc-secret' } });
    const ready = JSON.parse(await firstLine(pveOut, pve)) as { url: string; ca: string; jwks: string; devices: number; netconf: { host: string; port: number; hostKeySha256: string } };
    expect(ready.devices).toBe(2);
    const nc = createNetconfPveClient({ ...ready.netconf, username: 'oam', password: 'nc-secret' });
    expect((await nc.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j0' }, new AbortController().signal)).earStatus).toBe('affirming');
    expect(JSON.parse(await readFile(ready.jwks, 'utf8')).keys).toHaveLength(1);
    const client = createPveClient({ url: ready.url, ca: await readFile(ready.ca, 'utf8') });
    try {
      const ok = await client.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j1' }, new AbortController().signal);
      expect(ok.earStatus).toBe('affirming');
      const bad = await client.integrityRequest({ henbId: 'compromised-1', nonce: newNonce(), jobId: 'j2' }, new AbortController().signal);
      expect(bad.earStatus).toBe('contraindicated');
    } finally {
      client.close();
    }
    pveStop.abort();
    simStop.abort();
    expect(await pve).toBe(0);
    expect(await sim).toBe(0);
  });

  it('TLS: simulate --tls --call-home tls://..., its --json read as it is by pve --call-home-tls-listen; evidence collected over TLS call home', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-cli-tls-'));
    dirs.push(dir);
    const chPort = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    // the devices call the PVE's TLS call-home port (its listener starts later: they retry with backoff)
    const simOut = new Out();
    const simStop = new AbortController();
    const sim = runSimulateCommand({ fleet: [{ profile: 'healthy', count: 1 }], tls: true, 'call-home': `tls://127.0.0.1:${chPort}`, 'data-dir': 'fleet', json: true, 'log-level': 'silent' },
      { stdout: simOut, stderr: new Out(), signal: simStop.signal, cwd: dir });
    const inventory = JSON.parse(await firstLine(simOut, sim)) as { devices: Array<{ henbId: string; callHomeTransport?: string; netconfTls?: { caFile: string; port: number } }> };
    expect(inventory.devices[0]).toMatchObject({ callHomeTransport: 'tls', netconfTls: { caFile: join(dir, 'fleet', 'tls', 'ca.pem') } });
    await writeFile(join(dir, 'fleet.json'), JSON.stringify(inventory));
    const loaded = await loadPveDevicesFile(join(dir, 'fleet.json'));
    expect(loaded.devices[0]).toMatchObject({ transport: 'tls', callHome: true, tls: { ca: expect.stringContaining('BEGIN CERTIFICATE'), key: expect.stringContaining('PRIVATE KEY') } });

    const pveOut = new Out();
    const pveStop = new AbortController();
    const pve = runPveCommand({ listen: '127.0.0.1:0', 'data-dir': 'pve', devices: 'fleet.json', 'call-home-listen': '127.0.0.1:0', 'call-home-tls-listen': `127.0.0.1:${chPort}`, json: true, 'log-level': 'silent' },
      { stdout: pveOut, stderr: new Out(), signal: pveStop.signal, cwd: dir });
    const ready = JSON.parse(await firstLine(pveOut, pve)) as { url: string; ca: string; callHome: { tls: { port: number } } };
    expect(ready.callHome.tls.port).toBe(chPort);
    const client = createPveClient({ url: ready.url, ca: await readFile(ready.ca, 'utf8'), timeoutMs: 20_000 });
    try {
      const ok = await client.integrityRequest({ henbId: 'healthy-1', nonce: newNonce(), jobId: 'j1' }, new AbortController().signal);
      expect(ok.earStatus).toBe('affirming');
    } finally {
      client.close();
    }
    pveStop.abort();
    simStop.abort();
    expect(await pve).toBe(0);
    expect(await sim).toBe(0);
  }, 60_000);

  it('TLS devices-file errors name the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hsv-cli-tls-'));
    dirs.push(dir);
    const pem = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
    const write = (tls: unknown): Promise<void> => writeFile(join(dir, 'd.json'), JSON.stringify({ devices: [{ 'henb-id': 'a', host: '127.0.0.1', port: 6513, transport: 'tls', 'device-public-key': pem, ...(tls !== undefined ? { tls } : {}) }] }));
    await write(undefined);
    await expect(loadPveDevicesFile(join(dir, 'd.json'))).rejects.toThrow(/devices\[0\]\.tls: transport tls needs tls/);
    await write({ 'client-cert-file': 'c.pem', 'client-key-file': 'k.pem' });
    await expect(loadPveDevicesFile(join(dir, 'd.json'))).rejects.toThrow(/devices\[0\]\.tls\.ca-file: give the CA/);
    await write({ certificate: 'AB'.repeat(32), 'client-cert-file': 'missing.pem', 'client-key-file': 'k.pem' });
    await expect(loadPveDevicesFile(join(dir, 'd.json'))).rejects.toThrow(/devices\[0\]\.tls\.client-cert-file: cannot read missing\.pem/);
  });

  it('usage and devices-file errors are coded and name the field', async () => {
    const ctx = { stdout: new Out(), stderr: new Out(), signal: new AbortController().signal, cwd: tmpdir() };
    await expect(runPveCommand({ 'data-dir': 'x' }, ctx)).rejects.toMatchObject({ code: 'ERR_CLI_USAGE' });
    await expect(runPveCommand({ listen: 'nohost', 'data-dir': 'x' }, ctx)).rejects.toMatchObject({ code: 'ERR_CLI_USAGE' });
    await expect(runSimulateCommand({ fleet: [] }, ctx)).rejects.toMatchObject({ code: 'ERR_CLI_USAGE' });
    const dir = await mkdtemp(join(tmpdir(), 'hsv-cli-'));
    dirs.push(dir);
    const f = join(dir, 'devices.yaml');
    await writeFile(f, 'devices:\n  - henb-id: a\n    host: 127.0.0.1\n    port: 99999\n    username: u\n');
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ code: 'ERR_CONFIG_PVE_DEVICES', message: expect.stringContaining('devices[0].port') });
    await writeFile(f, 'devices: []\nreference-values:\n  kernel: [nothex]\n');
    await expect(loadPveDevicesFile(f)).rejects.toMatchObject({ message: expect.stringContaining('reference-values.kernel') });
  });
});
