/**
 * Lockstep floor (not run by bench/run.ts): a bare ssh2 server that answers each framed message with a
 * fixed <rpc-reply> (message-id copied with a regex, no XML parsing, no dispatch), measured with the
 * same client as bench/netconf.ts. Our server cannot be faster than this over ssh2 in Node.
 * Prints READY <port> <fingerprint> like `bench/netconf.ts --serve` so bench/_netconf-drive.ts can use it
 * (SERVE=bench/_ssh-floor.ts).
 */
import ssh2 from '../src/netconf/ssh/ssh2.js';
import type { ServerChannel } from 'ssh2';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
        for (let m = dec.next(); m; m = dec.next()) {
          if (hello) { hello = false; dec.useChunked(); continue; }
          const id = /message-id="([^"]*)"/.exec(m.toString())?.[1] ?? '';
          out += frameText('chunked', `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="${id}"><data/></rpc-reply>`).text;
        }
        if (out) ch.write(out);
      });
    });
  });
  client.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => {
  console.log(`READY ${(server.address() as { port: number }).port} ${hostKeyFingerprint(key)} get-config`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
