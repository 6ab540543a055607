/**
 * Ad-hoc (issue 15, branch closegrace): CPU of an orderly NETCONF client close, the client's transport glue
 * (src/netconf/client/connect.ts sessionOver + clientOf) of this tree (B) against that of another revision (A, default
 * integ), in one process, alternating A B B A.
 *   node --expose-gc --import tsx bench/_client-close.ts [N=2000] [--against REV]
 * Each round opens N sessions over in-memory streams (ServerSession, ClientSession: not measured), then measures the
 * CPU (process.cpuUsage, user + system) of closing them one after another, the transport's 'close' fired by hand where
 * SSH's connection 'close' comes:
 *   client: client.close() (close-session, reply, end), then the transport's close;
 *   server: the server session closes (as at kill-session or shutdown), then the transport's close.
 * A's connect.ts is written beside this tree's (src/netconf/client/_connect-against.ts, removed at exit) so that both
 * share every other module.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ServerSession, duplexPair, BASE_10, BASE_11 } from '../src/netconf/session/index.js';
import { el } from '../src/netconf/xml/index.js';
import * as mine from '../src/netconf/client/connect.js';

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 2000);
const rev = args.includes('--against') ? args[args.indexOf('--against') + 1]! : 'integ';
const root = fileURLToPath(new URL('..', import.meta.url));
const againstFile = fileURLToPath(new URL('../src/netconf/client/_connect-against.ts', import.meta.url));
writeFileSync(againstFile, execFileSync('git', ['show', `${rev}:src/netconf/client/connect.ts`], { cwd: root }));
process.on('exit', () => rmSync(againstFile, { force: true }));
const against = (await import(againstFile)) as typeof mine;

const NS = 'urn:ietf:params:xml:ns:netconf:base:1.0';
type Glue = Pick<typeof mine, 'sessionOver' | 'clientOf'>;

async function open(g: Glue) {
  const [a, b] = duplexPair();
  const srv = new ServerSession(a, { sessionId: 1, capabilities: [BASE_10, BASE_11], handleRpc: () => [el(NS, 'ok')] });
  const onClose: Array<() => void> = [];
  const session = await g.sessionOver(b, {}, { name: 'SSH', abort: () => b.destroy(), onClose: (l) => onClose.push(l) });
  const client = g.clientOf(session, () => b.end());
  return { srv, session, client, closeTransport: () => { for (const l of onClose) l(); } };
}

async function round(g: Glue, how: 'client' | 'server'): Promise<number> {
  const all = [];
  for (let i = 0; i < n; i++) all.push(await open(g));
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = process.cpuUsage();
  for (const s of all) {
    if (how === 'client') await s.client.close();
    else {
      await s.srv.close();
      await s.session.conn.whenClosed();
    }
    s.closeTransport();
  }
  const cpu = process.cpuUsage(t0);
  return (cpu.user + cpu.system) / n; // µs per close
}

const glue: Record<'A' | 'B', Glue> = { A: against, B: mine };
for (const how of ['client', 'server'] as const) {
  await round(mine, how); // warm-up
  await round(against, how);
  const got: Record<'A' | 'B', number[]> = { A: [], B: [] };
  for (const which of ['A', 'B', 'B', 'A', 'A', 'B', 'B', 'A'] as const) got[which].push(await round(glue[which], how));
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const [a, b] = [mean(got.A), mean(got.B)];
  console.log(`${how} close, N=${n}: A (${rev}) ${got.A.map((x) => x.toFixed(1)).join(' ')} µs/close, mean ${a.toFixed(1)}; ` +
    `B (this tree) ${got.B.map((x) => x.toFixed(1)).join(' ')}, mean ${b.toFixed(1)}; B/A ${(b / a).toFixed(3)}`);
}
