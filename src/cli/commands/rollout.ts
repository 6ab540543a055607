/** `henb-sw-verify rollout`: a fleet update driven over NETCONF against a running server. */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command, CliContext, ParsedArgs } from '../command.js';
import { bool, formatHostPort, int, parseHostPort, requireStr, str } from '../args.js';
import { CliUsageError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { colors } from '../color.js';
import { ProgressBar } from '../progress.js';
import { importComponent } from '../lazy.js';
import { createLogger } from '../../log/logger.js';
import type { LogLevel } from '../../log/logger.js';
import { ReportWriter, loadReport, summarize, RolloutError } from '../rollout/report.js';
import type { RolloutReport } from '../rollout/report.js';
import { failures, planWaves, runRollout } from '../rollout/engine.js';
import { waitForAbort } from '../../abort.js';
import { readHenbList } from '../rollout/henb-list.js';
import { parseMaxFailures } from '../rollout/threshold.js';
import { HOST_KEY_FORMS, hostKeyFingerprint } from '../../host-key.js';
import { deviceTable, reasonOf, summaryTable } from '../rollout/render.js';
import { renderRolloutHtml } from '../rollout/html.js';

export const PASSWORD_ENV = 'HENB_SW_VERIFY_PASSWORD';

// what the NETCONF side of a rollout offers and needs: defined with the rollout engine (src/cli/rollout), which
// its implementation (rollout/netconf-target.ts) imports without reaching up into the commands
export type { ConnectOptions, RolloutConnection } from '../rollout/engine.js';
import type { ConnectOptions, RolloutConnection } from '../rollout/engine.js';

interface TargetModule {
  connectRolloutTarget(o: ConnectOptions): Promise<RolloutConnection>;
}

export const rolloutCommand: Command = {
  name: 'rollout',
  summary: 'update a fleet over NETCONF in waves, with a canary failure threshold, report and resume',
  usage: '--server HOST:PORT --software URI [--version VERSION] [--sha256 HEX] [-u NAME] [--password-env VAR | --key FILE] ' +
    '[--host-key SHA256:...|KEY] [--henbs FILE] [--first-wave N] [--wave-size N] [--concurrency N] [--max-failures N|P%] ' +
    '[--timeout SECONDS] [--no-self-check] [--report FILE] [--html FILE] [--resume [--retry-failed]] [--log-level LEVEL] [--json]',
  description:
    'Connects to a running henb-sw-verify server (serve or demo) as a NETCONF client, subscribes to the result stream, ' +
    'and sends software-update for each H(e)NB: the list comes from --henbs FILE (one id per line, or a YAML/JSON list) ' +
    'or from the server\'s inventory. Devices go in waves (the first wave is the canary, --first-wave), at most ' +
    '--concurrency at a time; when more than --max-failures devices did not verify, no new device starts and the rollout ' +
    'halts (exit 4). A progress bar shows on a terminal; the end is a summary table (verified / mismatch / refused / ' +
    'failed / timeout). The JSON report is written after every device; --resume continues it without redoing finished ' +
    'devices (started ones are followed to their result, never sent twice). The password comes from the environment ' +
    `variable named by --password-env (default ${PASSWORD_ENV}).`,
  options: {
    server: { type: 'string', value: 'HOST:PORT', help: 'the NETCONF server (serve or demo)' },
    user: { type: 'string', short: 'u', value: 'NAME', help: 'SSH user', default: 'admin' },
    'password-env': { type: 'string', value: 'VAR', help: 'environment variable holding the password', default: PASSWORD_ENV },
    key: { type: 'string', value: 'FILE', help: 'private key file (public-key authentication)' },
    'host-key': { type: 'string', value: 'SHA256:...|KEY', help: "pinned host key: its SHA256 fingerprint or its public key 'ssh-ed25519 AAAA...' (both printed by serve/demo); without it the key is accepted and recorded" },
    software: { type: 'string', value: 'URI', help: 'the image (file:, http: or https:)' },
    version: { type: 'string', value: 'VERSION', help: 'software version label' },
    sha256: { type: 'string', value: 'HEX', help: 'expected SHA-256 of the image (the server refuses another)' },
    henbs: { type: 'string', value: 'FILE', help: 'the H(e)NBs to update (default: the server\'s inventory)' },
    'wave-size': { type: 'string', value: 'N', help: 'devices per wave (default: all in one wave)' },
    'first-wave': { type: 'string', value: 'N', help: 'size of the first (canary) wave (default: --wave-size)' },
    concurrency: { type: 'string', value: 'N', help: 'devices updated at once', default: '4' },
    'max-failures': { type: 'string', value: 'N|P%', help: 'halt when more devices than this did not verify (default: never halt)' },
    timeout: { type: 'string', value: 'SECONDS', help: 'per-device limit', default: '600' },
    'no-self-check': { type: 'boolean', help: 'do not ask the devices for the self-check (step 7\')' },
    report: { type: 'string', value: 'FILE', help: 'JSON report (written after every device)', default: 'rollout-report.json' },
    html: { type: 'string', value: 'FILE', help: 'also write the report as one self-contained HTML page to share (waves, outcomes, reasons, timeline)' },
    resume: { type: 'boolean', help: 'continue the rollout in --report without redoing finished devices' },
    'retry-failed': { type: 'boolean', help: 'with --resume: redo devices that did not verify' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'debug, info, warn, error or silent', default: 'warn' },
    json: { type: 'boolean', help: 'print the final report as JSON on stdout' },
  },
  examples: [
    `${PASSWORD_ENV}=secret henb-sw-verify rollout --server 127.0.0.1:8830 --software file:///srv/img/v2.bin --wave-size 10 --first-wave 2 --max-failures 1`,
    'henb-sw-verify rollout --server 127.0.0.1:8830 --report rollout-report.json --resume',
  ],
  exitCodes: [EXIT.OK, EXIT.FAILED, EXIT.USAGE, EXIT.UNAVAILABLE, EXIT.HALTED, EXIT.INTERRUPTED],
  run: runRolloutCommand,
};

async function runRolloutCommand(args: ParsedArgs, ctx: CliContext): Promise<number> {
  const server = parseHostPort(requireStr(args, 'rollout', 'server'), '--server');
  const reportFile = resolve(ctx.cwd, str(args, 'report') ?? 'rollout-report.json');
  const resume = bool(args, 'resume');
  if (bool(args, 'retry-failed') && !resume) throw new CliUsageError('rollout: --retry-failed needs --resume');
  const credentials = await rolloutCredentials(args, ctx);
  const hostKeyArg = hostKeyOption(args);
  const json = bool(args, 'json');
  const log = createLogger({ level: (str(args, 'log-level') ?? 'warn') as LogLevel, write: (l) => ctx.stderr.write(l) });
  const resumed = resume ? await loadResumedReport(args, reportFile, server) : undefined;
  if (!resumed && str(args, 'software') === undefined) throw new CliUsageError('rollout: --software URI is required (or --resume)');
  const software = resumed?.software ?? softwareOption(args);
  if (resumed) checkResumeThreshold(resumed, args, reportFile);
  const pinned = hostKeyArg ?? resumed?.hostKey;

  const mod = await importComponent<TargetModule>('./rollout/netconf-target.js', 'the NETCONF client (src/netconf/client)', 'connectRolloutTarget');
  const connecting = mod.connectRolloutTarget({
    host: server.host,
    port: server.port,
    username: str(args, 'user') ?? 'admin',
    ...credentials,
    ...(pinned ? { hostKey: pinned } : {}),
    software,
    selfCheck: !bool(args, 'no-self-check'),
    ...(resumed ? { replayFrom: new Date(resumed.startedAt) } : {}),
    log,
    signal: ctx.signal,
  });
  const conn = await Promise.race([connecting, waitForAbort(ctx.signal).then(() => undefined)]).catch((err: unknown) => {
    if (ctx.signal.aborted) return undefined;
    throw err;
  });
  if (conn === undefined) return interruptedWhileConnecting(connecting, resumed, reportFile, server, ctx);
  try {
    if (!pinned) ctx.stderr.write(`henb-sw-verify: warning: host key not pinned; server presented ${conn.fingerprint} (pin it with --host-key)\n`);
    const report = resumed ?? newRolloutReport(args, server, software, await henbsToUpdate(args, ctx, conn));
    if (resumed && str(args, 'max-failures') !== undefined) report.plan.maxFailures = parseMaxFailures(str(args, 'max-failures'), report.devices.length);
    report.hostKey = conn.fingerprint;
    const writer = new ReportWriter(reportFile);
    await writer.save(report);
    const final = await followRollout(report, conn, writer, { args, ctx, json, resume, reportFile });
    return await finishRollout(final, { args, ctx, json, reportFile });
  } finally {
    await conn.close();
  }
}

/** the password (from the environment variable --password-env names) and/or the --key file; one is required */
async function rolloutCredentials(args: ParsedArgs, ctx: CliContext): Promise<{ password?: string; privateKey?: string }> {
  const passwordEnv = str(args, 'password-env') ?? PASSWORD_ENV;
  const password = ctx.env[passwordEnv] || undefined;
  const keyFile = str(args, 'key');
  const privateKey = keyFile ? await readFile(resolve(ctx.cwd, keyFile), 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliUsageError(`rollout: --key: cannot read ${keyFile} (${err.code ?? 'error'})`);
  }) : undefined;
  if (!password && !privateKey) throw new CliUsageError(`rollout: no credentials: set ${passwordEnv} or give --key FILE`);
  return { ...(password ? { password } : {}), ...(privateKey ? { privateKey } : {}) };
}

/** --host-key in either form of the server's key (the fingerprint, or the public key line: both are in serve's ready line) */
export function hostKeyOption(args: ParsedArgs): string | undefined {
  const text = str(args, 'host-key');
  if (text === undefined) return undefined;
  const fingerprint = hostKeyFingerprint(text);
  if (fingerprint === undefined) throw new CliUsageError(`rollout: --host-key expects ${HOST_KEY_FORMS}, got '${text}'`);
  return fingerprint;
}

/** --resume: the report, which must be for this server and (when --software is given) this software */
async function loadResumedReport(args: ParsedArgs, reportFile: string, server: { host: string; port: number }): Promise<RolloutReport> {
  const report = await loadReport(reportFile);
  if (report.server !== formatHostPort(server)) throw new RolloutError('ERR_ROLLOUT_RESUME', `the report ${reportFile} is for server ${report.server}, not ${formatHostPort(server)}`);
  const sw = str(args, 'software');
  if (sw !== undefined && sw !== report.software.uri) throw new RolloutError('ERR_ROLLOUT_RESUME', `the report ${reportFile} rolls out ${report.software.uri}, not ${sw}`);
  return report;
}

/** a new rollout's software: --software (checked), --version, --sha256 (64 hex digits, kept in lower case) */
export function softwareOption(args: ParsedArgs): RolloutReport['software'] {
  const software: RolloutReport['software'] = { uri: checkSoftwareUri(str(args, 'software') as string) };
  if (str(args, 'version')) software.version = str(args, 'version');
  const sha = str(args, 'sha256');
  if (sha !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(sha)) throw new CliUsageError(`rollout: --sha256 expects 64 hex digits, got '${sha}'`);
    software.sha256 = sha.toLowerCase();
  }
  return software;
}

/**
 * A rollout halted by its failure threshold resumes only with a limit its failures do not already exceed, or with
 * --retry-failed: otherwise it would halt again at once (a usage error that says both ways on).
 */
export function checkResumeThreshold(report: RolloutReport, args: ParsedArgs, reportFile: string): void {
  if (report.state !== 'halted' || !(report.haltedBy === 'threshold' || report.haltReason?.includes('--max-failures') === true) || bool(args, 'retry-failed')) return;
  const failed = failures(report);
  const given = str(args, 'max-failures');
  const raised = given !== undefined ? parseMaxFailures(given, report.devices.length) : report.plan.maxFailures;
  if (raised === null || failed <= raised) return;
  throw new CliUsageError(`rollout: ${reportFile} halted because ${failed} device(s) did not verify, more than --max-failures ${report.plan.maxFailures}; ` +
    `resuming with ${given !== undefined ? `--max-failures ${raised}` : 'the same limit'} would halt again at once. ` +
    `Either raise the limit (--resume --max-failures ${failed} or more) or redo the devices that did not verify (--resume --retry-failed)`);
}

/** interrupted before the connection was up: a resumed report is marked interrupted, a new rollout leaves none */
async function interruptedWhileConnecting(connecting: Promise<RolloutConnection>, report: RolloutReport | undefined, reportFile: string, server: { host: string; port: number }, ctx: CliContext): Promise<number> {
  void connecting.then((c) => c.close(), () => undefined);
  if (report) {
    report.state = 'interrupted';
    report.haltReason = `interrupted (${signalName(ctx.signal)}) while connecting`;
    await new ReportWriter(reportFile).save(report);
  }
  ctx.stderr.write(`henb-sw-verify: rollout interrupted (${signalName(ctx.signal)}) while connecting to ${formatHostPort(server)}; ${report ? `report ${reportFile} marked interrupted` : 'no device was started, no report written'}\n`);
  return EXIT.INTERRUPTED;
}

/** the H(e)NBs of a new rollout: --henbs FILE, else the server's inventory (which must not be empty) */
async function henbsToUpdate(args: ParsedArgs, ctx: CliContext, conn: RolloutConnection): Promise<string[]> {
  const henbsFile = str(args, 'henbs');
  const henbs = henbsFile ? await readHenbList(resolve(ctx.cwd, henbsFile)) : await conn.inventory(ctx.signal);
  if (henbs.length === 0) throw new CliUsageError('rollout: the server\'s inventory is empty; give --henbs FILE');
  return henbs;
}

/** a new rollout's report: the plan from the options (waves, concurrency, threshold, timeout), every device pending */
export function newRolloutReport(args: ParsedArgs, server: { host: string; port: number }, software: RolloutReport['software'], henbs: string[], now = new Date().toISOString()): RolloutReport {
  const cmd = 'rollout';
  const waveSize = int(args, cmd, 'wave-size', henbs.length);
  const firstWave = int(args, cmd, 'first-wave', waveSize);
  return {
    format: 'henb-sw-verify-rollout/1',
    server: formatHostPort(server),
    software,
    plan: {
      waveSize,
      firstWave,
      concurrency: int(args, cmd, 'concurrency', 4, { max: 1000 }),
      maxFailures: parseMaxFailures(str(args, 'max-failures'), henbs.length),
      timeoutSec: int(args, cmd, 'timeout', 600, { max: 86400 }),
    },
    startedAt: now,
    updatedAt: now,
    state: 'running',
    devices: planWaves(henbs, waveSize, firstWave),
    summary: summarize([]),
  };
}

interface RolloutRun {
  args: ParsedArgs;
  ctx: CliContext;
  json: boolean;
  resume: boolean;
  reportFile: string;
}

/**
 * Run the rollout, saving the report at every change and showing progress: a bar on a terminal, otherwise one
 * line per started and finished device. A software refusal (the same for every device) leaves no report of a
 * fresh rollout that started nothing.
 */
async function followRollout(report: RolloutReport, conn: RolloutConnection, writer: ReportWriter, run: RolloutRun): Promise<RolloutReport> {
  const { ctx, json } = run;
  const bar = new ProgressBar(ctx.stderr, { total: report.devices.length, label: 'rollout', enabled: ctx.tty && !json });
  // without a terminal (output redirected, CI, journald): one full line per finished device, as it happens
  const lines = !ctx.tty && !json;
  const total = report.devices.length;
  bar.update(report.devices.filter((d) => d.state === 'done').length);
  if (lines) {
    const waves = new Set(report.devices.map((d) => d.wave)).size;
    ctx.stderr.write(`rollout: ${total} device(s) in ${waves} wave(s), ${report.devices.filter((d) => d.state !== 'done').length} to do; report ${run.reportFile}\n`);
  }
  let final: RolloutReport;
  try {
    final = await runRollout(report, conn, {
      onChange: async (r, d) => {
        await writer.save(r);
        // a device that takes minutes is not silence: its start is a line too (job id to follow it on the server)
        if (lines && d.state === 'started') ctx.stderr.write(`rollout: wave ${d.wave} ${d.henbId} started${d.jobId ? ` (job ${d.jobId})` : ''}\n`);
        if (d.state !== 'done') return;
        bar.tick(1, `${d.henbId} ${d.status}`);
        if (lines) {
          const done = r.devices.filter((x) => x.state === 'done').length;
          const why = reasonOf(d);
          ctx.stderr.write(`rollout: [${done}/${total}] wave ${d.wave} ${d.henbId} ${d.status}${why ? `: ${why}` : ''}\n`);
        }
      },
    }, { deviceTimeoutMs: report.plan.timeoutSec * 1000, signal: ctx.signal, retryFailed: bool(run.args, 'retry-failed') });
  } catch (err) {
    bar.done();
    if ((err as { code?: unknown }).code === 'ERR_ROLLOUT_SOFTWARE') {
      // the same refusal for every device: nothing was started; a fresh rollout leaves no report behind
      if (!run.resume && report.devices.every((d) => d.state === 'pending')) await rm(run.reportFile, { force: true });
      else await writer.save(report);
    }
    throw err;
  }
  if (ctx.signal.aborted && final.state === 'interrupted' && final.haltReason === undefined) final.haltReason = `interrupted (${signalName(ctx.signal)})`;
  await writer.save(final);
  bar.done();
  return final;
}

/** --html, then the outcome (table or JSON) and its exit code (130 when a signal interrupted it) */
async function finishRollout(final: RolloutReport, run: Omit<RolloutRun, 'resume'>): Promise<number> {
  const { ctx, json } = run;
  const htmlFile = str(run.args, 'html');
  if (htmlFile !== undefined) {
    const target = resolve(ctx.cwd, htmlFile);
    await writeFile(target, renderRolloutHtml(final), 'utf8');
    if (!json) ctx.stdout.write(`html: ${target}\n`);
  }
  const code = printOutcome(final, run.reportFile, json, ctx);
  return ctx.signal.aborted && final.state === 'interrupted' ? EXIT.INTERRUPTED : code;
}

export function printOutcome(report: RolloutReport, reportFile: string | undefined, json: boolean, ctx: CliContext): number {
  const c = colors(ctx.tty);
  if (json) ctx.stdout.write(JSON.stringify(report) + '\n');
  else {
    ctx.stdout.write(deviceTable(report, c) + '\n' + summaryTable(report, c));
    const where = reportFile ? ` (report: ${reportFile})` : '';
    if (report.state === 'halted' && report.haltedBy === 'threshold') {
      ctx.stdout.write(c.red(`rollout halted ${report.haltReason ?? ''}`) + '\n' + (reportFile ? `report: ${reportFile}\n` : '') +
        'to continue, either:\n' +
        `  --resume --max-failures N   with N >= ${failures(report)} (go on despite these failures)\n` +
        '  --resume --retry-failed     redo the devices that did not verify\n');
    } else if (report.state === 'halted') ctx.stdout.write(c.red(`rollout halted: ${report.haltReason ?? ''}`) + `${where}; resume with --resume\n`);
    else if (report.state === 'interrupted') ctx.stdout.write(c.yellow(`rollout interrupted${report.haltReason ? `: ${report.haltReason}` : ''}`) + `${where}; resume with --resume\n`);
    else ctx.stdout.write(`rollout ${report.state}${where}\n`);
  }
  if (report.state === 'halted') return EXIT.HALTED;
  // interrupted by a lost session (a signal returns 130 before this)
  if (report.state === 'interrupted') return EXIT.UNAVAILABLE;
  return report.summary.verified === report.summary.total ? EXIT.OK : EXIT.FAILED;
}

function signalName(signal: AbortSignal): string {
  const r = signal.reason as unknown;
  return r instanceof Error ? r.message : typeof r === 'string' ? r : 'signal';
}

/**
 * --software must be an absolute file:, http: or https: URI: checked before connecting, so a bad one is one
 * usage error (exit 2) and no device is touched. (What only the server knows, such as its software.file-root,
 * is checked by the server's first reply: ERR_ROLLOUT_SOFTWARE, also exit 2, also before any job starts.)
 */
export function checkSoftwareUri(uri: string): string {
  let url: URL | undefined;
  try {
    url = new URL(uri);
  } catch {
    url = undefined;
  }
  if (url === undefined || !['file:', 'http:', 'https:'].includes(url.protocol)) {
    const hint = /^[./~]|^[^:]*$/.test(uri) ? ` (a local file is file:///absolute/path, e.g. file://${resolve(uri.replace(/^~/, process.env.HOME ?? '~'))})` : '';
    throw new CliUsageError(`rollout: --software expects a file:, http: or https: URI, got '${uri}'${hint}`);
  }
  if (url.protocol === 'file:' && (url.host !== '' && url.host !== 'localhost')) {
    throw new CliUsageError(`rollout: --software ${uri}: a file: URI names a local path (file:///path), not host '${url.host}'`);
  }
  return uri;
}
