/**
 * The operations the server core itself provides (RFC 6241):
 * - close-session (section 7.8): reply <ok/>, then end the session gracefully;
 * - kill-session (section 7.9): end another session; killing one's own session is invalid-value
 *   (use close-session); an unknown session-id is invalid-value. Registered only when no operation
 *   module has registered kill-session already (the locking module does, to release locks).
 */
import { NetconfError, info } from '../rpc-error.js';
import { NETCONF_BASE_NS } from '../xml/types.js';
import { childText } from '../xml/build.js';
import type { HostRegistry } from './host-registry.js';
import type { CoreOperationContext } from './dispatch.js';
import type { OperationContext } from './operations.js';

export function registerBaseOperations(reg: HostRegistry): void {
  const N = NETCONF_BASE_NS;
  if (!reg.hasOperation(N, 'close-session')) {
    reg.addOperation(N, 'close-session', async (_op, ctx: OperationContext) => {
      (ctx as CoreOperationContext).closeAfterReply();
      return 'ok';
    });
  }
  if (!reg.hasOperation(N, 'kill-session')) {
    reg.addOperation(N, 'kill-session', async (op, ctx) => {
      const raw = childText(op, N, 'session-id')?.trim();
      if (raw === undefined) {
        throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: 'session-id is required', info: [info.badElement('session-id')] });
      }
      const id = /^[1-9][0-9]{0,9}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(id)) {
        throw new NetconfError({ type: 'protocol', tag: 'invalid-value', message: 'session-id must be a positive integer', info: [info.badElement('session-id')] });
      }
      if (id === ctx.session.id) {
        throw new NetconfError({ type: 'protocol', tag: 'invalid-value', message: 'a session cannot kill itself; use close-session', info: [info.badElement('session-id')] });
      }
      if (!ctx.server.sessions().some((s) => s.id === id)) {
        throw new NetconfError({ type: 'protocol', tag: 'invalid-value', message: `no session ${id}`, info: [info.badElement('session-id')] });
      }
      await ctx.server.killSession(id, `killed by session ${ctx.session.id}`);
      return 'ok';
    });
  }
}
