/** The PVE devices file's pure parts: how a device is reached, reference values, the netconf section. */
import { describe, expect, it } from 'vitest';
import { fieldReader, netconfOf, reachOf, referenceValuesOf } from '../../src/cli/pve-service.js';
import { factoryReferenceValues } from '../../src/simulator/index.js';

const reach = (d: Record<string, unknown>) => reachOf('f.yaml', 'devices[0]', d, fieldReader('f.yaml', 'devices[0]', d));

describe('reachOf', () => {
  it('dialled: host (or address) and port 1..65535; call home: neither needed; simulate --json callHomeTransport tls is tls', () => {
    expect(reach({ host: 'h', port: 830 })).toEqual({ host: 'h', port: 830, callHome: false, transport: undefined });
    expect(reach({ address: 'a', port: 1, transport: 'ssh' })).toEqual({ host: 'a', port: 1, callHome: false, transport: 'ssh' });
    expect(reach({ 'call-home': true })).toEqual({ host: '', port: 0, callHome: true, transport: undefined });
    expect(reach({ callHome: true, callHomeTransport: 'tls' })).toMatchObject({ callHome: true, transport: 'tls' });
  });

  it('refusals name the file and the field', () => {
    expect(() => reach({ port: 830 })).toThrow('f.yaml: devices[0].host: is required');
    expect(() => reach({ host: 'h' })).toThrow('f.yaml: devices[0].port: expected a port number 1..65535');
    expect(() => reach({ host: 'h', port: 0 })).toThrow(/port number/);
    expect(() => reach({ host: 'h', port: 1, 'call-home': 'yes' })).toThrow('f.yaml: devices[0].call-home: expected true or false');
    expect(() => reach({ host: 'h', port: 1, transport: 'udp' })).toThrow('f.yaml: devices[0].transport: expected ssh or tls');
    expect(() => reach({ host: '', port: 1 })).toThrow('f.yaml: devices[0].host: expected a non-empty string');
  });
});

describe('referenceValuesOf', () => {
  it('the factory values by default; a mapping of 64-hex digests; anything else named', () => {
    expect(referenceValuesOf('f', {})).toEqual(factoryReferenceValues());
    expect(referenceValuesOf('f', { referenceValues: { rootfs: ['a'.repeat(64)] } })).toEqual({ rootfs: ['a'.repeat(64)] });
    expect(() => referenceValuesOf('f', { 'reference-values': ['x'] })).toThrow('f: reference-values: expected a mapping');
    expect(() => referenceValuesOf('f', { 'reference-values': { rootfs: ['A'.repeat(64)] } })).toThrow('f: reference-values.rootfs: expected a list of SHA-256 digests');
  });
});

describe('netconfOf', () => {
  it('listen and users, a password from the environment; refusals name the field', () => {
    expect(netconfOf('f', { listen: '127.0.0.1:1', users: [{ username: 'u', 'password-env': 'PW' }] }, { PW: 'p' })).toEqual({ listen: '127.0.0.1:1', users: [{ username: 'u', password: 'p' }] });
    expect(() => netconfOf('f', { listen: 1, users: [] }, {})).toThrow('f: netconf.listen: expected HOST:PORT');
    expect(() => netconfOf('f', { listen: 'h:1', users: [] }, {})).toThrow('f: netconf.users: expected a list');
    expect(() => netconfOf('f', { listen: 'h:1', users: [{ username: 'u', 'password-env': 'UNSET' }] }, {})).toThrow('f: netconf.users[0].password: expected a password or password-env naming a set variable');
  });
});
