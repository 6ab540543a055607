/**
 * Who may log in to `serve`: user admin with the password in HENB_SW_VERIFY_ADMIN_PASSWORD (when set),
 * the users of the config file (password from {env}/{file}, public keys inline or from a file), and the
 * keys in `<data-dir>/authorized_keys` (OpenSSH format; `user="NAME"` chooses the user, admin otherwise).
 * Each user's NACM groups come from the config file's `groups`; user admin is in group admin.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import ssh2 from '../netconf/ssh/ssh2.js';
import type { UserConfig } from '../config/load.js';
import { parseAuthorizedKeys } from '../config/load.js';
import { ConfigError } from '../config/errors.js';

export const ADMIN_USER = 'admin';
export const ADMIN_PASSWORD_ENV = 'HENB_SW_VERIFY_ADMIN_PASSWORD';
/** the NACM group of the built-in administrator: the rule-list created on first start permits it everything */
export const ADMIN_GROUP = 'admin';
/** the NACM group of device and relay identities: completion-tim only, for their own H(e)NB (docs/security.md) */
export const DEVICE_GROUP = 'devices';

export interface UserEntry {
  name: string;
  /** never logged */
  password?: string;
  /** OpenSSH public key lines, `type base64` */
  publicKeys: string[];
  /** NACM groups (RFC 8341 external groups); the built-in administrator is always in group admin */
  groups: string[];
}

/** merge the sources above; later sources add keys, a config password wins over the env default */
export async function collectUsers(configUsers: UserConfig[], env: NodeJS.ProcessEnv, dataDir: string): Promise<UserEntry[]> {
  const users = new Map<string, UserEntry>();
  const get = (name: string): UserEntry => {
    let u = users.get(name);
    if (!u) users.set(name, (u = { name, publicKeys: [], groups: name === ADMIN_USER ? [ADMIN_GROUP] : [] }));
    return u;
  };
  const adminPassword = env[ADMIN_PASSWORD_ENV];
  if (adminPassword) get(ADMIN_USER).password = adminPassword;
  for (const c of configUsers) {
    const u = get(c.name);
    if (c.password !== undefined) u.password = c.password;
    u.publicKeys.push(...c.authorizedKeys);
    for (const g of c.groups ?? []) if (!u.groups.includes(g)) u.groups.push(g);
  }
  const file = join(dataDir, 'authorized_keys');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('ERR_CONFIG_READ', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  if (text !== undefined) for (const k of parseAuthorizedKeys(text, file)) get(k.user ?? ADMIN_USER).publicKeys.push(k.key);
  for (const u of users.values()) {
    for (const key of u.publicKeys) {
      const parsed = ssh2.utils.parseKey(key);
      if (parsed instanceof Error) {
        throw new ConfigError('ERR_CONFIG_INVALID', `public key of user ${u.name} is not a valid OpenSSH public key (${parsed.message}): ${key.slice(0, 40)}...`);
      }
    }
  }
  return [...users.values()];
}

/** OpenSSH-style fingerprint `SHA256:<unpadded base64>` of a public or private key (PEM/OpenSSH). */
export function fingerprintOf(key: string | Buffer): string {
  const parsed = ssh2.utils.parseKey(key);
  const k = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!k || k instanceof Error) throw new Error(`cannot parse key: ${k instanceof Error ? k.message : 'empty'}`);
  return 'SHA256:' + createHash('sha256').update(k.getPublicSSH()).digest('base64').replace(/=+$/, '');
}
