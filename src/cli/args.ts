/**
 * Argument parsing with node:util parseArgs, strict: unknown options and missing values are usage
 * errors (exit code 2) that name the option and the command.
 */
import { parseArgs } from 'node:util';
import type { Command, ParsedArgs } from './command.js';
import { CliUsageError } from './errors.js';
import { closest } from '../suggest.js';
import { parseHostPort as parseHostPortText } from '../host-port.js';
import type { HostPort } from '../host-port.js';

export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries({ ...COMMON_OPTIONS, ...cmd.options })) {
    options[name] = { type: spec.type };
    if ('short' in spec && spec.short !== undefined) options[name].short = spec.short;
    if ('multiple' in spec && spec.multiple) options[name].multiple = true;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // an unknown option: name the closest known one ("did you mean --config?")
    const unknown = /^Unknown option '(--?)([^']*)'/.exec(msg);
    const known = Object.keys({ ...COMMON_OPTIONS, ...cmd.options });
    const guess = unknown?.[1] === '--' ? closest(unknown[2] as string, known) : undefined;
    const hint = guess !== undefined ? `; did you mean --${guess}?` : '';
    throw new CliUsageError(`${cmd.name}: ${msg.replace(/\. To specify a positional argument.*$/s, '')}${hint} (see \`henb-sw-verify ${cmd.name} --help\`)`, { cause: err });
  }
  const values = parsed.values as ParsedArgs['values'];
  for (const [name, spec] of Object.entries(cmd.options)) {
    if (values[name] === undefined && spec.default !== undefined) values[name] = spec.default;
  }
  if (values.help === true) return { values, positionals: parsed.positionals };
  const specs = cmd.positionals ?? [];
  const required = specs.filter((p) => p.required).length;
  if (parsed.positionals.length < required) {
    const missing = specs.slice(parsed.positionals.length).filter((p) => p.required).map((p) => p.name);
    throw new CliUsageError(`${cmd.name}: missing ${missing.join(', ')} (see \`henb-sw-verify ${cmd.name} --help\`)`);
  }
  if (parsed.positionals.length > specs.length) {
    throw new CliUsageError(`${cmd.name}: unexpected argument '${parsed.positionals[specs.length]}' (see \`henb-sw-verify ${cmd.name} --help\`)`);
  }
  return { values, positionals: parsed.positionals };
}

/** A string option, or undefined. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function strs(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** A required string option. */
export function requireStr(args: ParsedArgs, cmd: string, name: string): string {
  const v = str(args, name);
  if (v === undefined || v === '') throw new CliUsageError(`${cmd}: --${name} is required (see \`henb-sw-verify ${cmd} --help\`)`);
  return v;
}

/** A positive integer option (with an optional upper bound). */
export function int(args: ParsedArgs, cmd: string, name: string, fallback: number, opts: { min?: number; max?: number } = {}): number {
  const v = str(args, name);
  if (v === undefined) return fallback;
  const min = opts.min ?? 1;
  if (!/^\d+$/.test(v) || Number(v) < min || (opts.max !== undefined && Number(v) > opts.max)) {
    const range = opts.max !== undefined ? `${min}..${opts.max}` : `>= ${min}`;
    throw new CliUsageError(`${cmd}: --${name} expects an integer ${range}, got '${v}'`);
  }
  return Number(v);
}

export { formatHostPort } from '../host-port.js';
export type { HostPort } from '../host-port.js';

/** HOST:PORT or [IPv6]:PORT (src/host-port.ts); port 0 asks the system for a free port. */
export function parseHostPort(text: string, what = '--listen'): HostPort {
  const hp = parseHostPortText(text);
  if (hp === undefined) throw new CliUsageError(`${what} expects HOST:PORT (e.g. 127.0.0.1:8830), got '${text}'`);
  return hp;
}
