/**
 * Interop: python3-ncclient pipelines one slow request and three messages our server rejects or
 * answers at once. RFC 6241 section 4.5: the replies come in the order the requests were received, the
 * rejections included; section 4.2: the attributes of <rpc> come back with their namespace
 * declarations. A missing /usr/bin/python3 or ncclient fails the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetconfServer, generateEd25519KeyPair } from '../../src/netconf/server/index.js';
import type { NetconfServer } from '../../src/netconf/server/index.js';

const T = 'urn:example:pipelining';
const DRIVER = join(import.meta.dirname, 'helpers/ncclient_pipelining.py');

interface Reply { message_id: string | null; user_id: string | null; error_tag: string | null; raw: string }

describe('ncclient pipelines behind a slow request', () => {
  let server: NetconfServer | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('gets every reply in request order, rejections included, with the rpc attributes echoed', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hsv-ncclient-pipe-'));
    server = createNetconfServer({
      hostKeys: [generateEd25519KeyPair().private],
      auth: { users: [{ username: 'admin', password: 'interop-pw' }] },
      dataDir,
    });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    server.registry.addRpc(T, 'slow', async () => {
      await released;
      return 'ok';
    });
    server.registry.addRpc(T, 'fast', async () => 'ok');
    const { port } = await server.listen('127.0.0.1', 0);
    // the slow request is answered once the two messages behind it that are rejected have arrived
    const seen = server.info.counters;
    const poll = setInterval(() => {
      if (seen.inBadRpcs >= 2) release();
    }, 10);

    const py = spawn('/usr/bin/python3', [DRIVER, String(port), 'admin', 'interop-pw', T], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    py.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    py.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((resolve, reject) => {
      py.on('error', reject);
      py.on('close', resolve);
    });
    clearInterval(poll);
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout) as { replies: Reply[]; slow_ok: boolean };
    expect(out.slow_ok).toBe(true);
    const replies = out.replies;
    expect(replies.map((r) => r.message_id?.startsWith('urn:uuid:') ? 'slow' : r.message_id))
      .toEqual(['slow', 'no-operation', 'two-operations', 'with-attributes']);
    expect(replies.map((r) => r.error_tag)).toEqual([null, 'missing-element', 'unknown-element', null]);
    const attrs = replies[3]!;
    expect(attrs.user_id).toBe('fred');
    expect(attrs.raw).toContain('xmlns:ex="http://example.net/content/1.0"');
    expect(attrs.raw).toContain('ex:user-id="fred"');
  });
});
