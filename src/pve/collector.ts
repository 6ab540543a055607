/**
 * The PVE's default evidence collector: a short NETCONF session to the H(e)NB (src/device/connect.ts: over
 * SSH, host key pinned when the inventory gives it, or over TLS with the entry's certificate settings), one integrity-measurement with the PVE's own nonce, closed again.
 * A call-home device (RFC 8071) is reached through the given connector (the PVE's own call-home listener).
 * activate-credential (the AK's challenge, ak-binding.ts) goes the same way in its own short session.
 */
import { NETCONF_BASE_NS, child, elements } from '../netconf/xml/index.js';
import type { XmlElement } from '../netconf/xml/index.js';
import { NetconfError } from '../netconf/rpc-error.js';
import { activateCredentialXml, connectDevice, integrityMeasurementXml, parseActivateCredentialReply, parseMeasurementReply } from '../device/index.js';
import type { CredentialChallenge, DeviceConnector, DeviceTarget } from '../device/index.js';
import type { Logger } from '../log/logger.js';
import type { DeviceEvidence } from './appraise.js';
import type { CredentialAnswer, EvidenceCollector, PveDeviceEntry } from './types.js';

export interface NetconfCollectorOptions {
  timeoutMs: number;
  log: Logger;
  connector?: DeviceConnector;
}

/** how the collector reaches the device: the inventory entry as a DeviceTarget */
function targetOf(device: PveDeviceEntry): DeviceTarget {
  const target: DeviceTarget = { host: device.host, port: device.port, username: device.username };
  if (device.password !== undefined) target.password = device.password;
  if (device.privateKey !== undefined) target.privateKey = device.privateKey;
  if (device.hostKeySha256 !== undefined) target.hostKeySha256 = device.hostKeySha256;
  if (device.callHome === true) target.callHome = true;
  // NETCONF over TLS (RFC 7589): the device's certificate checks and the PVE's client certificate
  target.henbId = device.henbId;
  if (device.transport !== undefined) target.transport = device.transport;
  if (device.tls !== undefined) target.tls = device.tls;
  return target;
}

export function netconfEvidenceCollector(options: NetconfCollectorOptions): EvidenceCollector {
  const connect = options.connector ?? connectDevice;
  /** one short session: connect, one rpc, close; the reply's output elements */
  const once = async (device: PveDeviceEntry, op: XmlElement, signal: AbortSignal): Promise<XmlElement[]> => {
    const session = await connect(targetOf(device), { timeoutMs: options.timeoutMs, signal });
    try {
      const reply = await session.rpc(op, { signal, timeoutMs: options.timeoutMs });
      const data = child(reply, NETCONF_BASE_NS, 'data');
      return data ? elements(data) : elements(reply);
    } finally {
      await session.close().catch((e: unknown) => options.log.debug('session close failed', { err: e }));
    }
  };
  return {
    async collect(device: PveDeviceEntry, nonce: Buffer, signal: AbortSignal): Promise<DeviceEvidence> {
      const r = parseMeasurementReply(await once(device, integrityMeasurementXml(nonce), signal));
      const ev: DeviceEvidence = { format: r.format, tim: r.tim, log: r.log, signature: r.signature, signatureAlgorithm: r.signatureAlgorithm };
      if (r.tpm !== undefined) ev.tpm = { quote: r.tpm.quote, signature: r.tpm.signature, eventLog: r.tpm.eventLog, certificateName: r.tpm.certificateName };
      if (r.keyId !== undefined) ev.keyId = r.keyId;
      if (r.softwareVersion !== undefined) ev.softwareVersion = r.softwareVersion;
      return ev;
    },
    async activateCredential(device: PveDeviceEntry, challenge: CredentialChallenge, signal: AbortSignal): Promise<CredentialAnswer> {
      let out: XmlElement[];
      try {
        out = await once(device, activateCredentialXml(challenge), signal);
      } catch (e) {
        // the device's rpc-error is its answer (its TPM refused, or it has no such operation); anything else: not reached
        if (!(e instanceof NetconfError) || signal.aborted) throw e;
        const first = e.errors[0];
        return { refused: `the device answered activate-credential with ${first?.tag ?? 'rpc-error'}${first?.appTag !== undefined ? ` (${first.appTag})` : ''}${first?.message !== undefined ? `: ${first.message}` : ''}` };
      }
      try {
        return parseActivateCredentialReply(out);
      } catch (e) {
        return { refused: (e as Error).message };
      }
    },
  };
}
