/**
 * SSH host keys as an operator writes them: the OpenSSH fingerprint `SHA256:<43 base64 chars>` (what `ssh-keygen
 * -lf` and our ready line print), the public key line `ssh-ed25519 AAAA... [comment]` (known_hosts, ncclient's
 * hostkey_b64, the --json ready line's publicKey) or the bare base64 key blob `AAAA...`. Every place that pins a
 * host key takes any of them and compares fingerprints. No I/O, no layer: the CLI, the config, the device driver
 * and the PVE use it alike.
 */
import { createHash } from 'node:crypto';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|ssh-dss|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/** `SHA256:<unpadded base64>` of an SSH public key blob (RFC 4253 section 6.6 encoding). */
export function fingerprintOfKeyBlob(blob: Uint8Array): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** the key type named inside a blob (its first string), or undefined when the blob is not an SSH key encoding */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return undefined;
  const t = blob.subarray(4, 4 + n).toString('latin1');
  if (!KEY_TYPE.test(t)) return undefined;
  // the rest is length-prefixed fields that end exactly at the blob's end (a truncated key is refused)
  let at = 4 + n;
  let fields = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(at);
    at += 4 + len;
    fields++;
  }
  if (at !== blob.length || fields === 0) return undefined;
  if (t === 'ssh-ed25519' && blob.length !== 4 + n + 4 + 32) return undefined;
  return t;
}

/**
 * The SHA256 fingerprint of a host key given in any accepted form, or undefined when the text is none of them
 * (the caller names the setting in its error). A public key whose blob does not match its stated type is refused.
 */
export function hostKeyFingerprint(text: string): string | undefined {
  const t = text.trim();
  if (FINGERPRINT.test(t)) return t;
  const parts = t.split(/\s+/);
  let type: string | undefined;
  let b64: string | undefined;
  if (parts.length >= 2 && KEY_TYPE.test(parts[0] as string)) [type, b64] = parts;
  else if (parts.length === 1 && BLOB.test(t)) b64 = t;
  if (b64 === undefined || !BLOB.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64');
  const inner = blobType(blob);
  if (inner === undefined || (type !== undefined && inner !== type)) return undefined;
  return fingerprintOfKeyBlob(blob);
}

/** what an error about a host key setting says it expects */
export const HOST_KEY_FORMS = "SHA256:<43 base64 chars> (ssh-keygen -lf) or a public key 'ssh-ed25519 AAAA...'";

/** JSON Schema pattern that admits both forms (the config's ssh-host-key); hostKeyFingerprint checks the rest */
export const HOST_KEY_PATTERN = '^(SHA256:[A-Za-z0-9+/]{43}|[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2}( .*)?|AAAA[A-Za-z0-9+/]+={0,2})$';
