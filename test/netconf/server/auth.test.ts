import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import type { AuthContext } from 'ssh2';
import { createAuthenticator, generateEd25519KeyPair } from '../../../src/netconf/server/index.js';
import { silentLogger } from '../../../src/log/logger.js';

const key = generateEd25519KeyPair();
const parsedPriv = ssh2.utils.parseKey(key.private) as ssh2.ParsedKey;
const parsedPub = ssh2.utils.parseKey(key.public) as ssh2.ParsedKey;
const auth = createAuthenticator({ users: [{ username: 'u', password: 'pw', authorizedKeys: [key.public] }] }, silentLogger);

function ctx(fields: Record<string, unknown>): { ctx: AuthContext; result: () => string } {
  let r = 'none';
  const c = { ...fields, accept: () => { r = 'accept'; }, reject: () => { r = 'reject'; } } as unknown as AuthContext;
  return { ctx: c, result: () => r };
}

describe('SSH authentication (RFC 4252)', () => {
  it('password: accepts the right one, rejects others and unknown users', () => {
    const ok = ctx({ method: 'password', username: 'u', password: 'pw' });
    expect(auth.handle(ok.ctx)).toBe('accepted');
    expect(ok.result()).toBe('accept');
    for (const [u, p] of [['u', 'pW'], ['u', ''], ['x', 'pw']]) {
      const bad = ctx({ method: 'password', username: u, password: p });
      expect(auth.handle(bad.ctx)).toBe('rejected');
      expect(bad.result()).toBe('reject');
    }
  });

  it('publickey without signature is a query: accepted only for an authorized key', () => {
    const q = ctx({ method: 'publickey', username: 'u', key: { algo: 'ssh-ed25519', data: parsedPub.getPublicSSH() } });
    expect(auth.handle(q.ctx)).toBe('query');
    expect(q.result()).toBe('accept');
    const other = ssh2.utils.parseKey(generateEd25519KeyPair().public) as ssh2.ParsedKey;
    const q2 = ctx({ method: 'publickey', username: 'u', key: { algo: 'ssh-ed25519', data: other.getPublicSSH() } });
    expect(auth.handle(q2.ctx)).toBe('rejected');
  });

  it('publickey with a signature: verified over the blob', () => {
    const blob = Buffer.from('session blob to sign');
    const good = ctx({ method: 'publickey', username: 'u', key: { algo: 'ssh-ed25519', data: parsedPub.getPublicSSH() }, blob, signature: parsedPriv.sign(blob) });
    expect(auth.handle(good.ctx)).toBe('accepted');
    const forged = ctx({ method: 'publickey', username: 'u', key: { algo: 'ssh-ed25519', data: parsedPub.getPublicSSH() }, blob, signature: parsedPriv.sign(Buffer.from('other')) });
    expect(auth.handle(forged.ctx)).toBe('rejected');
    expect(forged.result()).toBe('reject');
  });

  it('other methods are rejected', () => {
    const n = ctx({ method: 'none', username: 'u' });
    expect(auth.handle(n.ctx)).toBe('rejected');
    const k = ctx({ method: 'keyboard-interactive', username: 'u' });
    expect(auth.handle(k.ctx)).toBe('rejected');
  });
});
