/**
 * HSV-KEY-01: the device presents the key that signs its evidence (state attestation-key, device module revision
 * 2026-12-03): public-key (software-key: DER SubjectPublicKeyInfo; tpm2-quote: the AK's TPM2B_PUBLIC), the
 * key-id evidence names it by (RFC 7638 thumbprint / TPM Name), the evidence-format of the run's trust root and
 * the signature-algorithm of that key. With an enrolled key (--device-public-key) the presented key must be it.
 *
 * It also decides the key the signature checks (HSV-MEAS-01/02, HSV-CPL-02) use: the enrolled key when pinned;
 * else the presented key when it is usable and consistent ("unpinned key (presented by the device)": a pass
 * that shows the device signs consistently with the key it presents, not that it is the device one enrolled);
 * else none, and those checks are skipped as unpinned.
 */
import { DEVICE_NS, parseAttestationKey } from '../device/index.js';
import { NETCONF_BASE_NS, child, el } from '../netconf/xml/index.js';
import { algorithmOf, keyIdOf, parsePresentedKey, sameKey } from './evidence-key.js';
import type { Kit } from './context.js';
import type { EnrolledKey } from './evidence-key.js';

const EXPECTED = 'state attestation-key with evidence-format (the run\'s trust root), signature-algorithm, key-id (RFC 7638 thumbprint of public-key, or the AK\'s TPM Name in hex) and public-key (DER SubjectPublicKeyInfo, or the AK\'s TPM2B_PUBLIC), base64';

/** the presented key, parsed, and what is wrong with the state (format, key-id, algorithm); a key only without problems */
function presentedKey(k: ReturnType<typeof parseAttestationKey>, trustRoot: 'software' | 'tpm'): { key?: EnrolledKey; problems: string[] } {
  const wantFormat = trustRoot === 'tpm' ? 'tpm2-quote' : 'software-key';
  const problems: string[] = [];
  if (k.format !== wantFormat) problems.push(`evidence-format is ${k.format ?? 'absent'}, the kit runs with --trust-root ${trustRoot}`);
  if (k.publicKey === undefined) problems.push('public-key is absent');
  if (k.keyId === undefined) problems.push('key-id is absent');
  const parsed = k.publicKey !== undefined && k.format === wantFormat ? parsePresentedKey(k.publicKey, trustRoot) : undefined;
  const presented = parsed !== undefined && 'key' in parsed ? parsed.key : undefined;
  if (parsed !== undefined && 'problem' in parsed) problems.push(parsed.problem);
  if (presented !== undefined) {
    const id = keyIdOf(presented);
    const alg = algorithmOf(presented);
    // a thumbprint is base64url (case matters), a TPM Name hex (case does not)
    if (k.keyId !== undefined && (presented.kind === 'tpm' ? k.keyId.toLowerCase() : k.keyId) !== id) {
      problems.push(`key-id ${k.keyId} is not the presented key's (${presented.kind === 'software' ? 'RFC 7638 thumbprint' : 'TPM Name'} ${id})`);
    }
    if (alg === undefined) problems.push('the presented key is neither P-256 nor Ed25519');
    else if (k.signatureAlgorithm !== alg) problems.push(`signature-algorithm is ${k.signatureAlgorithm ?? 'absent'}, the presented key signs ${alg}`);
  }
  return problems.length > 0 || presented === undefined ? { problems } : { key: presented, problems };
}

export async function checkKey(kit: Kit): Promise<void> {
  const pinned = kit.options.enrolledKey;
  const o = await kit.get(el(DEVICE_NS, 'attestation-key'));
  if (!o.reply) {
    kit.fail('HSV-KEY-01', 'the get of attestation-key failed', EXPECTED, [o.exchange]);
    return;
  }
  const data = child(o.reply, NETCONF_BASE_NS, 'data');
  const c = data ? child(data, DEVICE_NS, 'attestation-key') : undefined;
  if (!c) {
    kit.fail('HSV-KEY-01', 'the device presents no attestation-key (state data of the device module, revision 2026-12-03)', EXPECTED, [o.exchange]);
    return;
  }
  const k = parseAttestationKey(c);
  const { key, problems } = presentedKey(k, kit.options.trustRoot);
  if (problems.length > 0) {
    kit.fail('HSV-KEY-01', problems.join('; '), EXPECTED, [o.exchange]);
    return;
  }
  if (pinned !== undefined) {
    if (!sameKey(pinned, key!)) {
      kit.fail('HSV-KEY-01', `the device presents key-id ${keyIdOf(key!)}, not the enrolled key (--device-public-key, key-id ${keyIdOf(pinned)}): it is another device, or its key changed since enrolment`,
        'the presented attestation-key is the enrolled key', [o.exchange]);
      return;
    }
    kit.pass('HSV-KEY-01', `presents the enrolled key (key-id ${keyIdOf(key!)}, ${k.signatureAlgorithm})`, [o.exchange]);
    return;
  }
  kit.signing = { key: key!, source: 'presented' };
  kit.pass('HSV-KEY-01', `presents a ${k.signatureAlgorithm} key, key-id ${keyIdOf(key!)} (${key!.kind === 'software' ? 'its RFC 7638 thumbprint' : 'the AK\'s TPM Name'}); unpinned: the signature checks use it`, [o.exchange]);
}
