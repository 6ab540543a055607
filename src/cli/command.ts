/**
 * The shape of one sub-command: its options (node:util parseArgs), its help text, and its run function.
 * Help is generated from this data, so `<command> --help` and the parser never disagree.
 */
import type { Writable } from './io.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** placeholder in help, e.g. HOST:PORT */
  value?: string;
  help: string;
  default?: string | boolean;
}

export interface PositionalSpec {
  name: string;
  help: string;
  required: boolean;
}

export interface CliContext {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** aborted on SIGINT/SIGTERM (the process entry wires it; tests abort it themselves) */
  readonly signal: AbortSignal;
  /** colour and progress bars: only when stdout is a terminal, NO_COLOR unset and not --json */
  readonly tty: boolean;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** one line after the command name, e.g. `--listen HOST:PORT --data-dir DIR [--config FILE]` */
  usage: string;
  description: string;
  options: Record<string, OptionSpec>;
  positionals?: PositionalSpec[];
  examples?: string[];
  /** the exit codes this command can end with, shown by `<command> --help` (default: all but 4, the rollout halt) */
  exitCodes?: readonly number[];
  run(args: ParsedArgs, ctx: CliContext): Promise<number>;
}
