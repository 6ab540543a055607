/** `henb-sw-verify rotate-key`: replace the OAM's result-signing key, keeping old public keys in the JWKS. */
import { join, resolve } from 'node:path';
import { access } from 'node:fs/promises';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, requireStr, str } from '../args.js';
import { CliUsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { importComponent } from '../lazy.js';
import { openCommandStore } from '../store-select.js';
import { userInfo } from 'node:os';

interface KeysModule {
  readJwks(dir: string): Promise<{ keys: Array<{ kid: string }> }>;
  rotateSigningKey(dir: string, name: string, options?: { alg?: 'ES256' | 'EdDSA'; maxRetired?: number }): Promise<{ kid: string; alg: string }>;
  publishJwks(dir: string): Promise<{ keys: unknown[] }>;
}

/** where the built-in plugin keeps its signing key, under a serve data dir */
export function oamKeysDir(dataDir: string): string {
  return join(dataDir, 'plugins', 'henb-sw-verify', 'keys');
}

export const rotateKeyCommand: Command = {
  name: 'rotate-key',
  summary: 'rotate the OAM result-signing key (old public keys stay in the JWKS)',
  usage: '--data-dir DIR [--config FILE] [--alg ES256|EdDSA] [--json]',
  description:
    'Creates a new signing key for the OAM\'s result tokens in DIR/plugins/henb-sw-verify/keys (DIR is the serve data dir) ' +
    'and republishes jwks.json with the new key first and up to 10 retired public keys, so tokens signed before the ' +
    'rotation keep verifying. Restart serve afterwards: the plugin loads its key at activation. Distribute the new ' +
    'jwks.json (or read /signing-keys/jwks over NETCONF) to everyone who verifies tokens. ' +
    'The rotation is recorded in the audit log of the store serve uses (SQLite in DIR, or the store section of --config FILE).',
  options: {
    'data-dir': { type: 'string', value: 'DIR', help: 'the serve data directory' },
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the serve configuration (its store section selects PostgreSQL)' },
    alg: { type: 'string', value: 'ALG', help: 'ES256 (default: the current key\'s) or EdDSA' },
    json: { type: 'boolean', help: 'print {kid, alg, jwks} as JSON' },
  },
  examples: ['henb-sw-verify rotate-key --data-dir /var/lib/henb-sw-verify'],
  run: async (args: ParsedArgs, ctx: CliContext) => {
    const dataDir = resolve(ctx.cwd, requireStr(args, 'rotate-key', 'data-dir'));
    const alg = str(args, 'alg');
    if (alg !== undefined && alg !== 'ES256' && alg !== 'EdDSA') throw new CliUsageError(`rotate-key: --alg expects ES256 or EdDSA, got '${alg}'`);
    const dir = oamKeysDir(dataDir);
    try {
      await access(join(dir, 'oam.key.pem'));
    } catch {
      throw new CliUsageError(`rotate-key: no OAM signing key in ${dir} (is ${dataDir} a serve data dir that has run once?)`);
    }
    const keys = await importComponent<KeysModule>('../tokens/index.js', 'signing keys (src/tokens)', 'rotateSigningKey');
    // the store first: a rotation that cannot be recorded in the audit log is not made
    const store = await openCommandStore('rotate-key', dataDir, str(args, 'config'), ctx);
    let key: { kid: string; alg: string };
    let jwks: { keys: unknown[] };
    try {
      const before = (await keys.readJwks(dir).catch(() => ({ keys: [] }))).keys[0]?.kid ?? null;
      key = await keys.rotateSigningKey(dir, 'oam', alg ? { alg } : {});
      jwks = await keys.publishJwks(dir);
      await store.appendAudit({
        actor: `cli:rotate-key:${osUser()}`, action: 'key-rotation', object: 'oam-signing-key',
        details: { from: before, to: key.kid, alg: key.alg },
      });
    } finally {
      await store.close();
    }
    const file = join(dir, 'jwks.json');
    if (bool(args, 'json')) ctx.stdout.write(JSON.stringify({ kid: key.kid, alg: key.alg, jwks: file, keys: jwks.keys.length }) + '\n');
    else ctx.stdout.write(`henb-sw-verify: new signing key ${key.kid} (${key.alg}); ${file} holds ${jwks.keys.length} key(s); restart serve to sign with it\n`);
    return EXIT.OK;
  },
};

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
