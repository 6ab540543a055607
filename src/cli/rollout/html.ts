/**
 * `rollout --html FILE`: the rollout report as one self-contained HTML page to share (no script, no stylesheet,
 * image or font from anywhere: it opens offline and fetches nothing). It shows the counts by outcome, a timeline
 * of results over time (inline SVG), and each wave's devices with their outcome, full reason, job id and the
 * result token's status. The token's claims are decoded for display only; `henb-sw-verify verify-token` checks them.
 */
import { RESULT_STATUSES, STATUS_LABELS } from './report.js';
import type { DeviceRecord, ResultStatus, RolloutReport } from './report.js';
import { namesComponent } from './render.js';

const COLORS: Record<ResultStatus | 'pending', string> = {
  verified: '#1a7f37', mismatch: '#cf222e', refused: '#8250df', rejected: '#9a6700', failed: '#d1242f', timeout: '#bc4c00', pending: '#6e7781',
};

function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** the token's ear_status and expiry, decoded (not verified) for display */
export function tokenStatus(token: string | undefined): { text: string; earStatus?: string } {
  if (token === undefined) return { text: 'no token' };
  const payload = token.split('.')[1];
  try {
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { ear_status?: unknown; exp?: unknown; iss?: unknown };
    const ear = typeof claims.ear_status === 'string' ? claims.ear_status : undefined;
    const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString().replace('.000Z', 'Z') : undefined;
    return { text: `ear_status ${ear ?? '?'}${exp !== undefined ? `, expires ${exp}` : ''}${typeof claims.iss === 'string' ? `, iss ${claims.iss}` : ''}`, ...(ear !== undefined ? { earStatus: ear } : {}) };
  } catch {
    return { text: 'token present, not a JWS' };
  }
}

function outcomeOf(d: DeviceRecord): ResultStatus | 'pending' {
  return d.state === 'done' && d.status !== undefined ? d.status : 'pending';
}

function labelOf(o: ResultStatus | 'pending'): string {
  return o === 'pending' ? 'pending (not finished)' : STATUS_LABELS[o];
}

/** results over time: one dot per finished device at (finish time, how many had finished), coloured by outcome */
function timeline(report: RolloutReport): string {
  const done = report.devices.filter((d) => d.state === 'done' && d.finishedAt !== undefined)
    .map((d) => ({ d, t: Date.parse(d.finishedAt as string) })).filter((x) => Number.isFinite(x.t)).sort((a, b) => a.t - b.t);
  const W = 720;
  const H = 240;
  const L = 48;
  const B = 32;
  if (done.length === 0) return '<p class="muted">No device has finished yet: no timeline.</p>';
  const t0 = Math.min(Date.parse(report.startedAt), done[0]!.t);
  const t1 = Math.max(done[done.length - 1]!.t, t0 + 1000);
  const span = t1 - t0;
  const total = Math.max(report.devices.length, 1);
  const x = (t: number): number => L + ((t - t0) / span) * (W - L - 12);
  const y = (n: number): number => H - B - (n / total) * (H - B - 12);
  const parts: string[] = [];
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - 8}" y2="${H - B}" stroke="#57606a"/>`, `<line x1="${L}" y1="8" x2="${L}" y2="${H - B}" stroke="#57606a"/>`);
  for (const f of [0, 0.5, 1]) {
    const n = Math.round(total * f);
    parts.push(`<text x="${L - 6}" y="${y(n) + 4}" text-anchor="end" class="axis">${n}</text>`);
    const secs = Math.round((span * f) / 1000);
    parts.push(`<text x="${x(t0 + span * f)}" y="${H - B + 16}" text-anchor="middle" class="axis">+${secs} s</text>`);
  }
  parts.push(`<text x="${(L + W) / 2}" y="${H - 2}" text-anchor="middle" class="axis">time since the rollout started</text>`);
  let path = `M ${x(t0)} ${y(0)}`;
  done.forEach((p, i) => { path += ` H ${x(p.t).toFixed(1)} V ${y(i + 1).toFixed(1)}`; });
  parts.push(`<path d="${path}" fill="none" stroke="#8c959f" stroke-width="1.5"/>`);
  done.forEach((p, i) => {
    const o = outcomeOf(p.d);
    parts.push(`<circle cx="${x(p.t).toFixed(1)}" cy="${y(i + 1).toFixed(1)}" r="5" fill="${COLORS[o]}" data-outcome="${o}"><title>${esc(p.d.henbId)}: ${esc(labelOf(o))} at ${esc(p.d.finishedAt)}</title></circle>`);
  });
  return `<svg role="img" aria-label="results over time" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:24px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%}.wave table{table-layout:fixed}.wave td:first-child{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}.mono{font-family:ui-monospace,monospace;font-size:12px;overflow-wrap:anywhere}
.reason{max-width:520px;overflow-wrap:anywhere}.badge{color:#fff;border-radius:10px;padding:1px 8px;font-size:12px}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}.muted{color:#57606a}
.meta td:first-child{color:#57606a;width:160px}.counts{width:auto;min-width:320px}svg .axis{font-size:11px;fill:#57606a}
.state-halted,.state-interrupted{color:#cf222e;font-weight:600}
`;

/** the outcome counts, one row per outcome seen (verified always) */
function countRows(report: RolloutReport): string {
  const counts = new Map<ResultStatus | 'pending', number>();
  for (const d of report.devices) counts.set(outcomeOf(d), (counts.get(outcomeOf(d)) ?? 0) + 1);
  const order: Array<ResultStatus | 'pending'> = [...RESULT_STATUSES, 'pending'];
  return order.filter((o) => (counts.get(o) ?? 0) > 0 || o === 'verified')
    .map((o) => `<tr><td><span class="dot" style="background:${COLORS[o]}"></span>${esc(labelOf(o))}</td><td class="num" data-count="${o}">${counts.get(o) ?? 0}</td></tr>`).join('');
}

/** one device's row: outcome, full reason, token status, job, when */
function deviceRow(d: DeviceRecord): string {
  const o = outcomeOf(d);
  const tok = tokenStatus(d.token);
  return `<tr data-henb="${esc(d.henbId)}"><td>${esc(d.henbId)}</td>` +
    `<td><span class="badge" style="background:${COLORS[o]}">${esc(o)}</span></td>` +
    `<td class="reason">${d.reason !== undefined ? esc(d.reason) : ''}${d.differingComponent !== undefined && !namesComponent(d.reason, d.differingComponent) ? ` <em>(component ${esc(d.differingComponent)})</em>` : ''}</td>` +
    `<td>${esc(tok.text)}</td><td class="mono">${esc(d.jobId ?? '')}</td><td class="mono">${esc(d.finishedAt ?? d.startedAt ?? '')}</td></tr>`;
}

/** one section per wave (the first is the canary when there are several) */
function waveSections(report: RolloutReport, waves: number[]): string {
  return waves.map((w) => {
    const ds = report.devices.filter((d) => d.wave === w);
    return `<section class="wave"><h3>Wave ${w}${w === waves[0] && waves.length > 1 ? ' (canary)' : ''}: ${ds.length} device(s)</h3>` +
      '<table><colgroup><col style="width:14%"><col style="width:10%"><col style="width:34%"><col style="width:20%"><col style="width:12%"><col style="width:10%"></colgroup>' +
      '<thead><tr><th>H(e)NB</th><th>outcome</th><th>reason</th><th>result token</th><th>job</th><th>finished</th></tr></thead>' +
      `<tbody>${ds.map(deviceRow).join('')}</tbody></table></section>`;
  }).join('');
}

export function renderRolloutHtml(report: RolloutReport): string {
  const sw = report.software;
  const waves = [...new Set(report.devices.map((d) => d.wave))].sort((a, b) => a - b);
  const state = report.state === 'halted' ? `halted: ${report.haltReason ?? ''}` : report.state === 'interrupted' ? `interrupted${report.haltReason ? `: ${report.haltReason}` : ''}` : report.state;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rollout report: ${esc(sw.version ?? sw.uri)}</title>
<style>${STYLE}</style></head><body>
<h1>Rollout report</h1>
<p class="muted">henb-sw-verify rollout, written ${esc(report.updatedAt)}</p>
<table class="meta">
<tr><td>software</td><td class="mono">${esc(sw.uri)}${sw.version !== undefined ? ` (version ${esc(sw.version)})` : ''}${sw.sha256 !== undefined ? `<br>sha256 ${esc(sw.sha256)}` : ''}</td></tr>
<tr><td>server</td><td class="mono">${esc(report.server)}${report.hostKey !== undefined ? ` (host key ${esc(report.hostKey)})` : ''}</td></tr>
<tr><td>state</td><td class="state-${esc(report.state)}" id="state">${esc(state)}</td></tr>
<tr><td>started</td><td>${esc(report.startedAt)}</td></tr>
<tr><td>plan</td><td>${report.devices.length} device(s) in ${waves.length} wave(s); first wave ${report.plan.firstWave}, then ${report.plan.waveSize} per wave; ${report.plan.concurrency} at a time; ${report.plan.maxFailures === null ? 'no failure threshold' : `halts when more than ${report.plan.maxFailures} device(s) did not verify`}</td></tr>
</table>
<h2>Outcomes</h2>
<table class="counts"><tbody>${countRows(report)}<tr><th>total</th><th class="num" data-count="total">${report.devices.length}</th></tr></tbody></table>
<h2>Results over time</h2>
${timeline(report)}
<h2>Waves</h2>
${waveSections(report, waves)}
</body></html>
`;
}
