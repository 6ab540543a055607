/** limitsOf: the file's limits (seconds) in the server's names and units (ms). */
import { describe, expect, it } from 'vitest';
import { limitsOf } from '../../src/config/load.js';

describe('limitsOf', () => {
  it('converts timeouts to ms and renames; only what is given', () => {
    expect(limitsOf({})).toEqual({});
    expect(limitsOf({ limits: { 'max-sessions': 5, 'hello-timeout': 2, 'idle-timeout': 60, 'max-message-size': 1024, 'plugin-activation': 30 } }))
      .toEqual({ maxSessions: 5, helloTimeoutMs: 2000, idleTimeoutMs: 60_000, maxMessageSize: 1024, pluginActivationMs: 30_000 });
    expect(limitsOf({ limits: { xml: { 'max-depth': 9, 'max-attributes': 3, 'max-namespace-declarations-per-element': 4, 'max-namespace-declarations': 5, 'max-prefixes-in-scope': 6 } } }))
      .toEqual({ xml: { maxDepth: 9, maxAttributes: 3, maxNsDeclarationsPerElement: 4, maxNsDeclarations: 5, maxPrefixesInScope: 6 } });
  });
});
