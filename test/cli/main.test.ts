import { describe, expect, it } from 'vitest';
import { runCli, COMMANDS } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new BufferWritable();
  const stderr = new BufferWritable();
  const code = await runCli(argv, { stdout, stderr, env, signal: new AbortController().signal });
  return { code, out: stdout.text(), err: stderr.text() };
}

describe('henb-sw-verify command line', () => {
  it('--help lists every command and the exit codes', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['serve', 'demo', 'pve', 'simulate', 'rollout', 'verify-token']) expect(r.out).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.out).toContain('Exit codes:');
    expect(r.out).toContain('4  rollout halted');
  });

  it.each(COMMANDS.map((c) => c.name))('%s --help shows usage, options and exit codes', async (name) => {
    const r = await run([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: henb-sw-verify ${name}`));
    expect(r.out).toContain('Options:');
    expect(r.out).toContain('Exit codes:');
  });

  it('no command is a usage error (2) with the help', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('Commands:');
  });

  it('usage errors: one line with the code on stderr, exit 2; --json puts it on stdout too', async () => {
    const r = await run(['serve', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("henb-sw-verify: error ERR_CLI_USAGE: serve: Unknown option '--bogus' (see `henb-sw-verify serve --help`)\n");
    const j = await run(['rollout', '--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.out)).toEqual({ ok: false, error: { code: 'ERR_CLI_USAGE', message: expect.stringContaining('--server is required') } });
    expect((await run(['frobnicate'])).err).toContain("unknown command 'frobnicate'");
    expect((await run(['serve', '--listen', 'nope', '--data-dir', '/tmp/x'])).err).toContain('--listen expects HOST:PORT');
    expect((await run(['demo', '--fleet', 'martian=1'])).code).toBe(2);
    expect((await run(['rollout', '--server', '127.0.0.1:1', '--software', 'file:///x'])).err).toContain('no credentials');
  });

  it('--version', async () => {
    expect((await run(['--version'])).out).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  // issue 14 item 7
  it('<command> --version prints the version (rollout keeps --version for the software label)', async () => {
    for (const name of ['serve', 'demo', 'pve', 'verify-token']) {
      const r = await run([name, '--version']);
      expect(r.code, name).toBe(0);
      expect(r.out, name).toMatch(/^\d+\.\d+\.\d+\n$/);
    }
    expect((await run(['rollout', '--version'])).code).toBe(2);
  });

  it('"did you mean" for a mistyped option or command', async () => {
    const o = await run(['serve', '--confg', 'x.yaml']);
    expect(o.code).toBe(2);
    expect(o.err).toContain("Unknown option '--confg'; did you mean --config?");
    const c = await run(['listne']);
    expect(c.code).toBe(2);
    expect(c.err).toContain("unknown command 'listne'");
    expect((await run(['sreve'])).err).toContain("did you mean 'serve'?");
    expect((await run(['serve', '--listne', '127.0.0.1:0'])).err).toContain('did you mean --listen?');
    expect((await run(['rollout', '--max-failure', '1'])).err).toContain('did you mean --max-failures?');
    // nothing close: no guess
    expect((await run(['serve', '--zzzzzzzz'])).err).not.toContain('did you mean');
    expect((await run(['frobnicate'])).err).not.toContain('did you mean');
  });

  it('per-command help lists the exit codes of that command only (4 only under rollout)', async () => {
    for (const c of COMMANDS) {
      const r = await run([c.name, '--help']);
      if (c.name === 'rollout') expect(r.out).toContain('4  rollout halted');
      else expect(r.out, c.name).not.toContain('rollout halted');
    }
    expect((await run(['verify-token', '--help'])).out).not.toContain('130');
  });

  it('the rollout usage line names every rollout option', async () => {
    const rollout = COMMANDS.find((c) => c.name === 'rollout');
    for (const [name, spec] of Object.entries(rollout?.options ?? {})) {
      const shown = rollout?.usage.includes(`--${name}`) || (spec.short !== undefined && rollout?.usage.includes(`-${spec.short} `));
      expect(shown, `--${name}`).toBe(true);
    }
  });
});

describe('verify-token exit codes (issue 14 item 7)', () => {
  it('a missing JWKS file is a usage error (2), not a negative outcome (1)', async () => {
    const r = await run(['verify-token', 'eyJhbGciOiJFUzI1NiJ9.e30.sig', '--jwks', '/nonexistent/jwks.json']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ERR_TOKEN_JWKS');
  });
});

describe('exit codes for errors', () => {
  it('maps codes (and a plugin config refusal inside activate) to the documented exit codes', async () => {
    const { exitCodeFor } = await import('../../src/cli/exit-codes.js');
    const { HsvError } = await import('../../src/errors.js');
    expect(exitCodeFor(new HsvError('ERR_CONFIG_INVALID', 'x'))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_PLUGIN_MANIFEST', 'x'))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_TOKEN_SIGNATURE', 'x'))).toBe(1);
    expect(exitCodeFor(new HsvError('ERR_TOKEN_JWKS', 'x'))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_NETCONF_CLIENT_CONNECT', 'x'))).toBe(3);
    expect(exitCodeFor(new HsvError('ERR_PLUGIN_ACTIVATE', 'x', { cause: new HsvError('ERR_OAM_CONFIG', 'y') }))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_PLUGIN_ACTIVATE', 'x', { cause: new Error('boom') }))).toBe(3);
    expect(exitCodeFor(new Error('no code'))).toBe(3);
  });
});
