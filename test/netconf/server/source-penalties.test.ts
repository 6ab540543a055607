import { describe, expect, it } from 'vitest';
import { SourcePenalties, sourceKey } from '../../../src/netconf/server/source-penalties.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

describe('per-source penalties (OpenSSH PerSourcePenalties)', () => {
  it('refuses a source once its penalty reaches minMs, until the penalty has run out', () => {
    const c = clock();
    const p = new SourcePenalties({ now: c.now });
    p.penalise('192.0.2.7', 'auth-fail');
    p.penalise('192.0.2.7', 'auth-fail');
    expect(p.refusedForMs('192.0.2.7')).toBe(0); // 10 s < 15 s
    p.penalise('192.0.2.7', 'auth-fail');
    expect(p.refusedForMs('192.0.2.7')).toBe(15_000);
    expect(p.refusedForMs('192.0.2.8')).toBe(0);
    c.advance(14_999);
    expect(p.refusedForMs('192.0.2.7')).toBe(1);
    c.advance(1);
    expect(p.refusedForMs('192.0.2.7')).toBe(0);
  });

  it('grace-exceeded weighs 10 s; the total is capped at maxMs', () => {
    const c = clock();
    const p = new SourcePenalties({ now: c.now, maxMs: 30_000 });
    p.penalise('192.0.2.1', 'grace-exceeded');
    expect(p.refusedForMs('192.0.2.1')).toBe(0);
    p.penalise('192.0.2.1', 'grace-exceeded');
    expect(p.refusedForMs('192.0.2.1')).toBe(20_000);
    for (let i = 0; i < 10; i++) p.penalise('192.0.2.1', 'grace-exceeded');
    expect(p.refusedForMs('192.0.2.1')).toBe(30_000);
  });

  it('the delay before answering a failed attempt doubles per recent failure, up to the maximum, and is forgotten', () => {
    const c = clock();
    const p = new SourcePenalties({ now: c.now });
    expect(Array.from({ length: 8 }, () => p.failedAttempt('198.51.100.3'))).toEqual([100, 200, 400, 800, 1600, 3000, 3000, 3000]);
    expect(p.failedAttempt('198.51.100.4')).toBe(100);
    c.advance(600_000);
    expect(p.failedAttempt('198.51.100.3')).toBe(100);
  });

  it('exempt addresses and prefixes are never penalised nor delayed', () => {
    const p = new SourcePenalties({ exempt: ['10.0.0.0/8', '2001:db8::1'] });
    for (let i = 0; i < 10; i++) p.penalise('10.1.2.3', 'grace-exceeded');
    expect(p.refusedForMs('10.1.2.3')).toBe(0);
    expect(p.failedAttempt('::ffff:10.9.9.9')).toBe(0);
    expect(p.failedAttempt('2001:db8::1')).toBe(0);
    expect(p.failedAttempt('2001:db8::2')).toBe(100);
    expect(() => new SourcePenalties({ exempt: ['not-an-address'] })).toThrow(RangeError);
    expect(() => new SourcePenalties({ exempt: ['10.0.0.0/33'] })).toThrow(RangeError);
  });

  it('keys IPv4-mapped addresses as IPv4 and IPv6 by its /64', () => {
    expect(sourceKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    const c = clock();
    const p = new SourcePenalties({ now: c.now });
    for (let i = 0; i < 3; i++) p.penalise('2001:db8:1:2::10', 'auth-fail');
    expect(p.refusedForMs('2001:db8:1:2::99')).toBe(15_000);
    expect(p.refusedForMs('2001:db8:1:3::10')).toBe(0);
  });

  it('remembers at most maxSources sources, forgetting the oldest', () => {
    const p = new SourcePenalties({ maxSources: 3 });
    for (let i = 1; i <= 5; i++) p.failedAttempt(`192.0.2.${i}`);
    expect(p.size).toBe(3);
    expect(p.failedAttempt('192.0.2.1')).toBe(100); // forgotten: a first failure again
    expect(p.failedAttempt('192.0.2.5')).toBe(200);
  });
});
