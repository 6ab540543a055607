import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { connectNetconf } from '../../src/netconf/client/index.js';
import { el, NETCONF_BASE_NS } from '../../src/netconf/xml/index.js';
import { generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import { until } from '../helpers/until.js';
import { loadOrCreatePveTls } from '../../src/pve/tls.js';
import { generateSigningKey } from '../../src/tokens/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hsv-serve-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});


describe('serve', () => {
  it('prints exactly one ready line, accepts admin with the env password, keeps its host key, stops on the signal', async () => {
    const ac = new AbortController();
    const stdout = new BufferWritable();
    const stderr = new BufferWritable();
    const env = { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw-1' };
    const done = runCli(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'warn'], { stdout, stderr, env, signal: ac.signal });
    await until(() => stdout.text().includes('\n'), 'the ready line');
    const m = /^henb-sw-verify: listening on 127\.0\.0\.1:(\d+) \(ssh host key (SHA256:[A-Za-z0-9+/]{43}), ssh-ed25519 [A-Za-z0-9+/]+=*\)\n$/.exec(stdout.text());
    expect(m).not.toBeNull();
    const c = await connectNetconf({ host: '127.0.0.1', port: Number(m![1]), username: 'admin', password: 'pw-1', hostKeySha256: m![2] });
    const reply = await c.rpc(el(NETCONF_BASE_NS, 'get-config', el(NETCONF_BASE_NS, 'source', el(NETCONF_BASE_NS, 'running'))));
    expect(reply.name).toBe('rpc-reply');
    await c.close();
    await expect(connectNetconf({ host: '127.0.0.1', port: Number(m![1]), username: 'admin', password: 'wrong', hostKeySha256: m![2] })).rejects.toThrow();
    ac.abort();
    expect(await done).toBe(0);
    expect(stdout.text().split('\n').filter(Boolean)).toHaveLength(1);

    // the host key is kept: a second start presents the same fingerprint
    const ac2 = new AbortController();
    const out2 = new BufferWritable();
    const done2 = runCli(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'silent', '--json'], { stdout: out2, stderr: new BufferWritable(), env, signal: ac2.signal });
    await until(() => out2.text().includes('\n'), 'the second ready line');
    expect(JSON.parse(out2.text())).toMatchObject({ event: 'listening', host: '127.0.0.1', hostKey: m![2] });
    ac2.abort();
    expect(await done2).toBe(0);
  });

  it('public keys in DATA_DIR/authorized_keys log in as the user named by user="NAME" (admin otherwise)', async () => {
    const bot = generateEd25519KeyPair();
    const ops = generateEd25519KeyPair();
    await writeFile(join(dir, 'authorized_keys'), `# keys\nuser="bot" ${bot.public}\n${ops.public}\n`);
    const ac = new AbortController();
    const stdout = new BufferWritable();
    const done = runCli(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'silent', '--json'], { stdout, stderr: new BufferWritable(), env: {}, signal: ac.signal });
    await until(() => stdout.text().includes('\n'), 'the ready line');
    const { port, hostKey } = JSON.parse(stdout.text()) as { port: number; hostKey: string };
    for (const [username, key] of [['bot', bot.private], ['admin', ops.private]] as const) {
      const c = await connectNetconf({ host: '127.0.0.1', port, username, privateKey: key, hostKeySha256: hostKey });
      await c.close();
    }
    await expect(connectNetconf({ host: '127.0.0.1', port, username: 'admin', privateKey: bot.private, hostKeySha256: hostKey })).rejects.toThrow();
    ac.abort();
    expect(await done).toBe(0);
  });

  it('--check: 0 for a valid config, 2 naming the file, path and expectation for an invalid one; nothing starts', async () => {
    const good = join(dir, 'good.yaml');
    // --check reads pve.ca and pve.jwks as a start would (test/cli/serve-check.test.ts): real files here
    const { caPath } = await loadOrCreatePveTls(join(dir, 'pve'), ['127.0.0.1']);
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [(await generateSigningKey()).publicJwk] }));
    await writeFile(good, `listen: 127.0.0.1:0\ndata-dir: data\nusers:\n  - name: nms\n    password: { env: NMS_PW }\nhenbs:\n  - { henb-id: a, address: 10.0.0.1 }\npve:\n  endpoint: https://pve:8443/restconf\n  ca: ${caPath}\n  jwks: jwks.json\n`);
    const out = new BufferWritable();
    expect(await runCli(['serve', '--config', good, '--check', '--json'], { stdout: out, stderr: new BufferWritable(), env: { NMS_PW: 'x' }, signal: new AbortController().signal })).toBe(0);
    expect(JSON.parse(out.text())).toMatchObject({ ok: true, henbs: 1, users: ['nms'], listen: '127.0.0.1:0' });

    const err = new BufferWritable();
    expect(await runCli(['serve', '--config', good, '--check'], { stdout: new BufferWritable(), stderr: err, env: {}, signal: new AbortController().signal })).toBe(2);
    expect(err.text()).toContain('ERR_CONFIG_SECRET');
    expect(err.text()).toContain('users[0].password: the environment variable NMS_PW is not set');

    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'henbs:\n  - { henb-id: a, address: x }\n  - { henb-id: b, address: y }\n  - { henb-id: c, address: z, port: 99999 }\n');
    const err2 = new BufferWritable();
    expect(await runCli(['serve', '--config', bad, '--check'], { stdout: new BufferWritable(), stderr: err2, env: {}, signal: new AbortController().signal })).toBe(2);
    expect(err2.text()).toContain(`${bad}:4:37: henbs[2].port: expected a number <= 65535, got 99999`);
  });

  it('secrets from the environment and from files never reach the log, even at debug', async () => {
    await writeFile(join(dir, 'nms.secret'), 'file-secret-7781\n');
    const cfg = join(dir, 'secrets.yaml');
    await writeFile(cfg, `users:\n  - name: nms\n    password: { file: nms.secret }\n`);
    const ac = new AbortController();
    const stdout = new BufferWritable();
    const stderr = new BufferWritable();
    const env = { HENB_SW_VERIFY_ADMIN_PASSWORD: 'env-secret-5519' };
    const done = runCli(['serve', '--config', cfg, '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'debug', '--json'], { stdout, stderr, env, signal: ac.signal });
    await until(() => stdout.text().includes('\n'), 'the ready line');
    const { port, hostKey } = JSON.parse(stdout.text()) as { port: number; hostKey: string };
    const c = await connectNetconf({ host: '127.0.0.1', port, username: 'nms', password: 'file-secret-7781', hostKeySha256: hostKey });
    await c.close();
    await expect(connectNetconf({ host: '127.0.0.1', port, username: 'admin', password: 'wrong-guess-0042', hostKeySha256: hostKey })).rejects.toThrow();
    ac.abort();
    expect(await done).toBe(0);
    const log = stderr.text();
    expect(log.length).toBeGreaterThan(0);
    for (const secret of ['env-secret-5519', 'file-secret-7781', 'wrong-guess-0042']) expect(log).not.toContain(secret);
  });

  it('limits from the config reach the server (max-sessions)', async () => {
    const cfg = join(dir, 'limits.yaml');
    await writeFile(cfg, 'limits:\n  max-sessions: 1\n');
    const ac = new AbortController();
    const stdout = new BufferWritable();
    const done = runCli(['serve', '--config', cfg, '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'silent', '--json'], { stdout, stderr: new BufferWritable(), env: { HENB_SW_VERIFY_ADMIN_PASSWORD: 'pw' }, signal: ac.signal });
    await until(() => stdout.text().includes('\n'), 'the ready line');
    const { port, hostKey } = JSON.parse(stdout.text()) as { port: number; hostKey: string };
    const first = await connectNetconf({ host: '127.0.0.1', port, username: 'admin', password: 'pw', hostKeySha256: hostKey });
    await expect(connectNetconf({ host: '127.0.0.1', port, username: 'admin', password: 'pw', hostKeySha256: hostKey, connectTimeoutMs: 5000, helloTimeoutMs: 5000 })).rejects.toThrow();
    await first.close();
    ac.abort();
    expect(await done).toBe(0);
  });

  it('a bad --plugin is refused before anything listens', async () => {
    const err = new BufferWritable();
    const code = await runCli(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--plugin', join(dir, 'missing')], { stdout: new BufferWritable(), stderr: err, env: {}, signal: new AbortController().signal });
    expect(code).toBe(2);
    expect(err.text()).toContain('ERR_PLUGIN_LOAD');
  });
});
