/**
 * docs/device-vendor-guide.md stays true: every requirement id is in its table with the level the kit uses, and
 * every complete XML example parses; the device module's rpcs and notifications in it are valid under
 * yang/henb-sw-verify-device.yang (they were captured from a run: scripts/conformance-transcript.ts).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REQUIREMENTS } from '../../src/conformance/index.js';
import { DEVICE_NS } from '../../src/device/index.js';
import { deviceYangModule } from '../../src/simulator/index.js';
import { NETCONF_NOTIFICATION_NS, elements, parseXml } from '../../src/netconf/xml/index.js';

const guide = readFileSync(fileURLToPath(new URL('../../docs/device-vendor-guide.md', import.meta.url)), 'utf8');

/** the labelled messages of the ```xml blocks: [label, xml] (cut ones excluded) */
function messages(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const block of guide.matchAll(/```xml\n([\s\S]*?)```/g)) {
    const parts = block[1]!.split(/^<!-- (.*?) -->\n/m);
    for (let i = 1; i < parts.length; i += 2) if (!parts[i]!.includes('cut')) out.push([parts[i]!, parts[i + 1]!.trim()]);
  }
  return out;
}

describe('docs/device-vendor-guide.md', () => {
  it('lists every requirement with its level', () => {
    for (const r of REQUIREMENTS) expect(guide).toContain(`| ${r.id} | ${r.level} |`);
  });

  it('its XML examples parse, and the device module messages validate', () => {
    const { validator } = deviceYangModule();
    const all = messages();
    expect(all.length).toBeGreaterThan(25);
    let checked = 0;
    for (const [label, text] of all) {
      const doc = parseXml(text);
      if (label.includes('(rpc)') && doc.ns === DEVICE_NS) {
        expect(validator.validateRpcInput(doc), text).toEqual([]);
        checked++;
      }
      if (label.includes('(notification)')) {
        expect(doc.ns).toBe(NETCONF_NOTIFICATION_NS);
        const ev = elements(doc).find((e) => e.name !== 'eventTime')!;
        if (ev.ns === DEVICE_NS) {
          expect(validator.validateNotification(ev), text).toEqual([]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });
});
