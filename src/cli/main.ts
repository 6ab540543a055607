/**
 * The command line: `henb-sw-verify <command> [options]`. Dispatches to one module per command;
 * every error becomes one readable line on stderr with its code, and a documented exit code.
 */
import { readFileSync } from 'node:fs';
import type { CliContext, Command } from './command.js';
import { parseCommandArgs } from './args.js';
import { commandHelp, mainHelp } from './help.js';
import { CliUsageError } from './errors.js';
import { closest } from '../suggest.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { serveCommand } from './commands/serve.js';
import { demoCommand } from './commands/demo.js';
import { pveCommand } from './commands/pve.js';
import { simulateCommand } from './commands/simulate.js';
import { rolloutCommand } from './commands/rollout.js';
import { verifyTokenCommand } from './commands/verify-token.js';
import { rotateKeyCommand } from './commands/rotate-key.js';
import { conformanceCommand } from './commands/conformance.js';
import { auditCommand } from './commands/audit.js';

export const COMMANDS: Command[] = [serveCommand, demoCommand, pveCommand, simulateCommand, rolloutCommand, verifyTokenCommand, rotateKeyCommand, conformanceCommand, auditCommand];

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * An abort signal for SIGINT/SIGTERM: the first one asks the command to stop cleanly; a second one (of either kind)
 * finds no handler and ends the process at once, the way an operator expects a second Ctrl-C to work.
 */
function abortOnSignals(): { signal: AbortSignal; cleanup: () => void } {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    ac.abort(new Error(sig));
  };
  const cleanup = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: ac.signal, cleanup };
}

/** help, version, or the command named by argv[0] with its parsed options */
async function dispatch(argv: string[], ctx: Partial<CliContext>, full: CliContext): Promise<number> {
  const { stdout } = full;
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0]) return await runCli([rest[0], '--help'], ctx);
    stdout.write(mainHelp(COMMANDS, packageVersion()));
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-v') {
    stdout.write(packageVersion() + '\n');
    return EXIT.OK;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    const guess = closest(name, COMMANDS.map((c) => c.name));
    throw new CliUsageError(`unknown command '${name}'${guess !== undefined ? `; did you mean '${guess}'?` : ''}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see \`henb-sw-verify --help\`)`);
  }
  // `<command> --version` prints the version, unless the command has a --version option of its own
  // (rollout: the software's version label)
  if (rest.includes('--version') && !('version' in cmd.options)) {
    stdout.write(packageVersion() + '\n');
    return EXIT.OK;
  }
  const args = parseCommandArgs(cmd, rest);
  if (args.values.help === true) {
    stdout.write(commandHelp(cmd));
    return EXIT.OK;
  }
  return await cmd.run(args, full);
}

/** an error on stderr (and as JSON on stdout with --json); its exit code */
function reportError(err: unknown, jsonMode: boolean, { stdout, stderr }: Pick<CliContext, 'stdout' | 'stderr'>): number {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (jsonMode) {
    stdout.write(JSON.stringify({ ok: false, error: { code: typeof code === 'string' ? code : 'ERR_INTERNAL', message } }) + '\n');
  }
  stderr.write(`henb-sw-verify: error${typeof code === 'string' ? ` ${code}` : ''}: ${message}\n`);
  return exitCodeFor(err);
}

/**
 * Run the CLI. `ctx` overrides the process streams (tests); without a signal, SIGINT/SIGTERM abort the
 * command (servers then stop cleanly and the command returns 0).
 */
export async function runCli(argv: string[], ctx: Partial<CliContext> = {}): Promise<number> {
  const stdout = ctx.stdout ?? process.stdout;
  const stderr = ctx.stderr ?? process.stderr;
  const env = ctx.env ?? process.env;
  const { signal, cleanup } = ctx.signal ? { signal: ctx.signal, cleanup: (): void => {} } : abortOnSignals();
  const jsonMode = argv.includes('--json');
  const tty = ctx.tty ?? (Boolean(stdout.isTTY) && env.NO_COLOR === undefined && !jsonMode);
  const full: CliContext = { stdout, stderr, env, cwd: ctx.cwd ?? process.cwd(), signal, tty };
  if (signal.aborted) {
    // a signal while the program was still loading (bin/henb-sw-verify.js catches it from its first line)
    const sig = signal.reason instanceof Error ? signal.reason.message : 'a signal';
    stderr.write(`henb-sw-verify: interrupted (${sig}) before the command started; nothing was done\n`);
    cleanup();
    return EXIT.INTERRUPTED;
  }
  try {
    return await dispatch(argv, ctx, full);
  } catch (err) {
    return reportError(err, jsonMode, full);
  } finally {
    cleanup();
  }
}
