/**
 * HSV-YANG-01, HSV-YANG-02: the device module announced (RFC 7895 ietf-yang-library modules-state; a YANG 1.0
 * style hello capability is accepted too) with its namespace, and served by get-schema (RFC 6022 3.1). The
 * served text passes when byte-identical to yang/henb-sw-verify-device.yang, or when it is a compatible
 * revision: the same namespace, a revision not older than ours, and every message of the kit's contract (the
 * three RPCs' input, the measurement's output, a signed completion) valid under the served module.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEVICE_MODULE, DEVICE_NS, DEVICE_REVISION, completionXml, integrityMeasurementXml, measurementReplyXml, rollbackXml, softwareUpdateXml,
} from '../device/index.js';
import { NETCONF_BASE_NS, child, childText, childrenNamed, el, leaf, textOf } from '../netconf/xml/index.js';
import { compileTexts } from '../yang/index.js';
import { packageRoot } from '../package-root.js';
import type { Kit } from './context.js';

const YANG_LIBRARY_NS = 'urn:ietf:params:xml:ns:yang:ietf-yang-library';
const NCM_NS = 'urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring';

function yangDir(): string {
  return join(packageRoot() ?? '.', 'yang');
}

/** our module's text, byte for byte */
export function ourModuleText(): string {
  return readFileSync(join(yangDir(), `${DEVICE_MODULE}.yang`), 'utf8');
}

/** problems of a served module text that is not ours byte for byte ([] = compatible) */
export function compatibilityProblems(text: string): string[] {
  const ietf = ['ietf-inet-types@2013-07-15.yang', 'ietf-yang-types@2013-07-15.yang'].map((f) => {
    const file = join(yangDir(), 'ietf', f);
    return { file, text: readFileSync(file, 'utf8') };
  });
  let loaded: ReturnType<typeof compileTexts>;
  try {
    loaded = compileTexts([{ file: `${DEVICE_MODULE}.yang (served)`, text }, ...ietf]);
  } catch (e) {
    return [`the served text does not compile: ${(e as Error).message}`];
  }
  const m = loaded.modules.find((x) => x.name === DEVICE_MODULE);
  if (!m) return [`the served text is not module ${DEVICE_MODULE}`];
  const problems: string[] = [];
  if (m.namespace !== DEVICE_NS) problems.push(`namespace ${m.namespace}, expected ${DEVICE_NS}`);
  if (m.revision < DEVICE_REVISION) problems.push(`revision ${m.revision} is older than ${DEVICE_REVISION}`);
  const v = loaded.validator;
  const digest = 'a'.repeat(64);
  const nonce = Buffer.alloc(32, 1);
  const samples: Array<[string, () => unknown[]]> = [
    ['software-update input', () => v.validateRpcInput(softwareUpdateXml({ jobId: 'j-1', uri: 'https://192.0.2.1/i.bin', softwareRim: digest, selfCheck: true, version: '1', nonce: nonce.toString('base64') }))],
    ['integrity-measurement input', () => v.validateRpcInput(integrityMeasurementXml(nonce))],
    ['rollback input', () => v.validateRpcInput(rollbackXml('j-1'))],
    ['integrity-measurement output', () => v.validateRpcOutput(DEVICE_NS, 'integrity-measurement', measurementReplyXml({ format: 'software-key', tim: digest, log: [{ component: 'rootfs', digest }], signatureAlgorithm: 'ES256', keyId: 'k', signature: 'AAAA' }))],
    ['software-update-complete', () => v.validateNotification(completionXml({ jobId: 'j-1', status: 'completed', tim: digest, log: [{ component: 'rootfs', digest }], selfCheck: 'passed', softwareVersion: '1', evidence: { format: 'software-key', nonce: nonce.toString('base64'), signatureAlgorithm: 'ES256', keyId: 'k', signature: 'AAAA' } }))],
  ];
  const invalid: string[] = [];
  for (const [what, run] of samples) {
    const errs = run() as Array<{ message?: string; tag?: string }>;
    if (errs.length > 0) invalid.push(`${what} (${errs[0]?.message ?? errs[0]?.tag ?? 'invalid'})`);
  }
  if (invalid.length > 0) problems.push(`${invalid.length} of ${samples.length} contract messages are not valid under it, e.g. ${invalid[0]!}`);
  return problems;
}

export async function checkModule(kit: Kit): Promise<void> {
  // HSV-YANG-01
  const o = await kit.get(el(YANG_LIBRARY_NS, 'modules-state'));
  let announced: { namespace: string; revision: string; via: string } | undefined;
  const data = o.reply ? child(o.reply, NETCONF_BASE_NS, 'data') : undefined;
  const ms = data ? child(data, YANG_LIBRARY_NS, 'modules-state') : undefined;
  for (const m of ms ? childrenNamed(ms, YANG_LIBRARY_NS, 'module') : []) {
    if ((childText(m, YANG_LIBRARY_NS, 'name') ?? '').trim() !== DEVICE_MODULE) continue;
    announced = { namespace: (childText(m, YANG_LIBRARY_NS, 'namespace') ?? '').trim(), revision: (childText(m, YANG_LIBRARY_NS, 'revision') ?? '').trim(), via: 'ietf-yang-library modules-state' };
  }
  if (!announced) {
    const cap = kit.session.capabilities.find((c) => new URLSearchParams(c.split('?')[1] ?? '').get('module') === DEVICE_MODULE);
    if (cap) {
      const q = new URLSearchParams(cap.split('?')[1] ?? '');
      announced = { namespace: cap.split('?')[0] ?? '', revision: q.get('revision') ?? '', via: 'a hello capability' };
    }
  }
  if (!announced) {
    kit.moduleAnnounced = false;
    kit.fail('HSV-YANG-01', `${DEVICE_MODULE} is not announced (the module is missing)`,
      `a modules-state/module entry name ${DEVICE_MODULE}, namespace ${DEVICE_NS}, revision ${DEVICE_REVISION} or later`, [o.exchange]);
  } else if (announced.namespace !== DEVICE_NS) {
    kit.fail('HSV-YANG-01', `${DEVICE_MODULE} is announced (${announced.via}) with namespace ${announced.namespace}`, `namespace ${DEVICE_NS}`, [o.exchange]);
  } else if (announced.via !== 'ietf-yang-library modules-state') {
    kit.fail('HSV-YANG-01', `${DEVICE_MODULE} is announced only as a hello capability; it is a YANG 1.1 module (RFC 7950 5.6.4)`,
      'an entry in ietf-yang-library (modules-state)', [o.exchange]);
  } else {
    kit.pass('HSV-YANG-01', `${DEVICE_MODULE}@${announced.revision} announced in ietf-yang-library with namespace ${announced.namespace}`, [o.exchange]);
  }
  // HSV-YANG-02
  if (!announced) {
    kit.skip('HSV-YANG-02', `the device module is missing (HSV-YANG-01)`);
    return;
  }
  const g = await kit.session.rpc(el(NCM_NS, 'get-schema', leaf(NCM_NS, 'identifier', DEVICE_MODULE), announced.revision !== '' ? leaf(NCM_NS, 'version', announced.revision) : undefined));
  const dataEl = g.reply ? child(g.reply, NCM_NS, 'data') : undefined;
  const brief = { sent: g.exchange.sent, received: g.reply ? `<rpc-reply> with ${dataEl ? textOf(dataEl).length : 0} characters of module text` : g.exchange.received };
  if (!dataEl) {
    kit.fail('HSV-YANG-02', 'get-schema did not return the module text', `<data> holding the text of ${DEVICE_MODULE} (RFC 6022 3.1)`, [brief]);
    return;
  }
  const served = textOf(dataEl);
  if (served === ourModuleText()) {
    kit.pass('HSV-YANG-02', `get-schema returned ${DEVICE_MODULE}@${DEVICE_REVISION}, byte-identical to the project's`, [brief]);
    return;
  }
  const problems = compatibilityProblems(served);
  if (problems.length === 0) kit.pass('HSV-YANG-02', `get-schema returned a compatible revision (${announced.revision}): every message of the contract is valid under it`, [brief]);
  else kit.fail('HSV-YANG-02', `the served module is neither ours nor compatible: ${problems.join('; ')}`, `${DEVICE_MODULE}@${DEVICE_REVISION} byte-identical, or a later revision with namespace ${DEVICE_NS} under which the contract's messages stay valid`, [brief]);
}
