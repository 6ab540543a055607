/**
 * SSH host keys (RFC 6242 section 2 runs NETCONF over SSH; RFC 4251 section 4.1 host keys).
 * `loadOrCreateHostKey(dataDir)` keeps one ed25519 key in the data directory (mode 0600) so that the
 * server's identity survives restarts; `hostKeyFingerprint` gives the OpenSSH-style SHA256 fingerprint
 * clients pin.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from '../ssh/ssh2.js';
import type { ParsedKey } from 'ssh2';
import { HsvError } from '../../errors.js';

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';

export class HostKeyError extends HsvError<'ERR_SSH_HOST_KEY'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SSH_HOST_KEY', message, options);
  }
}

/** Parse a private or public key (PEM, OpenSSH, or an authorized_keys line). */
export function parseSshKey(key: string | Buffer): ParsedKey {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new HostKeyError('unreadable SSH key', { cause: parsed });
  const one = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  if (!one) throw new HostKeyError('no SSH key found');
  return one;
}

/** `SHA256:<base64 without padding>` of the public key blob (as `ssh-keygen -lf` prints it). */
export function hostKeyFingerprint(key: string | Buffer | ParsedKey): string {
  const k = typeof key === 'string' || Buffer.isBuffer(key) ? parseSshKey(key) : key;
  return fingerprintOfBlob(k.getPublicSSH());
}

export function fingerprintOfBlob(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/**
 * An ed25519 key pair in OpenSSH format that ssh2 can read back. ssh2's generateKeyPairSync (1.17.0,
 * lib/keygen.js) strips every leading zero byte of the SPKI BIT STRING, meant to drop only its unused-bits
 * byte, so a public key whose first byte is 0 loses it: 1 key in 256 expected (19 in 4000 counted, about 1 in
 * 210). Such a key is written 31 bytes long (or shorter) and ssh2 cannot read it back ("Malformed OpenSSH
 * private key"); the pair is discarded and generated again (64 tries: all failing has a chance of 256^-64).
 */
export function generateEd25519KeyPair(comment = ''): { private: string; public: string } {
  for (let i = 0; i < 64; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const priv = ssh2.utils.parseKey(pair.private);
    const pub = ssh2.utils.parseKey(pair.public);
    if (priv instanceof Error || pub instanceof Error) continue;
    const a = (Array.isArray(priv) ? (priv as ParsedKey[])[0] : priv)?.getPublicSSH();
    const b = (Array.isArray(pub) ? (pub as ParsedKey[])[0] : pub)?.getPublicSSH();
    // blob = string "ssh-ed25519" (4 + 11) + string key (4 + 32)
    if (a && b && a.length === 51 && a.equals(b)) return { private: pair.private, public: pair.public };
  }
  throw new HostKeyError('could not generate a readable ed25519 key');
}

/**
 * Read `<dataDir>/ssh_host_ed25519_key`, or create it (ed25519, OpenSSH format, mode 0600, written to a
 * temporary file then renamed so a crash never leaves half a key). Returns the private key text.
 */
export function loadOrCreateHostKey(dataDir: string): string {
  const file = join(dataDir, HOST_KEY_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostKeyError(`cannot read ${file}`, { cause: e });
  }
  if (text !== undefined) {
    const k = parseSshKey(text);
    if (!k.isPrivateKey()) throw new HostKeyError(`${file} is not a private key`);
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return text;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const pair = generateEd25519KeyPair('henb-sw-verify host key');
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, pair.private, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
  writeFileSync(`${file}.pub`, pair.public + '\n', { mode: 0o644 });
  return pair.private;
}
