/**
 * SSH user authentication for the NETCONF server (RFC 4252; RFC 6242 section 6 leaves it to SSH).
 * - password: compared in constant time (SHA-256 of both sides, timingSafeEqual), unknown users take
 *   the same path as known ones;
 * - publickey (RFC 4252 section 7): a request without signature only asks whether the key would be
 *   accepted; a request with a signature is accepted only if the signature verifies over the session
 *   blob with that key.
 * Every branch ends in accept() or reject(); failures never say why to the client. Failed attempts are
 * logged at warn on the logger handed to handle() (the transport binds the remote address and port).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthContext, ParsedKey } from 'ssh2';
import type { Logger } from '../../log/logger.js';
import { parseSshKey } from './host-keys.js';

export interface UserEntry {
  username: string;
  /** plain password (hash-compared in constant time) */
  password?: string;
  /** authorized public keys: `ssh-ed25519 AAAA... comment` lines, or PEM/OpenSSH public keys */
  authorizedKeys?: Array<string | Buffer>;
}

export interface AuthOptions {
  users: UserEntry[];
  /** failed attempts before the connection is closed; default 6 */
  maxAttempts?: number;
}

interface CompiledUser {
  passwordHash: Buffer | undefined;
  keys: ParsedKey[];
}

const sha = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();
const DUMMY = sha('\u0000no such user\u0000');

export interface Authenticator {
  /** handle one ssh2 'authentication' event (log: this connection's logger); 'query' = a publickey query accepted */
  handle(ctx: AuthContext, log?: Logger): 'accepted' | 'rejected' | 'query';
  methods(): Array<'password' | 'publickey'>;
}

export function createAuthenticator(options: AuthOptions, baseLog: Logger): Authenticator {
  const users = new Map<string, CompiledUser>();
  for (const u of options.users) {
    users.set(u.username, {
      passwordHash: u.password !== undefined ? sha(u.password) : undefined,
      keys: (u.authorizedKeys ?? []).map((k) => parseSshKey(k)),
    });
  }
  const methods: Array<'password' | 'publickey'> = ['publickey', 'password'];
  return {
    methods: () => methods,
    handle(ctx, log = baseLog) {
      const user = users.get(ctx.username);
      if (ctx.method === 'password') {
        const given = sha(ctx.password);
        const expected = user?.passwordHash ?? DUMMY;
        const same = timingSafeEqual(given, expected);
        if (same && user?.passwordHash !== undefined) {
          ctx.accept();
          return 'accepted';
        }
        log.warn('authentication failed', { method: 'password', username: ctx.username });
        ctx.reject(methods);
        return 'rejected';
      }
      if (ctx.method === 'publickey') {
        const key = user?.keys.find((k) => k.type === ctx.key.algo && sameBytes(k.getPublicSSH(), ctx.key.data));
        if (!key) {
          log.warn('authentication failed', { method: 'publickey', username: ctx.username, reason: 'key not authorized', algo: ctx.key.algo });
          ctx.reject(methods);
          return 'rejected';
        }
        if (!ctx.signature || !ctx.blob) {
          ctx.accept(); // a query: "would this key be acceptable?" (RFC 4252 section 7)
          return 'query';
        }
        if (key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) {
          ctx.accept();
          return 'accepted';
        }
        log.warn('authentication failed', { method: 'publickey', username: ctx.username, reason: 'signature did not verify' });
        ctx.reject(methods);
        return 'rejected';
      }
      if (ctx.method !== 'none') log.warn('authentication failed', { method: ctx.method, username: ctx.username, reason: 'method not offered' });
      ctx.reject(methods);
      return 'rejected';
    },
  };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
