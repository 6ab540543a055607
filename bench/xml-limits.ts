/**
 * The hostile XML payloads of issue 11 (items 2 and 3) through parseXml, each in its own child process with a
 * 1 GiB heap cap and a 120 s wall-clock cap, so a payload that exhausts the heap or blocks for minutes is
 * reported as such instead of taking the machine with it. Prints per payload: size, outcome (parsed, rejected
 * with the reason, or killed), time and peak RSS; and, as baseline, a well-formed get-config rpc of the same
 * size parsed in the same way (the ratio is what to compare across runs).
 *
 * Run: node --import tsx bench/xml-limits.ts
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NETCONF_BASE_NS, parseXml } from '../src/netconf/xml/index.js';
import { ISSUE_PAYLOADS } from '../test/netconf/xml/fuzz-corpus/payloads.js';

const self = fileURLToPath(import.meta.url);

function baseline(): string {
  return `<rpc message-id="1" xmlns="${NETCONF_BASE_NS}"><edit-config><target><running/></target><config>`
    + '<henb xmlns="urn:x"><id>a</id><name>femto cell</name></henb>'.repeat(7_000) + '</config></edit-config></rpc>';
}

function child(name: string): void {
  const text = name === 'baseline' ? baseline() : ISSUE_PAYLOADS.find((p) => p.name === name)!.build();
  const t0 = performance.now();
  let outcome = 'parsed';
  try {
    parseXml(text);
  } catch (e) {
    outcome = `rejected: ${(e as Error).message}`;
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ name, bytes: text.length, outcome, ms: Math.round(ms * 10) / 10, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
}

if (process.argv[2] === '--child') {
  child(process.argv[3]!);
} else {
  const names = ['baseline', ...ISSUE_PAYLOADS.map((p) => p.name)];
  let base = 0;
  for (const name of names) {
    const r = spawnSync(process.execPath, ['--max-old-space-size=1024', '--import', 'tsx', self, '--child', name], { encoding: 'utf8', timeout: 120_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      const why = r.signal === 'SIGTERM' ? 'killed after 120 s' : /heap limit|out of memory/i.test(r.stderr) ? 'out of heap (1 GiB cap)' : `exit ${r.status ?? r.signal}`;
      console.log(`${name.padEnd(18)} ${why}`);
      continue;
    }
    const x = JSON.parse(line) as { bytes: number; outcome: string; ms: number; maxRssMiB: number };
    if (name === 'baseline') base = x.ms;
    console.log(`${name.padEnd(18)} ${String(x.bytes).padStart(7)} B  ${String(x.ms).padStart(9)} ms (${(x.ms / base).toFixed(1)}x baseline)  peak RSS ${x.maxRssMiB} MiB  ${x.outcome}`);
  }
}
