/**
 * devicesFromConfig's onInventory (src/oam-plugin/ports.ts): the device driver follows the running inventory. The ids
 * of the last pass are the driver's own (deviceIds), no second set of them (issue 15, branch invmem2).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/logger.js';
import type { NetconfDeviceDriver } from '../../src/device/index.js';
import type { InventoryEntry } from '../../src/oam-plugin/inventory.js';
import { devicesFromConfig } from '../../src/oam-plugin/ports.js';

let devices: NetconfDeviceDriver | undefined;
afterEach(async () => {
  await devices?.close();
  devices = undefined;
});

const entry = (henbId: string, more: Partial<InventoryEntry> = {}): InventoryEntry => ({ henbId, address: '192.0.2.1', port: 830, callHome: false, ...more });

describe('onInventory', () => {
  it('sets the entries of each pass and removes the devices a pass no longer has, or can no longer use', async () => {
    const d = await devicesFromConfig({ henbs: [{ 'henb-id': 'a', address: '192.0.2.1', password: 'pw' }] }, silentLogger);
    devices = d.devices;
    d.onInventory([entry('a'), entry('b'), entry('c')]);
    expect(d.devices.deviceIds()).toEqual(['a', 'b', 'c']);
    // b removed from running; c still there but unusable (no address to dial): both leave the driver
    d.onInventory([entry('a'), { henbId: 'c', port: 830, callHome: false }]);
    expect(d.devices.deviceIds()).toEqual(['a']);
    expect(d.devices.remembered('b')).toBeUndefined();
    d.onInventory([entry('a', { port: 831 }), entry('d')]);
    expect(d.devices.deviceIds()).toEqual(['a', 'd']);
    d.onInventory([]);
    expect(d.devices.deviceIds()).toEqual([]);
  });
});
