/**
 * `henb-sw-verify audit verify|show|head`: the tamper-evident audit log (src/store/audit.ts) read offline.
 * verify recomputes the hash chain and checks every signed head with the OAM's public keys; show lists records;
 * head prints the newest signed head (to keep outside the database, where removing records and heads together
 * cannot reach it).
 */
import { join, resolve } from 'node:path';
import { access } from 'node:fs/promises';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, int, requireStr, str, strs } from '../args.js';
import { CliUsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { importComponent } from '../lazy.js';
import { oamPluginDir, openCommandStore } from '../store-select.js';
import type { AuditHeadRecord, AuditRecord, AuditVerdict, HeadChecker, Store } from '../../store/index.js';
import type { Jwks } from '../../tokens/index.js';

interface StoreModule {
  verifyAuditChain(records: readonly AuditRecord[], heads: readonly AuditHeadRecord[], check: HeadChecker): Promise<AuditVerdict>;
}
interface TokensModule {
  loadJwksFile(file: string): Promise<Jwks>;
  auditHeadChecker(jwks: Jwks): HeadChecker;
}

const ACTIONS = ['verify', 'show', 'head'] as const;
const PAGE = 10_000;

export const auditCommand: Command = {
  name: 'audit',
  summary: 'verify or show the tamper-evident audit log (hash chain, heads signed with the OAM key)',
  usage: 'verify|show|head --data-dir DIR [--config FILE] [--jwks FILE]... [--after SEQ] [--limit N] [--json]',
  description:
    'The audit log records job transitions, RIM and reference-value changes, quarantines, NACM denials, config edits, ' +
    'failed logins and key rotations in a hash chain whose head serve signs with the OAM key (docs/security.md). ' +
    '`verify` recomputes the chain and checks every signed head with the OAM public keys (DIR/plugins/henb-sw-verify/keys/jwks.json ' +
    'unless --jwks is given; give one per instance when several share a PostgreSQL store). Exit 0 when intact, 1 when tampered ' +
    '(the first bad record is named: modified, deleted, reordered, truncated after a signed head, a head that does not verify, ' +
    'or records without any signed head), 2 on usage errors. `show` lists records (--after SEQ, --limit N); `head` prints the ' +
    'newest signed head. The store is the one serve uses: SQLite in DIR, or the store section of --config FILE (PostgreSQL).',
  positionals: [{ name: 'ACTION', help: 'verify, show or head', required: true }],
  options: {
    'data-dir': { type: 'string', value: 'DIR', help: 'the serve data directory' },
    config: { type: 'string', short: 'c', value: 'FILE', help: 'the serve configuration (its store section selects PostgreSQL)' },
    jwks: { type: 'string', multiple: true, value: 'FILE', help: 'JWKS file(s) with the OAM public keys (verify)' },
    after: { type: 'string', value: 'SEQ', help: 'show records after this seq (show; default 0)' },
    limit: { type: 'string', value: 'N', help: 'show at most N records (show; default 100)' },
    json: { type: 'boolean', help: 'machine-readable output' },
  },
  examples: [
    'henb-sw-verify audit verify --data-dir /var/lib/henb-sw-verify',
    'henb-sw-verify audit verify --data-dir ./data --config config.yaml --jwks a/jwks.json --jwks b/jwks.json --json',
    'henb-sw-verify audit show --data-dir ./data --after 100 --limit 20',
  ],
  run: runAudit,
};

async function runAudit(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const action = args.positionals[0] as string;
  if (!(ACTIONS as readonly string[]).includes(action)) throw new CliUsageError(`audit: ACTION must be verify, show or head, got '${action}'`);
  const dataDir = resolve(ctx.cwd, requireStr(args, 'audit', 'data-dir'));
  const json = bool(args, 'json');
  let jwksFiles: string[] = [];
  if (action === 'verify') {
    jwksFiles = strs(args, 'jwks').map((f) => resolve(ctx.cwd, f));
    if (jwksFiles.length === 0) jwksFiles = [join(oamPluginDir(dataDir), 'keys', 'jwks.json')];
    for (const f of jwksFiles) {
      try {
        await access(f);
      } catch {
        throw new CliUsageError(`audit: no JWKS file ${f} (give the OAM's public keys with --jwks FILE)`);
      }
    }
  }
  const after = int(args, 'audit', 'after', 0, { min: 0 });
  const limit = int(args, 'audit', 'limit', 100, { min: 1, max: 100_000 });
  const store = await openCommandStore('audit', dataDir, str(args, 'config'), ctx);
  try {
    if (action === 'show') return await show(store, after, limit, json, ctx);
    if (action === 'head') return await head(store, json, ctx);
    return await verify(store, jwksFiles, json, ctx);
  } finally {
    await store.close();
  }
}

async function verify(store: Store, jwksFiles: string[], json: boolean, ctx: CliContext): Promise<number> {
  const tokens = await importComponent<TokensModule>('../tokens/index.js', 'token verification (src/tokens)', 'auditHeadChecker');
  const storeMod = await importComponent<StoreModule>('../store/index.js', 'the store (src/store)', 'verifyAuditChain');
  const keys = (await Promise.all(jwksFiles.map((f) => tokens.loadJwksFile(f)))).flatMap((j) => j.keys);
  const records: AuditRecord[] = [];
  for (let page = await store.listAudit({ limit: PAGE }); page.length > 0; page = await store.listAudit({ afterSeq: page.at(-1)!.seq, limit: PAGE })) {
    records.push(...page);
  }
  const heads: AuditHeadRecord[] = [];
  for (let page = await store.listAuditHeads({ limit: PAGE }); page.length > 0; page = await store.listAuditHeads({ afterId: page.at(-1)!.id, limit: PAGE })) {
    heads.push(...page);
  }
  const v = await storeMod.verifyAuditChain(records, heads, tokens.auditHeadChecker({ keys }));
  if (json) ctx.stdout.write(JSON.stringify(v) + '\n');
  else if (v.ok) {
    ctx.stdout.write(v.records === 0
      ? 'audit log intact: no records yet\n'
      : `audit log intact: ${v.records} record(s), signed through record ${v.signedSeq} (kid ${v.signedKid}), ` +
        `${v.unsignedTail} record(s) after the newest signed head; ${v.heads} signed head(s) checked\n`);
  } else {
    ctx.stdout.write(`audit log TAMPERED: record ${v.problem!.seq} ${v.problem!.kind}: ${v.problem!.message}\n`);
  }
  return v.ok ? EXIT.OK : EXIT.FAILED;
}

async function show(store: Store, after: number, limit: number, json: boolean, ctx: CliContext): Promise<number> {
  const records = await store.listAudit({ afterSeq: after, limit });
  if (json) {
    ctx.stdout.write(JSON.stringify(records.map((r) => ({ ...r, details: JSON.parse(r.details) as unknown }))) + '\n');
    return EXIT.OK;
  }
  for (const r of records) {
    ctx.stdout.write(`${r.seq}\t${new Date(r.at).toISOString()}\t${r.actor}\t${r.action}\t${r.object}\t${r.details}\n`);
  }
  if (records.length === 0) ctx.stdout.write(`no audit records after ${after}\n`);
  return EXIT.OK;
}

async function head(store: Store, json: boolean, ctx: CliContext): Promise<number> {
  let last: AuditHeadRecord | undefined;
  for (let page = await store.listAuditHeads({ limit: PAGE }); page.length > 0; page = await store.listAuditHeads({ afterId: page.at(-1)!.id, limit: PAGE })) {
    last = page.at(-1);
  }
  if (last === undefined) {
    if (json) ctx.stdout.write(JSON.stringify({ ok: false, head: null }) + '\n');
    else ctx.stdout.write('no signed head yet\n');
    return EXIT.FAILED;
  }
  if (json) ctx.stdout.write(JSON.stringify({ ok: true, head: last }) + '\n');
  else ctx.stdout.write(`${last.jws}\n`);
  return EXIT.OK;
}
