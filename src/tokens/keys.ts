/**
 * Signing keys on disk, and the JWKS that publishes their public halves.
 *
 * Layout inside `dir` (created with mode 0700), one set per key name (e.g. 'oam', 'pve'):
 *   <name>.key.pem    the CURRENT private key, PKCS#8 PEM, mode 0600 (the source of truth for the current key)
 *   <name>.keys.json  public keys of that name: { version: 1, name, current: kid, keys: [{ kid, alg, jwk,
 *                     createdAt, retiredAt? }] } (current + retired, so old tokens still verify after rotation)
 *   jwks.json         written by publishJwks(dir): { keys: [...] } of every name in dir, current keys first
 * Writes go to a temporary file that is renamed into place, so a crash never leaves half a key. A single writer
 * per directory is assumed (one OAM or PVE process).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { generatePrivateKey as generateKey } from '../generate-key.js';
import { TokenError } from './errors.js';
import type { Jwks, KeyOptions, PublicJwk, SigningAlg, SigningKey } from './types.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEFAULT_MAX_RETIRED = 10;

interface KeyMetaEntry {
  kid: string;
  alg: SigningAlg;
  jwk: PublicJwk;
  createdAt: string;
  retiredAt?: string;
}
interface KeyMeta {
  version: 1;
  name: string;
  current: string;
  keys: KeyMetaEntry[];
}

/** A new in-memory key (not persisted): for tests and ephemeral use. */
export async function generateSigningKey(alg: SigningAlg = 'ES256', name = 'ephemeral'): Promise<SigningKey> {
  return toSigningKey(name, generatePrivateKey(alg));
}

/** Builds a SigningKey from a PKCS#8 PEM private key (P-256 or Ed25519). */
export async function signingKeyFromPem(pem: string, name: string): Promise<SigningKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_KEY_STORE', `private key ${name} is not a valid PEM key`, { cause });
  }
  return toSigningKey(name, key);
}

/**
 * Loads the current key `name` from dir, creating it (alg from options, default ES256) when absent.
 * Also makes sure <name>.keys.json lists it as current (repairing a crash between the two writes).
 */
export async function loadOrCreateSigningKey(dir: string, name: string, options: KeyOptions = {}): Promise<SigningKey> {
  checkName(name);
  await ensureDir(dir);
  const pemFile = join(dir, `${name}.key.pem`);
  let pem = await readIfExists(pemFile);
  if (pem === undefined) {
    const fresh = generatePrivateKey(options.alg ?? 'ES256');
    await createExclusive(pemFile, pemOf(fresh));
    pem = await readFile(pemFile, 'utf8'); // another process may have won the race: use what is on disk
  } else {
    await tightenMode(pemFile);
  }
  const key = await signingKeyFromPem(pem, name);
  await syncMeta(dir, key, options.maxRetired ?? DEFAULT_MAX_RETIRED);
  return key;
}

/**
 * Replaces the current key `name` by a new one (same alg unless options.alg) and keeps the old public key in the
 * JWKS (retired), so tokens signed before the rotation still verify. At most maxRetired old keys are kept.
 */
export async function rotateSigningKey(dir: string, name: string, options: KeyOptions = {}): Promise<SigningKey> {
  const old = await loadOrCreateSigningKey(dir, name, options);
  const fresh = generatePrivateKey(options.alg ?? old.alg);
  await writeAtomic(join(dir, `${name}.key.pem`), pemOf(fresh), 0o600);
  const key = await toSigningKey(name, fresh);
  await syncMeta(dir, key, options.maxRetired ?? DEFAULT_MAX_RETIRED);
  return key;
}

/** Every public key (current and retired) of every key name in dir; current keys first. */
export async function readJwks(dir: string): Promise<Jwks> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.keys.json')).sort();
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ENOENT') return { keys: [] };
    throw new TokenError('ERR_TOKEN_KEY_STORE', 'key directory is not readable', { cause });
  }
  const current: PublicJwk[] = [];
  const retired: PublicJwk[] = [];
  for (const f of files) {
    const meta = await readMeta(join(dir, f));
    if (meta === undefined) continue;
    for (const k of meta.keys) (k.kid === meta.current ? current : retired).push(k.jwk);
  }
  return { keys: [...current, ...retired] };
}

/** readJwks(dir), also written atomically to dir/jwks.json (mode 0644). */
export async function publishJwks(dir: string): Promise<Jwks> {
  const jwks = await readJwks(dir);
  await ensureDir(dir);
  await writeAtomic(join(dir, 'jwks.json'), JSON.stringify(jwks, null, 2) + '\n', 0o644);
  return jwks;
}

/** Reads and validates a JWKS file (public keys only; a private member refuses the file). */
export async function loadJwksFile(file: string): Promise<Jwks> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_JWKS', `JWKS file ${file} is not readable`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_JWKS', `JWKS file ${file} is not JSON`, { cause });
  }
  return parseJwks(json);
}

/**
 * Validates a JWKS object and returns its keys reduced to their public members, each key frozen (a key set that a
 * JwksFile freezes as well is then parsed once for all its verifications: verify.ts). Throws ERR_TOKEN_JWKS.
 */
export function parseJwks(json: unknown): Jwks {
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new TokenError('ERR_TOKEN_JWKS', 'a JWKS must be an object with a keys list');
  return { keys: keys.map((k, i) => Object.freeze(parsePublicJwk(k, i))) };
}

export function parsePublicJwk(k: unknown, i = 0): PublicJwk {
  const bad = (why: string): TokenError => new TokenError('ERR_TOKEN_JWKS', `JWKS key ${i}: ${why}`);
  if (typeof k !== 'object' || k === null) throw bad('not an object');
  const j = k as Record<string, unknown>;
  if ('d' in j || 'p' in j || 'k' in j) throw bad('contains private key material');
  if (typeof j.kid !== 'string' || j.kid === '') throw bad('has no kid');
  if (j.use !== undefined && j.use !== 'sig') throw bad("use must be 'sig'");
  if (typeof j.x !== 'string') throw bad('has no x');
  if (j.kty === 'EC' && j.crv === 'P-256' && typeof j.y === 'string') {
    if (j.alg !== undefined && j.alg !== 'ES256') throw bad('alg does not match the key type');
    return { kty: 'EC', crv: 'P-256', x: j.x, y: j.y, kid: j.kid, alg: 'ES256', use: 'sig' };
  }
  if (j.kty === 'OKP' && j.crv === 'Ed25519') {
    if (j.alg !== undefined && j.alg !== 'EdDSA' && j.alg !== 'Ed25519') throw bad('alg does not match the key type');
    return { kty: 'OKP', crv: 'Ed25519', x: j.x, kid: j.kid, alg: 'EdDSA', use: 'sig' };
  }
  throw bad('only EC P-256 (ES256) and OKP Ed25519 (EdDSA) keys are supported');
}

// ---------------------------------------------------------------------------------------------------------------

function generatePrivateKey(alg: SigningAlg): KeyObject {
  if (alg === 'ES256') return generateKey('P-256');
  if (alg === 'EdDSA') return generateKey('ed25519');
  throw new TokenError('ERR_TOKEN_KEY_STORE', `unsupported signing algorithm ${String(alg)}`);
}

function pemOf(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

async function toSigningKey(name: string, privateKey: KeyObject): Promise<SigningKey> {
  let alg: SigningAlg;
  if (privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') alg = 'ES256';
  else if (privateKey.asymmetricKeyType === 'ed25519') alg = 'EdDSA';
  else throw new TokenError('ERR_TOKEN_KEY_STORE', `key ${name} is neither EC P-256 nor Ed25519`);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
  const base = alg === 'ES256'
    ? { kty: 'EC' as const, crv: 'P-256' as const, x: jwk.x as string, y: jwk.y as string }
    : { kty: 'OKP' as const, crv: 'Ed25519' as const, x: jwk.x as string };
  const kid = await calculateJwkThumbprint(base, 'sha256');
  return { name, alg, kid, privateKey, publicJwk: { ...base, kid, alg, use: 'sig' } };
}

async function syncMeta(dir: string, key: SigningKey, maxRetired: number): Promise<void> {
  const file = join(dir, `${key.name}.keys.json`);
  const now = new Date().toISOString();
  const meta: KeyMeta = (await readMeta(file)) ?? { version: 1, name: key.name, current: key.kid, keys: [] };
  let changed = !(await exists(file));
  if (!meta.keys.some((k) => k.kid === key.kid)) {
    meta.keys.push({ kid: key.kid, alg: key.alg, jwk: key.publicJwk, createdAt: now });
    changed = true;
  }
  for (const k of meta.keys) {
    if (k.kid === key.kid && k.retiredAt !== undefined) { delete k.retiredAt; changed = true; }
    if (k.kid !== key.kid && k.retiredAt === undefined) { k.retiredAt = now; changed = true; }
  }
  if (meta.current !== key.kid) { meta.current = key.kid; changed = true; }
  const retired = meta.keys.filter((k) => k.kid !== key.kid);
  if (retired.length > maxRetired) {
    retired.sort((a, b) => String(a.retiredAt).localeCompare(String(b.retiredAt)));
    const drop = new Set(retired.slice(0, retired.length - maxRetired).map((k) => k.kid));
    meta.keys = meta.keys.filter((k) => !drop.has(k.kid));
    changed = true;
  }
  if (changed) await writeAtomic(file, JSON.stringify(meta, null, 2) + '\n', 0o644);
}

async function readMeta(file: string): Promise<KeyMeta | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as KeyMeta;
    if (m.version !== 1 || typeof m.current !== 'string' || !Array.isArray(m.keys)) throw new Error('bad shape');
    for (const [i, k] of m.keys.entries()) k.jwk = parsePublicJwk(k.jwk, i);
    return m;
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_KEY_STORE', `key metadata ${file} is corrupt`, { cause });
  }
}

function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new TokenError('ERR_TOKEN_KEY_STORE', 'key name must be 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . _ -)');
  }
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_KEY_STORE', 'key directory cannot be created', { cause });
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new TokenError('ERR_TOKEN_KEY_STORE', `${file} is not readable`, { cause });
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function tightenMode(file: string): Promise<void> {
  const st = await stat(file);
  if ((st.mode & 0o077) !== 0) await chmod(file, 0o600);
}

let tmpCounter = 0;
function tmpName(file: string): string {
  return `${file}.tmp-${process.pid}-${++tmpCounter}`;
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = tmpName(file);
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // umask may have removed bits
    await rename(tmp, file);
  } catch (cause) {
    await unlink(tmp).catch(() => undefined);
    throw new TokenError('ERR_TOKEN_KEY_STORE', `${file} cannot be written`, { cause });
  }
}

/** Creates file with data unless it exists (link() is atomic and fails with EEXIST). */
async function createExclusive(file: string, data: string): Promise<void> {
  const tmp = tmpName(file);
  try {
    await writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600);
    await link(tmp, file).catch((e: unknown) => {
      if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
    });
  } catch (cause) {
    throw new TokenError('ERR_TOKEN_KEY_STORE', `${file} cannot be created`, { cause });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
