/** Exit codes by error code (src/cli/exit-codes.ts): each code class maps through its typed union, never by prefix. */
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor } from '../../src/cli/exit-codes.js';
import { HsvError, UsageError } from '../../src/errors.js';

const coded = (code: string, cause?: unknown): HsvError => new HsvError(code, code, cause !== undefined ? { cause } : undefined);

describe('exitCodeFor', () => {
  it('usage and configuration: 2', () => {
    for (const code of ['ERR_CLI_USAGE', 'ERR_CONFIG_READ', 'ERR_CONFIG_INVALID', 'ERR_CONFIG_SECRET', 'ERR_CONFIG_FILE', 'ERR_CONFIG_HOST_KEY',
      'ERR_CONFIG_PVE_DEVICES', 'ERR_ROLLOUT_SOFTWARE', 'ERR_PLUGIN_MANIFEST', 'ERR_PLUGIN_CONFIG', 'ERR_PLUGIN_LOAD', 'ERR_TOKEN_JWKS']) {
      expect([code, exitCodeFor(coded(code))]).toEqual([code, EXIT.USAGE]);
    }
    expect(exitCodeFor(new UsageError('x'))).toBe(EXIT.USAGE);
  });

  it('a plugin whose activate refused its configuration (its own or a port\'s): 2; anything else it failed on: 3', () => {
    for (const cause of ['ERR_OAM_CONFIG', 'ERR_DEVICE_CONFIG', 'ERR_CALL_HOME_CONFIG', 'ERR_PVE_CONFIG', 'ERR_TLS_CONFIG']) {
      expect([cause, exitCodeFor(coded('ERR_PLUGIN_ACTIVATE', coded(cause)))]).toEqual([cause, EXIT.USAGE]);
    }
    expect(exitCodeFor(coded('ERR_PLUGIN_ACTIVATE', coded('ERR_STORE_OPEN')))).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(coded('ERR_PLUGIN_ACTIVATE'))).toBe(EXIT.UNAVAILABLE);
  });

  it('a token that does not verify: 1', () => {
    for (const code of ['ERR_TOKEN_SIGNATURE', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_AUDIENCE', 'ERR_TOKEN_REPLAY']) expect(exitCodeFor(coded(code))).toBe(EXIT.FAILED);
  });

  it('runtime problems, unknown codes and uncoded errors: 3', () => {
    for (const code of ['ERR_SERVE_LISTEN', 'ERR_PLUGIN_CONFLICT', 'ERR_STORE_OPEN', 'ERR_CONFIGURED', 'ERR_TOKEN', 'ERR_PLUGIN_CONFIGX']) {
      expect([code, exitCodeFor(coded(code))]).toEqual([code, EXIT.UNAVAILABLE]);
    }
    expect(exitCodeFor(new Error('boom'))).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor('text')).toBe(EXIT.UNAVAILABLE);
  });
});
