import ssh2 from 'ssh2';
import { encodeChunked, encodeEom } from '../src/netconf/framing/index.js';
import { el, NETCONF_BASE_NS } from '../src/netconf/xml/index.js';
import { startServer } from '../test/netconf/server/helpers.js';
import { registerStandardOperations } from '../src/netconf/server/index.js';
import { ISSUE_PAYLOADS } from '../test/netconf/xml/fuzz-corpus/payloads.js';

const N = NETCONF_BASE_NS;
const HELLO_11 = `<hello xmlns="${N}"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>`;
const only = process.argv[2];
const s = await startServer({ operations: [(reg) => registerStandardOperations(reg, { ietfYangDir: new URL('../yang/ietf', import.meta.url).pathname })] });
const healthy = await s.connect();
for (const p of ISSUE_PAYLOADS) {
  if (only && p.name !== only) continue;
  const conn = new ssh2.Client();
  await new Promise<void>((res, rej) => { conn.on('ready', res).on('error', rej); conn.connect({ host: '127.0.0.1', port: s.port, username: 'admin', password: 'secret-pw', hostVerifier: () => true }); });
  conn.on('error', () => undefined);
  const ch = await new Promise<ssh2.ClientChannel>((res, rej) => conn.subsys('netconf', (e, c) => (e ? rej(e) : res(c))));
  let got = '';
  let firstReplyAfterSend = -1;
  let t0 = 0;
  let helloSeen = false;
  ch.on('data', (d: Buffer) => { got += d.toString(); if (!helloSeen && got.includes(']]>]]>')) { helloSeen = true; got = ''; return; } if (t0 && firstReplyAfterSend < 0 && got.length) firstReplyAfterSend = performance.now() - t0; });
  const closed = new Promise<number>((r) => ch.on('close', () => r(performance.now())));
  const payload = p.build();
  // concurrent get from the healthy session every 50 ms
  let maxLat = 0; let n = 0; let stop = false;
  const pinger = (async () => { while (!stop) { const a = performance.now(); await healthy.rpc(el(N, 'get')); maxLat = Math.max(maxLat, performance.now() - a); n++; await new Promise((r) => setTimeout(r, 50)); } })();
  await new Promise((r) => setTimeout(r, 200));
  t0 = performance.now();
  if (p.hello) ch.write(encodeEom(payload));
  else { ch.write(encodeEom(HELLO_11)); ch.write(encodeChunked(payload)); }
  const end = await Promise.race([closed.then((t) => ({ how: 'closed', t })),
    new Promise<{ how: string; t: number }>((r) => setTimeout(() => r({ how: 'no answer (hello accepted)', t: performance.now() }), p.hello ? 20_000 : 300_000)), new Promise<{ how: string; t: number }>((r) => { const iv = setInterval(() => { if (got.includes('rpc-reply')) { clearInterval(iv); r({ how: 'reply', t: performance.now() }); } }, 5); })]);
  await new Promise((r) => setTimeout(r, 300));
  stop = true; await pinger;
  const rss = Math.round(process.memoryUsage().rss / 1048576);
  console.log(`${p.name.padEnd(18)} ${payload.length} B: ${end.how} after ${Math.round(end.t - t0)} ms; ${/malformed-message/.test(got) ? 'malformed-message' : got.slice(0, 80).replace(/\n/g, ' ')}; concurrent get: ${n} answered, max latency ${Math.round(maxLat)} ms; server RSS ${rss} MiB`);
  conn.end();
}
await healthy.close();
await s.stop();
