/**
 * The operations the server core itself provides (RFC 6241):
 * - close-session (section 7.8): reply <ok/>, then end the session gracefully;
 * - kill-session (section 7.9): end another session; killing one's own session is invalid-value
 *   (use close-session); an unknown session-id is invalid-value. Registered here only when no operation
 *   module has registered kill-session already; the standard operations register the same handler
 *   (createKillSession) with a hook that releases the victim's locks first.
 */
import { NetconfError, info } from '../rpc-error.js';
import { NETCONF_BASE_NS } from '../xml/index.js';
import { childText } from '../xml/index.js';
import type { HostRegistry } from './host-registry.js';
import type { CoreOperationContext } from './dispatch.js';
import type { OperationContext, OperationHandler } from './operations.js';
import { checkParameters } from './params.js';

export function registerBaseOperations(reg: HostRegistry): void {
  const N = NETCONF_BASE_NS;
  if (!reg.hasOperation(N, 'close-session')) {
    reg.addOperation(N, 'close-session', async (_op, ctx: OperationContext): Promise<'ok'> => {
      (ctx as CoreOperationContext).closeAfterReply();
      return 'ok';
    });
  }
  if (!reg.hasOperation(N, 'kill-session')) reg.addOperation(N, 'kill-session', createKillSession());
}

/**
 * kill-session (RFC 6241 section 7.9), the one implementation: `beforeKill` runs once the request is
 * valid and before the session ends (the locking module releases the victim's locks there).
 * session-id: a positive integer with no leading zeros (missing-element when absent, invalid-value when
 * malformed, one's own, or unknown); any other parameter is refused (checkParameters).
 */
export function createKillSession(beforeKill?: (id: number) => void): OperationHandler {
  const N = NETCONF_BASE_NS;
  return async (op, ctx) => {
    checkParameters(op, ['session-id']);
    const raw = childText(op, N, 'session-id')?.trim();
    if (raw === undefined) {
      throw new NetconfError({ type: 'protocol', tag: 'missing-element', message: '<session-id> is required', info: [info.badElement('session-id')] });
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
    beforeKill?.(id);
    await ctx.server.killSession(id, `killed by session ${ctx.session.id}`);
    return 'ok';
  };
}
