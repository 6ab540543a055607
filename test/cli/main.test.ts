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
});

describe('exit codes for errors', () => {
  it('maps codes (and a plugin config refusal inside activate) to the documented exit codes', async () => {
    const { exitCodeFor } = await import('../../src/cli/exit-codes.js');
    const { HsvError } = await import('../../src/errors.js');
    expect(exitCodeFor(new HsvError('ERR_CONFIG_INVALID', 'x'))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_PLUGIN_MANIFEST', 'x'))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_TOKEN_SIGNATURE', 'x'))).toBe(1);
    expect(exitCodeFor(new HsvError('ERR_NETCONF_CLIENT_CONNECT', 'x'))).toBe(3);
    expect(exitCodeFor(new HsvError('ERR_PLUGIN_ACTIVATE', 'x', { cause: new HsvError('ERR_OAM_CONFIG', 'y') }))).toBe(2);
    expect(exitCodeFor(new HsvError('ERR_PLUGIN_ACTIVATE', 'x', { cause: new Error('boom') }))).toBe(3);
    expect(exitCodeFor(new Error('no code'))).toBe(3);
  });
});
