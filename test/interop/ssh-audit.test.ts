/**
 * Interop: ssh-audit (Debian package, jtesta/ssh-audit 2.5) audits our NETCONF server's SSH layer as an
 * attacker's scanner would (loopback only). With the server's defaults there is no fail and no warn on key
 * exchange, host key, cipher, MAC or compression, except one documented line (docs/security.md, "SSH
 * hardening"): ssh2 appends `kex-strict-s-v00@openssh.com` to its key exchange list, the strict-KEX marker
 * that counters the Terrapin attack (CVE-2023-48795), and ssh-audit 2.5 predates it ("unknown algorithm").
 * Host key types other than Ed25519 (the default) are audited too, and their findings pinned, so that the
 * documentation says what an operator who brings such a key will see. A missing ssh-audit fails this suite.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetconfServer } from '../../src/netconf/server/index.js';
import type { NetconfServer } from '../../src/netconf/server/index.js';

const SSH_AUDIT = '/usr/bin/ssh-audit';

interface Finding { section: string; algorithm: string; level: 'fail' | 'warn' | 'info'; text: string }
interface Audit { findings: Finding[]; offered: { kex: string[]; key: string[]; enc: string[]; mac: string[]; compression: string[] }; raw: string }

/** runs ssh-audit (text for the findings, -j for the offered lists); its exit code is non-zero on any warning */
async function sshAudit(port: number): Promise<Audit> {
  const run = (args: string[]): Promise<string> => new Promise((resolve, reject) => {
    execFile(SSH_AUDIT, [...args, '-p', String(port), '127.0.0.1'], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as { code?: unknown }).code === 'ENOENT') return reject(new Error(`${SSH_AUDIT} is missing: run scripts/install-peers.sh`));
      if (!stdout.includes('SSH-2.0-henb-sw-verify') && !stdout.includes('"banner"')) return reject(new Error(`ssh-audit did not audit the server:\n${stdout}${stderr}`));
      resolve(stdout);
    });
  });
  const text = await run(['-n']);
  const json = JSON.parse(await run(['-j'])) as Record<string, unknown>;
  const findings: Finding[] = [];
  let current: { section: string; algorithm: string } | undefined;
  for (const line of text.split('\n')) {
    // `(kex) name  -- [level] text`, or `(key) ssh-rsa (3072-bit)  -- ...` for host keys
    const head = /^\((\w+)\) (\S+)(?: \(\d+-bit\))?\s+-- \[(fail|warn|info)\] (.*)$/.exec(line);
    if (head) {
      current = { section: head[1]!, algorithm: head[2]! };
      findings.push({ ...current, level: head[3] as Finding['level'], text: head[4]! });
      continue;
    }
    const more = /^\s+`- \[(fail|warn|info)\] (.*)$/.exec(line);
    if (more && current) {
      findings.push({ ...current, level: more[1] as Finding['level'], text: more[2]! });
      continue;
    }
    if (/^\(\w+\) /.test(line)) current = undefined;
  }
  const names = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : (x as { algorithm: string }).algorithm)) : []);
  return {
    findings,
    raw: text,
    offered: { kex: names(json.kex), key: names(json.key), enc: names(json.enc), mac: names(json.mac), compression: names(json.compression) },
  };
}

const bad = (a: Audit): string[] => a.findings.filter((f) => f.level !== 'info').map((f) => `(${f.section}) ${f.algorithm}: [${f.level}] ${f.text}`);
const TERRAPIN_MARKER = '(kex) kex-strict-s-v00@openssh.com: [warn] unknown algorithm';

let server: NetconfServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function serve(hostKeys?: string[]): Promise<number> {
  dir = mkdtempSync(join(tmpdir(), 'hsv-ssh-audit-'));
  server = createNetconfServer({ auth: { users: [{ username: 'admin', password: 'audit-pw' }] }, dataDir: dir, ...(hostKeys ? { hostKeys } : {}) });
  return (await server.listen('127.0.0.1', 0)).port;
}

describe('ssh-audit against our NETCONF server', () => {
  it('finds no weak algorithm with the defaults (Ed25519 host key)', async () => {
    const a = await sshAudit(await serve());
    expect(a.offered.kex[0]).toBe('curve25519-sha256');
    expect(a.offered.kex.filter((k) => /nistp|sha1/.test(k))).toEqual([]);
    expect(a.offered.mac).toEqual(['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com']);
    expect(a.offered.compression).toEqual(['none', 'zlib@openssh.com']);
    expect(a.offered.key).toEqual(['ssh-ed25519']);
    expect(bad(a), a.raw).toEqual([TERRAPIN_MARKER]);
  });

  it('an ECDSA host key: the only findings are about that host key type (NIST curve)', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'sec1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const a = await sshAudit(await serve([privateKey]));
    expect(a.offered.key).toEqual(['ecdsa-sha2-nistp256']);
    const hostKeyFindings = bad(a).filter((l) => l !== TERRAPIN_MARKER);
    expect(hostKeyFindings.length).toBeGreaterThan(0);
    expect(hostKeyFindings.every((l) => l.startsWith('(key) ecdsa-sha2-nistp256')), a.raw).toBe(true);
  });

  it('an RSA host key: ssh2 adds ssh-rsa (SHA-1 signatures) back; kex, MAC and compression stay clean', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const a = await sshAudit(await serve([privateKey]));
    expect(a.offered.key).toEqual(expect.arrayContaining(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']));
    const others = bad(a).filter((l) => l !== TERRAPIN_MARKER);
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((l) => l.startsWith('(key) ssh-rsa')), a.raw).toBe(true);
  });
});
