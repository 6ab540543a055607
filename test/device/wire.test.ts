import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseXml, serializeXml } from '../../src/netconf/xml/index.js';
import { el, elements, leaf } from '../../src/netconf/xml/build.js';
import {
  DEVICE_NS, completionXml, measurementReplyXml, parseCompletion, parseMeasurementReply, parseSoftwareUpdate,
  softwareUpdateXml, parseStartedReply, startedReplyXml, DeviceWireError,
} from '../../src/device/wire.js';
import type { CompletionEvent, MeasurementReply } from '../../src/device/wire.js';

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const text = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._:/&<>"'-]{0,18}[A-Za-z0-9]$/);
const log = fc.array(fc.record({ component: fc.constantFrom('bootloader', 'kernel', 'rootfs', 'config'), digest: hex64 }), { maxLength: 6 });

/** through the wire: serialise, parse again */
const wire = (e: ReturnType<typeof el>): ReturnType<typeof el> => parseXml(serializeXml(e));

describe('device module XML', () => {
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
      const r: MeasurementReply = { tim, log: entries, signatureAlgorithm: 'ES256', signature, keyId: 'kid', softwareVersion: '1.0.0' };
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

  it('started/refused output round-trips', () => {
    expect(parseStartedReply(elements(wire(el(DEVICE_NS, 'x', startedReplyXml({ status: 'refused', reason: 'busy' })))))).toEqual({ status: 'refused', reason: 'busy' });
  });
});
