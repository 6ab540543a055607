/**
 * Simulated femtocells behind a PVE in unit tests: the PVE's devices-file entry of a cell, and a collector that
 * measures the cell in-process (no NETCONF session) with the PVE's nonce.
 */
import type { Femtocell } from '../../src/simulator/model.js';
import type { EvidenceCollector, PveDeviceEntry } from '../../src/pve/types.js';

export function cellEntry(cell: Femtocell): PveDeviceEntry {
  return { henbId: cell.henbId, host: '127.0.0.1', port: 1, username: 'u', password: 'p', devicePublicKey: cell.publicKeyPem() };
}

/** collects from the cell of the device's henb-id in `cells` */
export function cellCollector(cells: ReadonlyMap<string, Femtocell>): EvidenceCollector {
  return {
    async collect(device, nonce) {
      const cell = cells.get(device.henbId)!;
      const ev = cell.measure(nonce);
      return { tim: ev.tim, log: ev.log, signature: ev.signature, signatureAlgorithm: 'ES256', keyId: cell.keyId() };
    },
  };
}
