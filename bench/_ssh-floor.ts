/**
 * Lockstep floor (not run by bench/run.ts): a bare ssh2 server that answers each framed message with a
 * fixed <rpc-reply> (message-id copied with a regex, no XML parsing, no dispatch), measured with the
 * same client as bench/netconf.ts. In lockstep our server cannot be faster than this over ssh2 in Node
 * (pipelined it can tie or slightly beat it: replies are batched differently).
 * Prints READY <port> <fingerprint> like `bench/netconf.ts --serve` so bench/_netconf-drive.ts can use it
 * (SERVE=bench/_ssh-floor.ts), answers a `CPU` line on stdin with `CPU <user+system microseconds>` like it,
 * and exits when stdin ends. bench/netconf.ts measures it as its third target (lockstep and pipelined).
 * Any user name and password are accepted.
 */
import ssh2 from '../src/netconf/ssh/ssh2.js';
import type { ServerChannel } from 'ssh2';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FrameDecoder, frameText } from '../src/netconf/framing/index.js';
import { buildHello } from '../src/netconf/session/hello.js';
import { hostKeyFingerprint, loadOrCreateHostKey } from '../src/netconf/server/host-keys.js';

const key = loadOrCreateHostKey(mkdtempSync(join(tmpdir(), 'hsv-floor-')));
const server = new ssh2.Server({ hostKeys: [key] }, (client) => {
  (client as unknown as { setNoDelay(v: boolean): void }).setNoDelay(true);
  client.on('authentication', (ctx) => ctx.accept());
  client.on('session', (accept) => {
    accept().on('subsystem', (acc) => {
      const ch: ServerChannel = acc!();
      const dec = new FrameDecoder();
      let hello = true;
      ch.write(frameText('eom', buildHello(['urn:ietf:params:netconf:base:1.0', 'urn:ietf:params:netconf:base:1.1'], 1)).text);
      ch.on('data', (d: Buffer) => {
        dec.push(d);
        let out = '';
        let close = false;
        for (let m = dec.next(); m; m = dec.next()) {
          if (hello) { hello = false; dec.useChunked(); continue; }
          const text = m.toString();
          const id = /message-id="([^"]*)"/.exec(text)?.[1] ?? '';
          // close-session: <ok/> and end the channel, or the client's close() waits for its 5 s timeout
          close = text.includes('<close-session');
          out += frameText('chunked', `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="${id}">${close ? '<ok/>' : '<data/>'}</rpc-reply>`).text;
          if (close) break;
        }
        if (out) ch.write(out);
        if (close) ch.end();
      });
    });
  });
  client.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  console.log(`READY ${(server.address() as { port: number }).port} ${hostKeyFingerprint(key)} get-config`);
});
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'CPU') {
    const u = process.cpuUsage();
    console.log(`CPU ${u.user + u.system}`);
  }
});
process.stdin.on('end', () => process.exit(0));
