/** `henb-sw-verify verify-token TOKEN --jwks FILE`: verify a result token and print its claims. */
import { resolve } from 'node:path';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, int, requireStr, str, strs } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { colors } from '../color.js';
import { importComponent } from '../lazy.js';

interface TokensModule {
  verifyTokenCli(token: string, jwksFile: string, options?: Record<string, unknown>): Promise<{ claims: Record<string, unknown>; header: Record<string, unknown> }>;
}

export const verifyTokenCommand: Command = {
  name: 'verify-token',
  summary: 'verify a result token (JWS, EAR claims) against a JWKS and print its claims',
  usage: 'TOKEN --jwks FILE [--issuer ISS] [--audience AUD] [--max-age SECONDS] [--nonce NONCE] [--require-affirming] [--json]',
  description:
    'Verifies the signature of a software-update result or PVE token (algorithm allow-list ES256/EdDSA, kid from the JWKS, ' +
    'expiry) and prints the EAR claims. Issuer, audience, maximum age and nonce are checked only when given. ' +
    'TOKEN may be - to read it from stdin. The OAM publishes its JWKS as <serve data-dir>/plugins/henb-sw-verify/keys/jwks.json ' +
    'and as the operational state /signing-keys/jwks. Exit 0 when the token verifies, whatever its ear_status: a verified ' +
    'contraindicated token exits 0 unless --require-affirming is given (then only affirming exits 0). Exit 1 when it does not verify ' +
    '(signature, expiry, issuer, audience, age, nonce), 2 when the JWKS file is missing or not a JWKS (or the command line is wrong).',
  positionals: [{ name: 'TOKEN', help: 'the compact JWS (or - for stdin)', required: true }],
  options: {
    jwks: { type: 'string', value: 'FILE', help: 'JSON Web Key Set file with the verification keys' },
    issuer: { type: 'string', multiple: true, value: 'ISS', help: 'expected iss' },
    audience: { type: 'string', multiple: true, value: 'AUD', help: 'expected aud' },
    'max-age': { type: 'string', value: 'SECONDS', help: 'maximum age (now - iat)' },
    nonce: { type: 'string', value: 'NONCE', help: 'expected eat_nonce' },
    'require-affirming': { type: 'boolean', help: 'exit 1 unless ear_status is affirming' },
    json: { type: 'boolean', help: 'print {ok, header, claims} as JSON' },
  },
  examples: ['henb-sw-verify verify-token eyJhbGciOi... --jwks data/plugins/henb-sw-verify/keys/jwks.json --json'],
  exitCodes: [EXIT.OK, EXIT.FAILED, EXIT.USAGE, EXIT.UNAVAILABLE],
  run: runVerifyToken,
};

async function runVerifyToken(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const jwks = resolve(ctx.cwd, requireStr(args, 'verify-token', 'jwks'));
  let token = args.positionals[0] as string;
  if (token === '-') token = (await readStdin()).trim();
  const options: Record<string, unknown> = {};
  const iss = strs(args, 'issuer');
  const aud = strs(args, 'audience');
  if (iss.length) options.issuer = iss;
  if (aud.length) options.audience = aud;
  if (str(args, 'max-age') !== undefined) options.maxAgeSec = int(args, 'verify-token', 'max-age', 0);
  if (str(args, 'nonce') !== undefined) options.expectedNonce = str(args, 'nonce');
  const tokens = await importComponent<TokensModule>('../tokens/index.js', 'token verification (src/tokens)', 'verifyTokenCli');
  const result = await tokens.verifyTokenCli(token, jwks, options);
  const status = result.claims.ear_status;
  const ok = !bool(args, 'require-affirming') || status === 'affirming';
  if (bool(args, 'json')) {
    ctx.stdout.write(JSON.stringify({ ok, verified: true, header: result.header, claims: result.claims }) + '\n');
  } else {
    const c = colors(ctx.tty);
    const st = String(status);
    const shown = st === 'affirming' ? c.green(st) : st === 'warning' ? c.yellow(st) : c.red(st);
    ctx.stdout.write(`token verified (kid ${String(result.header.kid ?? '-')}, ${String(result.header.alg)}): ear_status ${shown}, sub ${String(result.claims.sub)}, iss ${String(result.claims.iss)}\n`);
    ctx.stdout.write(JSON.stringify(result.claims, null, 2) + '\n');
  }
  return ok ? EXIT.OK : EXIT.FAILED;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

