/**
 * TLS floor (not run by bench/run.ts; bench/netconf.ts starts it): a bare node:tls server with the same
 * mutual X.509 settings as our server (client certificate required, TLS 1.3, TCP_NODELAY) that answers
 * each framed message with a fixed <rpc-reply> (message-id copied with a regex, no XML parsing, no
 * dispatch, no cert-to-name). In lockstep our NETCONF over TLS cannot be faster than this in Node.
 * Prints READY <port> - get-config 0 and answers `CPU` on stdin like bench/_ssh-floor.ts; exits when stdin ends.
 * BENCH_TLS_DIR names the PKI (server.pem, server.key, test-ca.pem).
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { FrameDecoder, frameText } from '../src/netconf/framing/index.js';
import { buildHello } from '../src/netconf/session/hello.js';

const dir = process.env.BENCH_TLS_DIR ?? '.';
const server = createServer({
  cert: readFileSync(join(dir, 'server.pem')),
  key: readFileSync(join(dir, 'server.key')),
  ca: readFileSync(join(dir, 'test-ca.pem')),
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.2',
}, (s: TLSSocket) => {
  s.setNoDelay(true);
  s.on('error', () => undefined);
  const dec = new FrameDecoder();
  let hello = true;
  s.write(frameText('eom', buildHello(['urn:ietf:params:netconf:base:1.0', 'urn:ietf:params:netconf:base:1.1'], 1)).text);
  s.on('data', (d: Buffer) => {
    dec.push(d);
    let out = '';
    let close = false;
    for (let m = dec.next(); m; m = dec.next()) {
      if (hello) { hello = false; dec.useChunked(); continue; }
      const text = m.toString();
      const id = /message-id="([^"]*)"/.exec(text)?.[1] ?? '';
      close = text.includes('<close-session');
      out += frameText('chunked', `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="${id}">${close ? '<ok/>' : '<data/>'}</rpc-reply>`).text;
      if (close) break;
    }
    if (out) s.write(out);
    if (close) s.end();
  });
});
server.on('connection', (sock: Socket) => sock.setNoDelay(true));
server.listen(0, '127.0.0.1', () => {
  console.log(`READY ${(server.address() as { port: number }).port} - get-config 0`);
});
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'CPU') {
    const u = process.cpuUsage();
    console.log(`CPU ${u.user + u.system}`);
  }
});
process.stdin.on('end', () => process.exit(0));
