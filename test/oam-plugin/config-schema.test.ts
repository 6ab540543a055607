/**
 * One source for the OAM plugin's configuration: plugin.json's configSchema. Its `as const` copy
 * (src/oam-plugin/config-schema.ts, written by scripts/gen-config-schema.mjs) must equal it, and OamPluginConfig is
 * derived from that copy (json-schema-to-ts): the type checks below fail to compile when the derivation drifts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CONFIG_SCHEMA } from '../../src/oam-plugin/config-schema.js';
import type { OamPluginConfig } from '../../src/oam-plugin/index.js';

const manifest = JSON.parse(readFileSync(new URL('../../plugin.json', import.meta.url), 'utf8')) as { configSchema: unknown };

describe('the plugin config type comes from plugin.json', () => {
  it('the generated schema module equals plugin.json configSchema (else run node scripts/gen-config-schema.mjs)', () => {
    expect(CONFIG_SCHEMA).toEqual(manifest.configSchema);
  });

  it('OamPluginConfig is the schema\'s shape, with secrets resolved to their text', () => {
    const cfg: OamPluginConfig = {
      henbs: [{ 'henb-id': 'a', address: 'h', password: 'resolved secret text' }],
      pve: { endpoint: 'ssh://pve', transport: 'netconf', 'private-key': 'PEM', jwks: 'j.json' },
      store: { driver: 'postgres', url: 'postgres://u@h/d', 'pool-size': 3 },
      policies: { 'on-mismatch': ['alarm', 'quarantine'] },
    };
    expect(cfg.henbs?.[0]?.address).toBe('h');
    expectTypeOf<NonNullable<OamPluginConfig['store']>['driver']>().toEqualTypeOf<'sqlite' | 'postgres' | undefined>();
    expectTypeOf<NonNullable<OamPluginConfig['pve']>['endpoint']>().toEqualTypeOf<string>();
    expectTypeOf<NonNullable<OamPluginConfig['pve']>['password']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<NonNullable<NonNullable<OamPluginConfig['policies']>['on-mismatch']>[number]>().toEqualTypeOf<'alarm' | 'quarantine' | 'rollback'>();
    expectTypeOf<NonNullable<OamPluginConfig['henbs']>[number]['port']>().toEqualTypeOf<number | undefined>();
    // @ts-expect-error a key the schema does not have
    const unknownKey: OamPluginConfig = { henbs: [], polices: {} };
    // @ts-expect-error a secret reference is resolved by the host before the plugin reads its config
    const unresolved: OamPluginConfig = { henbs: [{ 'henb-id': 'a', address: 'h', password: { env: 'X' } }] };
    // @ts-expect-error the enum of store.driver
    const driver: OamPluginConfig = { store: { driver: 'mysql' } };
    expect([unknownKey, unresolved, driver]).toHaveLength(3);
  });
});
