/**
 * The call-home listeners' parts on their own (no device, no SSH): who a host key or a certificate names, what
 * enrolment refuses, the waiting callers' limits, the attempt that settles once, the admission bound.
 */
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Bounded } from '../../src/device/bounded.js';
import { CallAdmission, CallWaiters, countRefused } from '../../src/device/call-home-accept.js';
import { SshEnrolment, fpKey, sshAuthMethods } from '../../src/device/call-home.js';
import { TlsEnrolment, identifyCaller } from '../../src/device/call-home-tls.js';
import { DeviceConnectError } from '../../src/device/connect.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { createTestPki } from '../helpers/tls-pki.js';
import type { TestPki } from '../helpers/tls-pki.js';

const KEY_A = 'SHA256:' + Buffer.alloc(32, 1).toString('base64').replace(/=+$/, '');
const KEY_B = 'SHA256:' + Buffer.alloc(32, 2).toString('base64').replace(/=+$/, '');
const configError = (m: string): Error => Object.assign(new Error(m), { code: 'ERR_CALL_HOME_CONFIG' });

describe('SshEnrolment: one device per pinned host key', () => {
  it('finds a device by the hex SHA-256 of its key, in any fingerprint form', () => {
    const e = new SshEnrolment();
    expect(e.set({ henbId: 'a', hostKeySha256: KEY_A, username: 'u' })).toEqual({ key: '01'.repeat(32) });
    expect(fpKey('01'.repeat(32))).toBe('01'.repeat(32));
    expect(e.device('01'.repeat(32))?.henbId).toBe('a');
    expect(e.key('a')).toBe('01'.repeat(32));
  });

  it('refuses a missing key, a key that is no fingerprint, a key another device pins (nothing changed)', () => {
    const e = new SshEnrolment();
    e.set({ henbId: 'a', hostKeySha256: KEY_A, username: 'u' });
    expect(() => e.set({ henbId: 'b', username: 'u' })).toThrow(expect.objectContaining({ code: 'ERR_CALL_HOME_CONFIG', message: expect.stringContaining('no pinned host key') }) as Error);
    expect(() => e.set({ henbId: 'b', hostKeySha256: 'SHA256:short', username: 'u' })).toThrow(/not a SHA-256 fingerprint/);
    expect(() => e.set({ henbId: 'b', hostKeySha256: KEY_A, username: 'u' })).toThrow(/b and a pin the same host key/);
    expect(e.device(fpKey(KEY_A)!)?.henbId).toBe('a');
    expect(e.key('b')).toBeUndefined();
  });

  it('a new key for a device says which key it replaced; the old key names nobody', () => {
    const e = new SshEnrolment();
    e.set({ henbId: 'a', hostKeySha256: KEY_A, username: 'u' });
    expect(e.set({ henbId: 'a', hostKeySha256: KEY_A, username: 'v' })).toEqual({ key: fpKey(KEY_A) });
    expect(e.device(fpKey(KEY_A)!)?.username).toBe('v');
    expect(e.set({ henbId: 'a', hostKeySha256: KEY_B, username: 'u' })).toEqual({ key: fpKey(KEY_B), replaced: fpKey(KEY_A) });
    expect(e.device(fpKey(KEY_A)!)).toBeUndefined();
    expect(e.remove('a')).toBe(fpKey(KEY_B));
    expect(e.remove('a')).toBeUndefined();
  });

  it('login methods: the key first, then the password', () => {
    expect(sshAuthMethods({ henbId: 'a', username: 'u', password: 'p', privateKey: 'K' })).toEqual([
      { type: 'publickey', username: 'u', key: 'K' }, { type: 'password', username: 'u', password: 'p' },
    ]);
    expect(sshAuthMethods({ henbId: 'a', username: 'u' })).toEqual([]);
  });
});

describe('TLS call home: enrolment and identifying a certificate chain', () => {
  let pki: TestPki;
  let other: { cert: string };
  let named: { cert: string; sha256: string };
  const x509 = (pem: string): X509Certificate => new X509Certificate(pem);

  beforeAll(() => {
    pki = createTestPki();
    named = pki.issue('dev-1', { cn: 'dev-1', san: 'DNS:dev-1' });
    other = pki.issue('stranger', { cn: 'stranger', san: 'DNS:stranger', ca: pki.otherCa });
  }, 60_000);
  afterAll(() => pki.cleanup());

  it('refuses a bad pin, a CA without certificates, nothing to identify by, a pin another device has', () => {
    const e = new TlsEnrolment(undefined, configError);
    expect(() => e.set({ henbId: 'a', certSha256: 'nope' })).toThrow(/not a SHA-256 fingerprint/);
    expect(() => e.set({ henbId: 'a', ca: 'no pem here' })).toThrow(/holds no PEM certificate/);
    expect(() => e.set({ henbId: 'a' })).toThrow(/neither a pinned certificate nor a CA/);
    expect(e.set({ henbId: 'a', certSha256: 'ab'.repeat(32) })).toBe(false);
    expect(() => e.set({ henbId: 'b', certSha256: 'AB:'.repeat(31) + 'AB' })).toThrow(/b and a pin the same certificate/);
    expect(() => new TlsEnrolment('junk', configError)).toThrow(/ca holds no PEM certificate/);
  });

  it('re-enrolling with another identity says so (the unclaimed session must go); the CA bundle holds every CA once', () => {
    const e = new TlsEnrolment(pki.ca.cert, configError);
    expect(e.set({ henbId: 'a' })).toBe(false);
    expect(e.set({ henbId: 'a' })).toBe(false);
    expect(e.set({ henbId: 'a', serverName: 'x' })).toBe(true);
    e.set({ henbId: 'b', ca: pki.otherCa.cert });
    e.set({ henbId: 'c', ca: pki.ca.cert });
    expect(e.caBundle()).toBe(`${pki.ca.cert}\n${pki.otherCa.cert}`);
    expect(e.remove('a')).toBe(true);
    expect(e.remove('a')).toBe(false);
  });

  it('by pin (in its dates), by CA + name, or refused with the reason', () => {
    const e = new TlsEnrolment(undefined, configError);
    const ok = { authorized: true };
    const chain = [x509(named.cert)];
    expect(identifyCaller([], ok, e.all())).toEqual({ reason: 'no certificate' });
    e.set({ henbId: 'by-name', ca: pki.ca.cert, serverName: 'dev-1' });
    expect(identifyCaller(chain, ok, e.all())).toEqual({ henbId: 'by-name' });
    expect(identifyCaller([x509(other.cert)], { authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, e.all()))
      .toEqual({ reason: expect.stringMatching(/^no device pins it, and .*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/) as string });
    // a pin wins over the name, even without OpenSSL's approval (no CA for that entry)
    e.set({ henbId: 'pinned', certSha256: named.sha256 });
    expect(identifyCaller(chain, { authorized: false, authorizationError: 'X' }, e.all())).toEqual({ henbId: 'pinned' });
    // pinned with a CA: the chain must verify to it
    e.set({ henbId: 'pinned', certSha256: named.sha256, ca: pki.otherCa.cert });
    expect(identifyCaller(chain, ok, e.all())).toEqual({ reason: 'pinned for pinned, but not issued by its CA' });
  });

  it('a name that fits two unpinned devices is ambiguous; a name that fits none is refused', () => {
    const e = new TlsEnrolment(pki.ca.cert, configError);
    e.set({ henbId: 'one', serverName: 'dev-1' });
    e.set({ henbId: 'two', serverName: 'dev-1' });
    expect(identifyCaller([x509(named.cert)], { authorized: true }, e.all())).toEqual({ reason: expect.stringContaining('fits several devices (one, two)') as string });
    const f = new TlsEnrolment(pki.ca.cert, configError);
    f.set({ henbId: 'dev-2' });
    expect(identifyCaller([x509(named.cert)], { authorized: true }, f.all())).toEqual({ reason: expect.stringContaining('to no enrolled device\'s name') as string });
  });
});

describe('CallWaiters: callers waiting for a device to call', () => {
  afterEach(() => vi.useRealTimers());

  it('all waiters of a key get the connection; the first only, when asked', async () => {
    const w = new CallWaiters<string, number>();
    const p1 = w.wait('k', { where: 'dev', timeoutMs: 1000 });
    const p2 = w.wait('k', { where: 'dev', timeoutMs: 1000 });
    w.resolveAll('k', 7);
    await expect(Promise.all([p1, p2])).resolves.toEqual([7, 7]);
    const q1 = w.wait('k', { where: 'dev', timeoutMs: 1000 });
    const q2 = w.wait('k', { where: 'dev', timeoutMs: 50 });
    expect(w.resolveFirst('k', 1)).toBe(true);
    await expect(q1).resolves.toBe(1);
    await expect(q2).rejects.toMatchObject({ code: 'ERR_DEVICE_TIMEOUT' });
    expect(w.resolveFirst('k', 2)).toBe(false);
  });

  it('bounded by the time limit and the signal; rejectAll ends every wait', async () => {
    vi.useFakeTimers();
    const w = new CallWaiters<string, number>();
    const t = w.wait('k', { where: 'dev-1', timeoutMs: 100 });
    const custom = w.wait('k', { where: 'dev-1', timeoutMs: 100, timedOut: 'custom' });
    vi.advanceTimersByTime(100);
    await expect(t).rejects.toMatchObject({ code: 'ERR_DEVICE_TIMEOUT', message: 'dev-1 did not call home within 100 ms' });
    await expect(custom).rejects.toThrow('custom');
    const ac = new AbortController();
    const a = w.wait('k', { where: 'dev-1', timeoutMs: 100, signal: ac.signal });
    ac.abort();
    await expect(a).rejects.toMatchObject({ code: 'ERR_DEVICE_ABORTED', message: 'waiting for dev-1 to call home aborted' });
    const r = w.wait('j', { where: 'dev-2', timeoutMs: 100 });
    w.rejectAll(new DeviceConnectError('ERR_DEVICE_UNREACHABLE', 'closed'));
    await expect(r).rejects.toMatchObject({ code: 'ERR_DEVICE_UNREACHABLE' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('Bounded: one attempt settled once', () => {
  afterEach(() => vi.useRealTimers());
  const limits = (signal?: AbortSignal) => ({ timeoutMs: 100, signal, timedOut: () => new Error('late'), aborted: () => new Error('aborted') });

  it('the first outcome wins; clean-ups run once, onFail only on failure', async () => {
    vi.useFakeTimers();
    const ran: string[] = [];
    const ok = new Bounded<number>(limits());
    ok.onSettle(() => ran.push('settle'));
    ok.onFail(() => ran.push('fail'));
    expect(ok.succeed(1)).toBe(true);
    expect(ok.succeed(2)).toBe(false);
    ok.fail(new Error('x'));
    await expect(ok.promise).resolves.toBe(1);
    expect(ran).toEqual(['settle']);
    expect(vi.getTimerCount()).toBe(0);
    const late = new Bounded<number>(limits());
    late.onFail(() => ran.push('fail'));
    vi.advanceTimersByTime(100);
    await expect(late.promise).rejects.toThrow('late');
    expect(late.settled).toBe(true);
    expect(ran).toEqual(['settle', 'fail']);
  });

  it('the signal fails it and its listener goes', async () => {
    const ac = new AbortController();
    const b = new Bounded<number>(limits(ac.signal));
    ac.abort();
    await expect(b.promise).rejects.toThrow('aborted');
    const ac2 = new AbortController();
    const spy = vi.spyOn(ac2.signal, 'removeEventListener');
    new Bounded<number>(limits(ac2.signal)).succeed(1);
    expect(spy).toHaveBeenCalledWith('abort', expect.any(Function));
  });
});

describe('CallAdmission: at most maxPending connections not yet identified', () => {
  class FakeSocket extends EventEmitter {
    remoteAddress = '192.0.2.1';
    remotePort = 1234;
    destroyed = false;
    setNoDelay(): this {
      return this;
    }
    destroy(): this {
      this.destroyed = true;
      this.emit('close');
      return this;
    }
  }
  const fakeSocket = (): Socket & { destroyed: boolean } => new FakeSocket() as unknown as Socket & { destroyed: boolean };

  it('refuses beyond the bound and after close, logging why; identified or closed sockets free their place', () => {
    const lines: Array<Record<string, unknown>> = [];
    let closed = false;
    const log = createLogger({ level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const adm = new CallAdmission({ maxPending: 1, log, isClosed: () => closed, transport: 'tls', identified: 'identified' });
    const first = adm.admit(fakeSocket())!;
    expect(first.counted).toBe(true);
    const refused = fakeSocket();
    expect(adm.admit(refused)).toBeUndefined();
    expect(refused.destroyed).toBe(true);
    expect(lines.at(-1)).toMatchObject({ msg: 'call-home connection refused', transport: 'tls', reason: 'too many connections not yet identified', remoteAddress: '192.0.2.1' });
    first.uncount();
    expect(first.counted).toBe(false);
    const second = fakeSocket();
    expect(adm.admit(second)).toBeDefined();
    second.destroy();
    expect(adm.admit(fakeSocket())).toBeDefined();
    closed = true;
    expect(new CallAdmission({ maxPending: 5, log: silentLogger, isClosed: () => true, identified: 'x' }).admit(fakeSocket())).toBeUndefined();
    expect(adm.admit(fakeSocket())).toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ reason: 'closing' });
  });

  it('counts refusals by fingerprint', () => {
    const m = new Map<string, number>();
    countRefused(m, 'f');
    countRefused(m, 'f');
    expect(m.get('f')).toBe(2);
  });
});
