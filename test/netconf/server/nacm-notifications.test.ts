/**
 * NACM's notification decisions (RFC 8341 3.4.6) are made once per session and event name while /nacm is
 * unchanged (issue 15: every notification of a verified job to every subscriber evaluated the rules again), and
 * made again after /nacm changes; a denial is still counted and told for every event it drops.
 */
import { describe, expect, it } from 'vitest';
import { Nacm, NACM_NS, markRecoverySession } from '../../../src/netconf/server/index.js';
import type { NacmDenial, ServerSessionHandle, YangModuleInfo } from '../../../src/netconf/server/index.js';
import { el, leaf } from '../../../src/netconf/xml/index.js';
import type { XmlElement } from '../../../src/netconf/xml/index.js';

const T = 'urn:test:nacm-notifications';
const LATE = 'urn:test:nacm-notifications-late';
const N = NACM_NS;

function nacmConfig(...rules: XmlElement[]): XmlElement[] {
  return [el(N, 'nacm',
    el(N, 'rule-list', leaf(N, 'name', 'admin'), leaf(N, 'group', 'admin'),
      el(N, 'rule', leaf(N, 'name', 'permit-all'), leaf(N, 'module-name', '*'), leaf(N, 'access-operations', '*'), leaf(N, 'action', 'permit'))),
    el(N, 'rule-list', leaf(N, 'name', 'testers'), leaf(N, 'group', 'testers'), ...rules))];
}

const denyNotification = (module: string, name: string): XmlElement => el(N, 'rule', leaf(N, 'name', `no-${name}`), leaf(N, 'module-name', module),
  leaf(N, 'notification-name', name), leaf(N, 'access-operations', 'read'), leaf(N, 'action', 'deny'));

function moduleInfo(name: string, namespace: string): YangModuleInfo {
  return { name, revision: '2026-12-06', namespace, prefix: name, text: '' };
}

function session(id: number, username: string): ServerSessionHandle {
  return {
    id, username, transport: 'netconf-ssh', sourceHost: '127.0.0.1', loginTime: new Date(0), base11: true,
    counters: { inRpcs: 0, inBadRpcs: 0, outRpcErrors: 0, outNotifications: 0 },
    sendNotification: () => undefined, sendNotificationText: () => undefined,
    signal: new AbortController().signal, attachments: new Map(),
  };
}

/** a Nacm over `modules` whose external groups (testers for every user) are counted: one count per rule evaluation */
function counted(modules: YangModuleInfo[], top: XmlElement[]): { nacm: Nacm; evaluations: () => number; denials: NacmDenial[] } {
  let n = 0;
  const denials: NacmDenial[] = [];
  const nacm = new Nacm(top, () => modules, undefined, {
    externalGroups: () => { n++; return ['testers']; },
    onDenial: (d) => denials.push(d),
  });
  return { nacm, evaluations: () => n, denials };
}

const tick = el(T, 'tick', leaf(T, 'n', 1));
const tock = el(T, 'tock', leaf(T, 'n', 2));

describe('NACM notification decisions, per session and event name', () => {
  it('are made once per session and event name; every dropped event is still counted and told', () => {
    const { nacm, evaluations, denials } = counted([moduleInfo('nt', T)], nacmConfig(denyNotification('nt', 'tick')));
    const s = session(1, 'tester');
    for (let i = 0; i < 5; i++) expect(nacm.permitsNotification(tick, s)).toBe(false);
    for (let i = 0; i < 3; i++) expect(nacm.permitsNotification(tock, s)).toBe(true);
    expect(evaluations()).toBe(2);
    expect(nacm.counters.deniedNotifications).toBe(5);
    expect(denials).toEqual(Array.from({ length: 5 }, () => ({ kind: 'notification', username: 'tester', sessionId: 1, what: `${T} tick` })));
    // another session of the same user decides for itself, once
    const other = session(2, 'tester');
    expect(nacm.permitsNotification(tick, other)).toBe(false);
    expect(nacm.permitsNotification(tick, other)).toBe(false);
    expect(evaluations()).toBe(3);
    // the recovery session is never checked
    const recovery = session(3, 'tester');
    markRecoverySession(recovery);
    expect(nacm.permitsNotification(tick, recovery)).toBe(true);
    expect(evaluations()).toBe(3);
  });

  it('are made again after /nacm changes (update)', () => {
    const { nacm, evaluations } = counted([moduleInfo('nt', T)], nacmConfig(denyNotification('nt', 'tick')));
    const s = session(1, 'tester');
    expect(nacm.permitsNotification(tick, s)).toBe(false);
    expect(nacm.permitsNotification(tock, s)).toBe(true);
    nacm.update(nacmConfig(denyNotification('nt', 'tock')));
    expect(nacm.permitsNotification(tick, s)).toBe(true);
    expect(nacm.permitsNotification(tock, s)).toBe(false);
    expect(nacm.permitsNotification(tick, s)).toBe(true);
    expect(nacm.permitsNotification(tock, s)).toBe(false);
    expect(evaluations()).toBe(4);
    expect(nacm.counters.deniedNotifications).toBe(3);
  });

  it('are not kept for a namespace of no module yet: a rule naming the module applies once it is added', () => {
    const modules = [moduleInfo('nt', T)];
    const { nacm, evaluations } = counted(modules, nacmConfig(denyNotification('late', 'ping')));
    const s = session(1, 'tester');
    const ping = el(LATE, 'ping');
    expect(nacm.permitsNotification(ping, s)).toBe(true);
    expect(nacm.permitsNotification(ping, s)).toBe(true);
    expect(evaluations()).toBe(2);
    modules.push(moduleInfo('late', LATE));
    expect(nacm.permitsNotification(ping, s)).toBe(false);
    expect(nacm.permitsNotification(ping, s)).toBe(false);
    // decided once the module is known, and kept
    expect(evaluations()).toBe(3);
  });
});
