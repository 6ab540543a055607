/**
 * The PVE's default evidence collector: a short NETCONF session to the H(e)NB (src/device/connect.ts: over
 * SSH, host key pinned when the inventory gives it, or over TLS with the entry's certificate settings), one integrity-measurement with the PVE's own nonce, closed again.
 * A call-home device (RFC 8071) is reached through the given connector (the PVE's own call-home listener).
 */
import { NETCONF_BASE_NS, child, elements } from '../netconf/xml/index.js';
import { connectDevice, integrityMeasurementXml, parseMeasurementReply } from '../device/index.js';
import type { DeviceConnector, DeviceTarget } from '../device/index.js';
import type { Logger } from '../log/logger.js';
import type { DeviceEvidence } from './appraise.js';
import type { EvidenceCollector, PveDeviceEntry } from './types.js';

export interface NetconfCollectorOptions {
  timeoutMs: number;
  log: Logger;
  connector?: DeviceConnector;
}

export function netconfEvidenceCollector(options: NetconfCollectorOptions): EvidenceCollector {
  const connect = options.connector ?? connectDevice;
  return {
    async collect(device: PveDeviceEntry, nonce: Buffer, signal: AbortSignal): Promise<DeviceEvidence> {
      const target: DeviceTarget = { host: device.host, port: device.port, username: device.username };
      if (device.password !== undefined) target.password = device.password;
      if (device.privateKey !== undefined) target.privateKey = device.privateKey;
      if (device.hostKeySha256 !== undefined) target.hostKeySha256 = device.hostKeySha256;
      if (device.callHome === true) target.callHome = true;
      // NETCONF over TLS (RFC 7589): the device's certificate checks and the PVE's client certificate
      target.henbId = device.henbId;
      if (device.transport !== undefined) target.transport = device.transport;
      if (device.tls !== undefined) target.tls = device.tls;
      const session = await connect(target, { timeoutMs: options.timeoutMs, signal });
      try {
        const reply = await session.rpc(integrityMeasurementXml(nonce), { signal, timeoutMs: options.timeoutMs });
        const data = child(reply, NETCONF_BASE_NS, 'data');
        const r = parseMeasurementReply(data ? elements(data) : elements(reply));
        const ev: DeviceEvidence = { format: r.format, tim: r.tim, log: r.log, signature: r.signature, signatureAlgorithm: r.signatureAlgorithm };
        if (r.tpm !== undefined) ev.tpm = { quote: r.tpm.quote, signature: r.tpm.signature, eventLog: r.tpm.eventLog, certificateName: r.tpm.certificateName };
        if (r.keyId !== undefined) ev.keyId = r.keyId;
        if (r.softwareVersion !== undefined) ev.softwareVersion = r.softwareVersion;
        return ev;
      } finally {
        await session.close().catch((e: unknown) => options.log.debug('session close failed', { err: e }));
      }
    },
  };
}
