/**
 * Per-source penalties for the SSH server, after OpenSSH's PerSourcePenalties (sshd_config(5), 9.8+):
 * a source address (IPv4, or the /64 of an IPv6 address) accumulates penalty time for connections that
 * failed to authenticate (`authFailMs`) or let the login grace time run out (`graceExceededMs`); once the
 * accumulated time reaches `minMs` the source is refused at accept until the time has run out, at most
 * `maxMs` ahead. Each failed attempt from a source is also answered after a delay that doubles with the
 * source's recent failures (`failureDelayMs` up to `maxFailureDelayMs`), so guessing slows down even
 * before the source is refused. Sources in `exempt` (addresses or CIDR prefixes) are never penalised.
 * The table holds at most `maxSources` sources (oldest forgotten first); one table per server.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';

export interface SourcePenaltyOptions {
  /** added for a connection that closed after failed authentication attempts and no success; default 5 s */
  authFailMs?: number;
  /** added for a connection closed because the login grace time ran out; default 10 s */
  graceExceededMs?: number;
  /** a source is refused once its accumulated penalty reaches this; default 15 s */
  minMs?: number;
  /** most penalty time a source can accumulate (and how long failures are remembered); default 600 s */
  maxMs?: number;
  /** delay before answering the first failed attempt from a source; doubles per recent failure; default 100 ms */
  failureDelayMs?: number;
  /** longest delay before answering a failed attempt; default 3 s */
  maxFailureDelayMs?: number;
  /** addresses or CIDR prefixes (`10.0.0.0/8`, `2001:db8::/32`) never penalised; default none */
  exempt?: string[];
  /** sources remembered at most (oldest forgotten first); default 65536 */
  maxSources?: number;
  /** clock (tests) */
  now?: () => number;
}

export const SOURCE_PENALTY_DEFAULTS = {
  authFailMs: 5_000,
  graceExceededMs: 10_000,
  minMs: 15_000,
  maxMs: 600_000,
  failureDelayMs: 100,
  maxFailureDelayMs: 3_000,
  maxSources: 65_536,
} as const;

interface SourceRecord {
  /** penalty runs until then (ms since epoch); 0 = none */
  until: number;
  /** the penalty reached minMs: connections are refused until `until` */
  active: boolean;
  /** failed attempts remembered (for the delay) */
  failures: number;
  lastFailure: number;
}

export type PenaltyKind = 'auth-fail' | 'grace-exceeded';

export class SourcePenalties {
  private readonly o: Required<Omit<SourcePenaltyOptions, 'exempt' | 'now'>>;
  private readonly now: () => number;
  private readonly exempt = new BlockList();
  private readonly records = new Map<string, SourceRecord>();

  constructor(options: SourcePenaltyOptions = {}) {
    this.o = {
      authFailMs: options.authFailMs ?? SOURCE_PENALTY_DEFAULTS.authFailMs,
      graceExceededMs: options.graceExceededMs ?? SOURCE_PENALTY_DEFAULTS.graceExceededMs,
      minMs: options.minMs ?? SOURCE_PENALTY_DEFAULTS.minMs,
      maxMs: options.maxMs ?? SOURCE_PENALTY_DEFAULTS.maxMs,
      failureDelayMs: options.failureDelayMs ?? SOURCE_PENALTY_DEFAULTS.failureDelayMs,
      maxFailureDelayMs: options.maxFailureDelayMs ?? SOURCE_PENALTY_DEFAULTS.maxFailureDelayMs,
      maxSources: options.maxSources ?? SOURCE_PENALTY_DEFAULTS.maxSources,
    };
    this.now = options.now ?? Date.now;
    for (const e of options.exempt ?? []) addExempt(this.exempt, e);
  }

  /** how long connections from this address are still refused (0 = accepted) */
  refusedForMs(address: string): number {
    const key = sourceKey(address);
    const r = this.records.get(key);
    if (!r) return 0;
    const now = this.now();
    if (this.expired(r, now)) {
      this.records.delete(key);
      return 0;
    }
    return r.active && r.until > now ? r.until - now : 0;
  }

  /** a connection from this address ended badly: add penalty time */
  penalise(address: string, kind: PenaltyKind): void {
    if (this.isExempt(address)) return;
    const now = this.now();
    const r = this.record(address, now);
    const amount = kind === 'auth-fail' ? this.o.authFailMs : this.o.graceExceededMs;
    if (amount <= 0) return;
    r.until = Math.min(Math.max(r.until, now) + amount, now + this.o.maxMs);
    if (r.until - now >= this.o.minMs) r.active = true;
  }

  /** a failed attempt from this address: remember it, return how long to wait before answering */
  failedAttempt(address: string): number {
    if (this.isExempt(address) || this.o.failureDelayMs <= 0) return 0;
    const now = this.now();
    const r = this.record(address, now);
    r.failures++;
    r.lastFailure = now;
    const doublings = Math.min(r.failures - 1, 30);
    return Math.min(this.o.failureDelayMs * 2 ** doublings, this.o.maxFailureDelayMs);
  }

  /** sources currently remembered (tests, monitoring) */
  get size(): number {
    return this.records.size;
  }

  private isExempt(address: string): boolean {
    const a = plainAddress(address);
    const family = isIP(a);
    return family !== 0 && this.exempt.check(a, family === 4 ? 'ipv4' : 'ipv6');
  }

  private expired(r: SourceRecord, now: number): boolean {
    return r.until <= now && now - r.lastFailure >= this.o.maxMs;
  }

  private record(address: string, now: number): SourceRecord {
    const key = sourceKey(address);
    let r = this.records.get(key);
    if (r && this.expired(r, now)) r = undefined;
    if (r && r.until <= now) {
      r.until = 0;
      r.active = false;
    }
    if (!r) r = { until: 0, active: false, failures: 0, lastFailure: now };
    // most recently used last: the oldest entry is the first one to forget
    this.records.delete(key);
    this.records.set(key, r);
    while (this.records.size > this.o.maxSources) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
    return r;
  }
}

/** an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as IPv4; anything else unchanged */
function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** the penalty key: an IPv4 address, or the /64 prefix of an IPv6 address (as OpenSSH's ipv6 /64 default) */
export function sourceKey(address: string): string {
  const a = plainAddress(address);
  if (isIPv4(a) || isIP(a) !== 6) return a;
  const groups = expandIPv6(a.replace(/%.*$/, ''));
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIPv6(a: string): string[] {
  let s = a;
  // an embedded IPv4 tail (::1.2.3.4) is two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head = '', rest] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const r = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? [] : (Array(Math.max(0, 8 - h.length - r.length)).fill('0') as string[]);
  return [...h, ...fill, ...r].map((g) => Number.parseInt(g, 16).toString(16));
}

function addExempt(list: BlockList, entry: string): void {
  const slash = entry.indexOf('/');
  const addr = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) throw new RangeError(`not an IP address or CIDR prefix: ${entry}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash === -1) {
    list.addAddress(addr, type);
    return;
  }
  const prefix = Number(entry.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new RangeError(`bad prefix length: ${entry}`);
  list.addSubnet(addr, prefix, type);
}
