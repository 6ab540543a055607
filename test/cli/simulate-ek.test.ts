/**
 * simulate --tpm-ek-ca DIR (issue 10): the flag is wired (help, usage errors that name it) without a TPM. With swtpm:
 * test/interop/tpm-activate.test.ts ("simulate --tpm-ek-ca"), where its JSON inventory is read by pve --devices as it is.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import { ekCaDir } from '../../src/simulator/cli.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new BufferWritable();
  const stderr = new BufferWritable();
  const code = await runCli(argv, { stdout, stderr, env: {}, signal: new AbortController().signal });
  return { code, out: stdout.text(), err: stderr.text() };
}

describe('simulate --tpm-ek-ca', () => {
  it('is listed in simulate --help', async () => {
    const r = await run(['simulate', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--tpm-ek-ca DIR/);
    expect(r.out).toContain('swtpm-localca-rootca-cert.pem');
  });

  it('without a TPM device it is a usage error naming the flag (exit 2, nothing started)', async () => {
    const r = await run(['simulate', '--fleet', 'healthy=1', '--tpm-ek-ca', 'vendor-ca']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('henb-sw-verify: error ERR_CLI_USAGE: simulate: --tpm-ek-ca makes EK certificates for TPM devices: add --trust-root tpm or PROFILE@tpm in --fleet\n');
  });

  it('ekCaDir: absent is none; an empty value is refused; the directory is made absolute against the working directory', () => {
    expect(ekCaDir(undefined, true, '/w')).toBeUndefined();
    expect(() => ekCaDir('  ', true, '/w')).toThrow('--tpm-ek-ca needs a directory');
    expect(() => ekCaDir('ca', false, '/w')).toThrow('add --trust-root tpm or PROFILE@tpm');
  });
});
