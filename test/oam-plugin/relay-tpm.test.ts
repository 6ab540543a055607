/**
 * completion-tim relaying tpm2-quote evidence (henb-sw-verify 2026-12-03): the OAM module's evidence container
 * takes the device's tpm20-attestation unchanged (only the namespace differs); the OAM module validates it, the
 * relay turns it into the quote, its signature and the TCG event log the PVE appraises, and a malformed container
 * is an rpc-error naming it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_NS, tpm20AttestationXml } from '../../src/device/index.js';
import type { Tpm20Attestation } from '../../src/device/index.js';
import { EV, TPM_ALG, encodeEventLog } from '../../src/integrity/tpm/index.js';
import { NetconfError } from '../../src/netconf/rpc-error.js';
import { el, elements, leaf } from '../../src/netconf/xml/build.js';
import type { XmlElement } from '../../src/netconf/xml/types.js';
import { HSV_NS, OAM_MODULE_FILES, defaultYangDir } from '../../src/oam-plugin/index.js';
import { parseRelayedEvidence } from '../../src/oam-plugin/northbound.js';
import { compileTexts } from '../../src/yang/index.js';
import type { SchemaValidator } from '../../src/yang/index.js';

let validator: SchemaValidator;
beforeAll(async () => {
  const dir = defaultYangDir();
  validator = compileTexts(await Promise.all(OAM_MODULE_FILES.map(async (f) => ({ file: f, text: await readFile(join(dir, f), 'utf8') })))).validator;
});

/** the device's element tree in the OAM module's namespace (what an NMS relays) */
function relayNs(e: XmlElement): XmlElement {
  return { ...e, ns: e.ns === DEVICE_NS ? HSV_NS : e.ns, children: e.children.map((c) => (typeof c === 'string' ? c : relayNs(c))) };
}

const t: Tpm20Attestation = {
  certificateName: '000b' + '5a'.repeat(32),
  quote: Buffer.from('TPMS_ATTEST octets').toString('base64'),
  signature: Buffer.from('TPMT_SIGNATURE octets').toString('base64'),
  pcrSelection: [{ hashAlg: 'sha256', pcrs: [9] }],
  eventLog: encodeEventLog([TPM_ALG.SHA256], ['bootloader', 'kernel', 'rootfs'].map((c, i) => ({ pcr: 9, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, Buffer.alloc(32, i + 1)]]), data: Buffer.from(c) }))).toString('base64'),
};

const evidence = (tpm: XmlElement): XmlElement => el(HSV_NS, 'evidence',
  leaf(HSV_NS, 'evidence-format', 'tpm2-quote'), leaf(HSV_NS, 'nonce-value', 'a1'.repeat(32)), leaf(HSV_NS, 'signature-algorithm', 'ES256'), tpm);

describe('completion-tim with tpm2-quote evidence', () => {
  it('the OAM module accepts the device\'s tpm20-attestation, relayed unchanged', () => {
    const op = el(HSV_NS, 'completion-tim', leaf(HSV_NS, 'job-id', 'job-1'), leaf(HSV_NS, 'henb-id', 'healthy-tpm-1'), leaf(HSV_NS, 'tim', 'ab'.repeat(32)),
      evidence(relayNs(tpm20AttestationXml(t))));
    expect(validator.validateRpcInput(op)).toEqual([]);
  });

  it('the relay hands the PVE the quote, its signature and the crypto-agile event log', () => {
    const ev = parseRelayedEvidence(evidence(relayNs(tpm20AttestationXml(t))));
    expect(ev).toEqual({ format: 'tpm2-quote', nonce: 'a1'.repeat(32), signatureAlgorithm: 'ES256', signature: t.signature, quote: t.quote, eventLog: t.eventLog, keyId: t.certificateName });
  });

  it('a malformed tpm20-attestation is invalid-value / evidence-invalid naming the container', () => {
    const good = relayNs(tpm20AttestationXml(t));
    const bad = el(HSV_NS, 'tpm20-attestation', elements(good).filter((e) => e.name !== 'quote-signature'));
    let caught: unknown;
    try {
      parseRelayedEvidence(evidence(bad));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NetconfError);
    expect((caught as NetconfError).errors[0]).toMatchObject({ tag: 'invalid-value', appTag: 'evidence-invalid', path: '/hsv:completion-tim/hsv:evidence/hsv:tpm20-attestation' });
    expect((caught as NetconfError).errors[0]!.message).toMatch(/quote-signature/);
  });
});
