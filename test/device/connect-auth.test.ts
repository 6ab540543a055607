/**
 * The dialled SSH login (src/device/connect.ts sshAuthOrder): the methods we have, without ssh2's opening 'none'
 * query (one round trip and one refused login fewer per device session); 'none' stays as the last try.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { connectDevice, sshAuthOrder } from '../../src/device/connect.js';
import { generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import ssh2 from '../../src/netconf/ssh/ssh2.js';
import type { Server } from 'ssh2';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** an SSH server that records the login methods tried and accepts `accept`; no netconf subsystem */
async function recordingServer(accept: 'password' | 'none'): Promise<{ port: number; tried: string[] }> {
  const tried: string[] = [];
  server = new ssh2.Server({ hostKeys: [generateEd25519KeyPair().private] }, (client) => {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      tried.push(ctx.method);
      if (ctx.method === accept) ctx.accept();
      else ctx.reject([accept]);
    });
    client.on('ready', () => client.end());
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, tried };
}

describe('the dialled SSH login', () => {
  it('the order: password, publickey, then none', () => {
    expect(sshAuthOrder({ password: 'p' })).toEqual(['password', 'none']);
    expect(sshAuthOrder({ password: 'p', privateKey: 'k' })).toEqual(['password', 'publickey', 'none']);
  });

  it('logs in with the password at once: no none request first', async () => {
    const { port, tried } = await recordingServer('password');
    const target = { host: '127.0.0.1', port, username: 'u', password: 'p', insecureAcceptAnyHostKey: true };
    await expect(connectDevice(target, { timeoutMs: 5000, peerCloseMs: 100 })).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_DEVICE_/) });
    expect(tried).toEqual(['password']);
  });

  it('a device that takes none is still logged in with it, last', async () => {
    const { port, tried } = await recordingServer('none');
    const target = { host: '127.0.0.1', port, username: 'u', password: 'p', insecureAcceptAnyHostKey: true };
    await expect(connectDevice(target, { timeoutMs: 5000, peerCloseMs: 100 })).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_DEVICE_/) });
    expect(tried).toEqual(['password', 'none']);
  });
});
