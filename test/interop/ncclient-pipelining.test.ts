/**
 * Interop: python3-ncclient pipelines one slow request and three messages our server rejects or
 * answers at once. RFC 6241 section 4.5: the replies come in the order the requests were received, the
 * rejections included; section 4.2: the attributes of <rpc> come back with their namespace
 * declarations. A missing /usr/bin/python3 or ncclient fails the test.
 */
import { describe, expect, it } from 'vitest';
import { useTestServers } from '../helpers/netconf-server.js';
import { runNcclient } from './helpers/ncclient.js';

const T = 'urn:example:pipelining';

interface Reply { message_id: string | null; user_id: string | null; error_tag: string | null; raw: string }
interface Step { step: string; replies?: Reply[]; slow_ok?: boolean; [k: string]: unknown }

describe('ncclient pipelines behind a slow request', () => {
  const servers = useTestServers('hsv-ncclient-pipe-');

  it('gets every reply in request order, rejections included, with the rpc attributes echoed', async () => {
    const { server } = servers.start();
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

    const { steps, code, stderr } = await runNcclient<Step>('ncclient_pipelining.py', port, [T]).finally(() => clearInterval(poll));
    expect(steps.get('exception'), stderr).toBeUndefined();
    expect(code, stderr).toBe(0);
    const out = steps.get('replies')!;
    expect(out.slow_ok).toBe(true);
    const replies = out.replies!;
    expect(replies.map((r) => r.message_id?.startsWith('urn:uuid:') ? 'slow' : r.message_id))
      .toEqual(['slow', 'no-operation', 'two-operations', 'with-attributes']);
    expect(replies.map((r) => r.error_tag)).toEqual([null, 'missing-element', 'unknown-element', null]);
    const attrs = replies[3]!;
    expect(attrs.user_id).toBe('fred');
    expect(attrs.raw).toContain('xmlns:ex="http://example.net/content/1.0"');
    expect(attrs.raw).toContain('ex:user-id="fred"');
  });
});
