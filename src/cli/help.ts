/** Help text generated from the command specs. */
import type { Command } from './command.js';
import { COMMON_OPTIONS } from './args.js';
import { EXIT, EXIT_CODE_HELP } from './exit-codes.js';

export const PROGRAM = 'henb-sw-verify';

export function mainHelp(commands: Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = [
    `${PROGRAM} ${version}: verifiable femtocell (H(e)NB) software updates over NETCONF/YANG`,
    '',
    `Usage: ${PROGRAM} <command> [options]`,
    `       ${PROGRAM} <command> --help`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help',
    '  --version      print the version (also after a command: `serve --version`)',
    '',
    exitCodesHelp(),
    '',
    'Environment:',
    '  HENB_SW_VERIFY_ADMIN_PASSWORD  password of the user admin (serve, demo)',
    '  HENB_SW_VERIFY_PASSWORD        password rollout logs in with (instead of --password-env)',
    '  NO_COLOR                       no colour even on a terminal',
    '',
    'Docs: README.md, docs/operator-guide.md, docs/errors.md',
  ];
  return lines.join('\n') + '\n';
}

export function exitCodesHelp(only?: readonly number[]): string {
  const shown = EXIT_CODE_HELP.filter(([code]) => only === undefined || only.includes(code));
  const w = Math.max(...shown.map(([code]) => String(code).length));
  return ['Exit codes:', ...shown.map(([code, text]) => `  ${String(code).padStart(w)}  ${text}`)].join('\n');
}

/** the exit codes of a command that does not list its own: every code but the rollout's threshold halt */
export const DEFAULT_EXIT_CODES: readonly number[] = EXIT_CODE_HELP.map(([code]) => code).filter((code) => code !== EXIT.HALTED);

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: ${PROGRAM} ${cmd.name} ${cmd.usage}`.trimEnd(), '', cmd.summary, ''];
  if (cmd.description) lines.push(...wrap(cmd.description, 100), '');
  if (cmd.positionals?.length) {
    lines.push('Arguments:');
    const w = Math.max(...cmd.positionals.map((p) => p.name.length));
    for (const p of cmd.positionals) lines.push(`  ${p.name.padEnd(w)}  ${p.help}`);
    lines.push('');
  }
  const opts = Object.entries({ ...cmd.options, ...COMMON_OPTIONS }).map(([name, spec]) => {
    const short = 'short' in spec && spec.short ? `-${spec.short}, ` : '    ';
    const value = 'value' in spec && spec.value ? ` ${spec.value}` : '';
    const multi = 'multiple' in spec && spec.multiple ? ' (repeatable)' : '';
    const def = 'default' in spec && spec.default !== undefined && spec.default !== false ? ` (default: ${String(spec.default)})` : '';
    return [`  ${short}--${name}${value}`, `${spec.help}${multi}${def}`] as const;
  });
  const w = Math.max(...opts.map(([l]) => l.length));
  lines.push('Options:', ...opts.map(([l, r]) => `${l.padEnd(w)}  ${r}`), '');
  if (cmd.examples?.length) lines.push('Examples:', ...cmd.examples.map((e) => `  ${e}`), '');
  lines.push(exitCodesHelp(cmd.exitCodes ?? DEFAULT_EXIT_CODES));
  return lines.join('\n') + '\n';
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}
