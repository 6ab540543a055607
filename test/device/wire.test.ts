import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseXml, serializeXml } from '../../src/netconf/xml/index.js';
import { el, elements, leaf } from '../../src/netconf/xml/build.js';
import {
  DEVICE_NS, completionXml, measurementReplyXml, parseCompletion, parseMeasurementReply, parseSoftwareUpdate,
  softwareUpdateXml, parseStartedReply, startedReplyXml, DeviceWireError, parseTpm20Attestation, tpm20AttestationXml,
  activateCredentialReplyXml, activateCredentialXml, parseActivateCredential, parseActivateCredentialReply,
} from '../../src/device/wire.js';
import type { CompletionEvent, MeasurementReply, Tpm20Attestation } from '../../src/device/wire.js';
import { EV, TPM_ALG, encodeEventLog } from '../../src/integrity/tpm/index.js';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const text = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._:/&<>"'-]{0,18}[A-Za-z0-9]$/);
const log = fc.array(fc.record({ component: fc.constantFrom('bootloader', 'kernel', 'rootfs', 'config'), digest: hex64 }), { maxLength: 6 });

/** through the wire: serialise, parse again */
const wire = (e: ReturnType<typeof el>): ReturnType<typeof el> => parseXml(serializeXml(e));

describe('device module XML', () => {
  it('activate-credential round-trips (request on the device side, reply on the verifier side)', () => {
    const octets = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b));
    fc.assert(fc.property(octets(4, 300), octets(4, 300), octets(1, 64), fc.option(hex64.map((h) => '000b' + h), { nil: undefined }), fc.boolean(), (credentialBlob, secret, released, certificateName, ecc) => {
      const challenge = { credentialBlob, secret, ...(ecc ? { endorsementKey: 'ecc' as const } : {}) };
      expect(parseActivateCredential(wire(activateCredentialXml(challenge)))).toEqual(challenge);
      const reply = { secret: released, ...(certificateName !== undefined ? { certificateName } : {}) };
      expect(parseActivateCredentialReply(elements(wire(el(DEVICE_NS, 'output', activateCredentialReplyXml(reply)))))).toEqual(reply);
    }));
  });

  it('activate-credential: a missing or non-base64 leaf is undefined (device) / a malformed reply (verifier)', () => {
    expect(parseActivateCredential(el(DEVICE_NS, 'activate-credential', leaf(DEVICE_NS, 'credential-blob', 'AAAA')))).toBeUndefined();
    expect(parseActivateCredential(el(DEVICE_NS, 'activate-credential', leaf(DEVICE_NS, 'credential-blob', 'AAAA'), leaf(DEVICE_NS, 'encrypted-secret', 'not base64!')))).toBeUndefined();
    expect(parseActivateCredential(el(DEVICE_NS, 'activate-credential', leaf(DEVICE_NS, 'credential-blob', 'AAAA'), leaf(DEVICE_NS, 'encrypted-secret', 'AAAA'), leaf(DEVICE_NS, 'endorsement-key', 'dsa')))).toBeUndefined();
    expect(parseActivateCredential(el(DEVICE_NS, 'activate-credential', leaf(DEVICE_NS, 'credential-blob', 'AAAA'), leaf(DEVICE_NS, 'encrypted-secret', 'AAAA'), leaf(DEVICE_NS, 'endorsement-key', 'rsa')))).toEqual({ credentialBlob: Buffer.from('AAAA', 'base64'), secret: Buffer.from('AAAA', 'base64') });
    expect(() => parseActivateCredentialReply([])).toThrow(DeviceWireError);
    expect(() => parseActivateCredentialReply([leaf(DEVICE_NS, 'secret', 'AAAA'), leaf(DEVICE_NS, 'certificate-name', 'XYZ')])).toThrow('activate-credential reply (certificate-name)');
  });

  it('software-update round-trips', () => {
    fc.assert(fc.property(text, text, hex64, fc.boolean(), fc.option(text, { nil: undefined }), hex64, (jobId, uri, softwareRim, selfCheck, version, nonce) => {
      const input = { jobId, uri, softwareRim, selfCheck, nonce, ...(version !== undefined ? { version } : {}) };
      expect(parseSoftwareUpdate(wire(softwareUpdateXml(input)))).toEqual(input);
    }));
  });

  it('software-update-complete round-trips', () => {
    const ev = fc.record({
      jobId: text,
      status: fc.constantFrom('completed', 'download-error', 'integrity-error', 'install-error', 'self-check-failed'),
      tim: fc.option(hex64, { nil: undefined }),
      log: fc.option(log, { nil: undefined }),
      selfCheck: fc.option(fc.constantFrom('passed', 'failed', 'not-performed'), { nil: undefined }),
      softwareVersion: fc.option(text, { nil: undefined }),
      reason: fc.option(text, { nil: undefined }),
    }, { requiredKeys: ['jobId', 'status'] });
    fc.assert(fc.property(ev, (raw) => {
      const c = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as unknown as CompletionEvent;
      expect(parseCompletion(wire(completionXml(c)))).toEqual(c);
    }));
  });

  it('integrity-measurement output round-trips', () => {
    fc.assert(fc.property(hex64, log, fc.base64String({ minLength: 4, maxLength: 100 }).filter((s) => s.length > 0), (tim, entries, signature) => {
      const r: MeasurementReply = { format: 'software-key', tim, log: entries, signatureAlgorithm: 'ES256', signature, keyId: 'kid', softwareVersion: '1.0.0' };
      const reply = wire(el(DEVICE_NS, 'x', measurementReplyXml(r)));
      expect(parseMeasurementReply(elements(reply))).toEqual(r);
    }));
  });

  it('a malformed reply or notification is a coded DeviceWireError, never another exception', () => {
    const anyLeaf = fc.record({ name: fc.constantFrom('tim', 'signature', 'job-id', 'status', 'index', 'digest', 'component', 'entry', 'measurement-log'), value: fc.string({ maxLength: 70 }) });
    fc.assert(fc.property(fc.array(anyLeaf, { maxLength: 8 }), (leaves) => {
      const kids = leaves.map((l) => (l.name === 'measurement-log'
        ? el(DEVICE_NS, 'measurement-log', el(DEVICE_NS, 'entry', leaf(DEVICE_NS, 'index', l.value), leaf(DEVICE_NS, 'digest', l.value)))
        : leaf(DEVICE_NS, l.name, l.value)));
      for (const parse of [() => parseMeasurementReply(kids), () => parseCompletion(el(DEVICE_NS, 'software-update-complete', kids)), () => parseStartedReply(kids)]) {
        try {
          parse();
        } catch (e) {
          expect(e).toBeInstanceOf(DeviceWireError);
          expect((e as DeviceWireError).code).toBe('ERR_DEVICE_BAD_REPLY');
        }
      }
    }));
  });

  describe('tpm20-attestation (RFC 9684 shape)', () => {
    const digest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));
    const events = fc.array(fc.record({ pcr: fc.integer({ min: 0, max: 15 }), digest, name: fc.constantFrom('bootloader', 'kernel', 'rootfs', 'config', '') }), { maxLength: 8 });
    const attestation = (evs: Array<{ pcr: number; digest: Buffer; name: string }>): Tpm20Attestation => ({
      certificateName: '000b' + 'ab'.repeat(32),
      quote: Buffer.from('the TPMS_ATTEST octets').toString('base64'),
      signature: Buffer.from('the TPMT_SIGNATURE octets').toString('base64'),
      pcrSelection: [{ hashAlg: 'sha256', pcrs: [...new Set([9, ...evs.map((e) => e.pcr)])].sort((a, b) => a - b) }],
      eventLog: encodeEventLog([TPM_ALG.SHA256], evs.map((e) => ({ pcr: e.pcr, type: EV.IPL, digests: new Map([[TPM_ALG.SHA256, e.digest]]), data: Buffer.from(e.name) }))).toString('base64'),
    });

    it('round-trips: the event log comes back octet for octet from its bios-event-entry list', () => {
      fc.assert(fc.property(events, (evs) => {
        const t = attestation(evs);
        expect(parseTpm20Attestation(wire(tpm20AttestationXml(t)))).toEqual(t);
      }));
    });

    it('an integrity-measurement reply with evidence-format tpm2-quote carries it, and needs it', () => {
      const t = attestation([{ pcr: 9, digest: Buffer.alloc(32, 1), name: 'kernel' }]);
      const r: MeasurementReply = { format: 'tpm2-quote', tim: 'a'.repeat(64), log: [], signatureAlgorithm: 'ES256', signature: '', tpm: t };
      expect(parseMeasurementReply(elements(wire(el(DEVICE_NS, 'x', measurementReplyXml(r)))))).toEqual({ ...r, log: [] });
      expect(() => parseMeasurementReply([leaf(DEVICE_NS, 'evidence-format', 'tpm2-quote'), leaf(DEVICE_NS, 'tim', 'a'.repeat(64))])).toThrow(DeviceWireError);
    });

    it('a completion whose evidence is tpm2-quote carries quote, signature and event log from the container', () => {
      const t = attestation([{ pcr: 9, digest: Buffer.alloc(32, 2), name: 'rootfs' }]);
      const c: CompletionEvent = { jobId: 'j1', status: 'completed', tim: 'b'.repeat(64), log: [], evidence: { format: 'tpm2-quote', nonce: 'AAAAAAAAAAAAAAAAAAAAAA==', signatureAlgorithm: 'ES256', signature: t.signature, tpm: t } };
      const back = parseCompletion(wire(completionXml(c)));
      expect(back.evidence).toEqual({ ...c.evidence, quote: t.quote, eventLog: t.eventLog, keyId: t.certificateName });
    });

    it('a malformed container is a DeviceWireError naming what is wrong', () => {
      const good = tpm20AttestationXml(attestation([{ pcr: 9, digest: Buffer.alloc(32, 3), name: 'config' }]));
      const without = (name: string) => el(DEVICE_NS, 'tpm20-attestation', elements(good).filter((e) => e.name !== name));
      expect(() => parseTpm20Attestation(without('TPMS_QUOTE_INFO'))).toThrow(/TPMS_QUOTE_INFO/);
      expect(() => parseTpm20Attestation(without('certificate-name'))).toThrow(/certificate-name/);
      const noDigest = el(DEVICE_NS, 'tpm20-attestation', ...elements(good).filter((e) => e.name !== 'bios-event-logs'),
        el(DEVICE_NS, 'bios-event-logs', el(DEVICE_NS, 'bios-event-entry', leaf(DEVICE_NS, 'event-number', 1), leaf(DEVICE_NS, 'event-type', 13), leaf(DEVICE_NS, 'pcr-index', 9))));
      expect(() => parseTpm20Attestation(noDigest)).toThrow(/digest-list/);
      const badPcr = el(DEVICE_NS, 'tpm20-attestation', ...elements(good).filter((e) => e.name !== 'bios-event-logs'),
        el(DEVICE_NS, 'bios-event-logs', el(DEVICE_NS, 'bios-event-entry', leaf(DEVICE_NS, 'event-number', 1), leaf(DEVICE_NS, 'event-type', 13), leaf(DEVICE_NS, 'pcr-index', 40),
          el(DEVICE_NS, 'digest-list', leaf(DEVICE_NS, 'hash-algo', 'sha256'), leaf(DEVICE_NS, 'digest', Buffer.alloc(32).toString('base64'))))));
      expect(() => parseTpm20Attestation(badPcr)).toThrow(/pcr-index/);
    });
  });

  it('started/refused output round-trips', () => {
    expect(parseStartedReply(elements(wire(el(DEVICE_NS, 'x', startedReplyXml({ status: 'refused', reason: 'busy' })))))).toEqual({ status: 'refused', reason: 'busy' });
  });
});
