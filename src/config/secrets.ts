/**
 * Secret references in configuration: `{env: NAME}` or `{file: PATH}` (PATH relative to the config
 * file). A secret's value is only ever returned to the code that needs it; errors name the reference,
 * never the value.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { formatPath } from './schema-issues.js';

export type SecretRef = { env: string } | { file: string };

export function isSecretRef(v: unknown): v is SecretRef {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1) return false;
  const val = (v as Record<string, unknown>)[keys[0] as string];
  return (keys[0] === 'env' || keys[0] === 'file') && typeof val === 'string';
}

/** Read one secret. Trailing newlines of files are dropped. */
export async function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv, baseDir: string, where: string): Promise<string> {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') {
      throw new ConfigError('ERR_CONFIG_SECRET', `${where}: the environment variable ${ref.env} is not set (or empty)`);
    }
    return v;
  }
  const path = resolve(baseDir, ref.file);
  try {
    const text = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    if (text === '') throw Object.assign(new Error('empty'), { code: 'EMPTY' });
    return text;
  } catch (err) {
    throw new ConfigError('ERR_CONFIG_SECRET', `${where}: cannot read the secret file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** Replace every secret reference in a (validated) document by its value; returns a copy. */
export async function resolveSecrets(doc: unknown, env: NodeJS.ProcessEnv, baseDir: string, source: string, path: Array<string | number> = []): Promise<unknown> {
  if (isSecretRef(doc)) return readSecret(doc, env, baseDir, `${source}: ${formatPath(path)}`);
  if (Array.isArray(doc)) {
    const out: unknown[] = [];
    for (const [i, v] of doc.entries()) out.push(await resolveSecrets(v, env, baseDir, source, [...path, i]));
    return out;
  }
  if (doc !== null && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) out[k] = await resolveSecrets(v, env, baseDir, source, [...path, k]);
    return out;
  }
  return doc;
}
