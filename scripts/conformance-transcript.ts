/**
 * Regenerates the XML examples of docs/device-vendor-guide.md from a real run: starts one healthy simulated
 * femtocell (fetching images over https, as a device does), runs the conformance kit against it over SSH and
 * prints every rpc, reply and notification of the run, indented. Usage: npx tsx scripts/conformance-transcript.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateKitTls, runConformance } from '../src/conformance/index.js';
import type { Exchange } from '../src/conformance/index.js';
import { startFleet } from '../src/simulator/index.js';
import { parseXml, isElement } from '../src/netconf/xml/index.js';
import type { XmlElement } from '../src/netconf/xml/index.js';

/** indent XML for reading (namespaces as declared on the first element of each namespace) */
function pretty(xml: string): string {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch {
    return xml;
  }
  const lines: string[] = [];
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const walk = (e: XmlElement, depth: number, parentNs: string): void => {
    const pad = '  '.repeat(depth);
    const attrs = [...(e.ns !== parentNs ? [`xmlns="${e.ns}"`] : []), ...e.attrs.filter((a) => a.ns === '').map((a) => `${a.name}="${a.value}"`)];
    const open = `<${e.name}${attrs.length ? ' ' + attrs.join(' ') : ''}`;
    const kids = e.children.filter((c) => isElement(c) || c.trim() !== '');
    if (kids.length === 0) lines.push(`${pad}${open}/>`);
    else if (kids.every((c) => !isElement(c))) lines.push(`${pad}${open}>${esc(kids.join('').trim())}</${e.name}>`);
    else {
      lines.push(`${pad}${open}>`);
      for (const c of kids) if (isElement(c)) walk(c, depth + 1, e.ns);
      lines.push(`${pad}</${e.name}>`);
    }
  };
  walk(root, 0, '');
  return lines.join('\n');
}

const dir = await mkdtemp(join(tmpdir(), 'hsv-transcript-'));
try {
  const tls = await loadOrCreateKitTls(join(dir, 'tls'));
  const fleet = await startFleet({ profiles: { healthy: 1 }, fetchSoftware: { caPem: tls.cert }, installMs: 50 });
  try {
    const d = fleet.devices[0]!;
    const transcript: Exchange[] = [];
    const r = await runConformance({
      target: { host: d.host, port: d.port, username: d.username, password: d.password, hostKeySha256: d.hostKeySha256 },
      devicePublicKey: d.devicePublicKey, henbId: d.henbId, tlsDir: join(dir, 'tls'), transcript, completionTimeoutMs: 10_000,
    });
    for (const e of transcript) {
      if (e.sent !== '') process.stdout.write(`>>> rpc\n${pretty(e.sent)}\n`);
      process.stdout.write(`<<< ${e.sent !== '' ? 'reply' : 'notification'}\n${pretty(e.received)}\n\n`);
    }
    process.stdout.write(`# ${r.results.filter((x) => x.outcome === 'pass').length}/${r.results.length} passed\n`);
  } finally {
    await fleet.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
