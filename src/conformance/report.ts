/** The report's machine forms: JSON (one document) and JUnit XML (one testcase per requirement). */
import type { ConformanceReport } from './types.js';

/** the --json document: the report, exchanges included */
export function reportJson(r: ConformanceReport): string {
  return JSON.stringify(r, null, 2) + "\n";
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    // XML 1.0 cannot carry these control characters at all
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?');
}

/**
 * JUnit XML as CI tools read it (testsuite/testcase/failure/skipped): a SHOULD that fails is a failure too
 * (its type says SHOULD); the exchanges of a failure are its body.
 */
export function reportJunit(r: ConformanceReport): string {
  const failures = r.results.filter((x) => x.outcome === 'fail').length;
  const skipped = r.results.filter((x) => x.outcome === 'skip').length;
  const seconds = ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(3);
  const cases = r.results.map((x) => {
    const head = `    <testcase classname="henb-sw-verify.conformance" name="${esc(`${x.id} ${x.title}`)}">`;
    if (x.outcome === 'pass' && x.unpinned === true) return `${head}\n      <system-out>${esc(x.detail)}</system-out>\n    </testcase>`;
    if (x.outcome === 'pass') return `${head}</testcase>`;
    if (x.outcome === 'skip') return `${head}\n      <skipped message="${esc(x.detail)}"/>\n    </testcase>`;
    const body = [`expected: ${x.expected ?? ''}`, ...x.exchanges.flatMap((e) => [`sent: ${e.sent}`, `received: ${e.received}`])].join('\n');
    return `${head}\n      <failure type="${x.level}" message="${esc(x.detail)}">${esc(body)}</failure>\n    </testcase>`;
  });
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="henb-sw-verify conformance" tests="${r.results.length}" failures="${failures}" skipped="${skipped}" time="${seconds}">\n` +
    `  <testsuite name="${esc(`conformance ${r.device}`)}" tests="${r.results.length}" failures="${failures}" skipped="${skipped}" timestamp="${esc(r.startedAt)}" time="${seconds}">\n` +
    cases.join('\n') + '\n  </testsuite>\n</testsuites>\n';
}

/** the transcript file: every exchange in order, XML as it went over the wire */
export function transcriptText(exchanges: ReadonlyArray<{ sent: string; received: string }>): string {
  return exchanges.map((e) => (e.sent !== '' ? `>>> ${e.sent}\n<<< ${e.received}\n` : `<<< ${e.received}\n`)).join('\n');
}
