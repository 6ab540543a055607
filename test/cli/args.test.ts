import { describe, expect, it } from 'vitest';
import { parseCommandArgs, parseHostPort, int } from '../../src/cli/args.js';
import { parseFleet, fleetNames } from '../../src/cli/fleet-spec.js';
import { parseMaxFailures } from '../../src/cli/rollout/threshold.js';
import { parseHenbList } from '../../src/cli/rollout/henb-list.js';
import type { Command } from '../../src/cli/command.js';

const cmd: Command = {
  name: 't',
  summary: 's',
  usage: '',
  description: '',
  options: { n: { type: 'string', help: 'n', default: '4' }, flag: { type: 'boolean', help: 'f' }, many: { type: 'string', multiple: true, help: 'm' } },
  positionals: [{ name: 'X', help: 'x', required: true }],
  run: async () => 0,
};

describe('argument parsing', () => {
  it('parses options, defaults, repeatable options and positionals', () => {
    const a = parseCommandArgs(cmd, ['x1', '--flag', '--many', 'a', '--many', 'b']);
    expect(a.positionals).toEqual(['x1']);
    expect(a.values).toMatchObject({ flag: true, many: ['a', 'b'], n: '4' });
  });
  it('usage errors name the option and the command', () => {
    expect(() => parseCommandArgs(cmd, ['x', '--nope'])).toThrow(expect.objectContaining({ code: 'ERR_CLI_USAGE', message: expect.stringContaining("t: Unknown option '--nope'") }));
    expect(() => parseCommandArgs(cmd, [])).toThrow(/t: missing X/);
    expect(() => parseCommandArgs(cmd, ['a', 'b'])).toThrow(/unexpected argument 'b'/);
    expect(() => int(parseCommandArgs(cmd, ['x', '--n', 'ten']), 't', 'n', 1)).toThrow(/--n expects an integer >= 1, got 'ten'/);
  });
  it('--help skips positional checks', () => {
    expect(parseCommandArgs(cmd, ['--help']).values.help).toBe(true);
  });
  it('HOST:PORT', () => {
    expect(parseHostPort('127.0.0.1:8830')).toEqual({ host: '127.0.0.1', port: 8830 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseHostPort('localhost')).toThrow(/expects HOST:PORT/);
    expect(() => parseHostPort('a:70000')).toThrow(/expects HOST:PORT/);
  });
});

describe('fleet, thresholds, henb lists', () => {
  it('--fleet', () => {
    const f = parseFleet('healthy=2,compromised=1');
    expect(fleetNames(f).map((d) => d.id)).toEqual(['healthy-1', 'healthy-2', 'compromised-1']);
    expect(() => parseFleet('happy=1')).toThrow(/PROFILE one of healthy, compromised/);
    expect(() => parseFleet('healthy=0')).toThrow(/at least one device/);
    expect(() => parseFleet('healthy=1,healthy=2')).toThrow(/twice/);
  });
  it('--fleet PROFILE@tpm: a trust root per entry, TPM devices named <profile>-tpm-<n>', () => {
    const f = parseFleet('healthy=1,healthy@tpm=2,bad-install@software-key=1');
    expect(f).toEqual([{ profile: 'healthy', count: 1 }, { profile: 'healthy', count: 2, trustRoot: 'tpm' }, { profile: 'bad-install', count: 1, trustRoot: 'software-key' }]);
    expect(fleetNames(f).map((d) => d.id)).toEqual(['healthy-1', 'healthy-tpm-1', 'healthy-tpm-2', 'bad-install-1']);
    expect(fleetNames(parseFleet('compromised=1'), 'tpm').map((d) => d.id)).toEqual(['compromised-tpm-1']);
    expect(() => parseFleet('healthy@tpm=1,healthy@tpm=1')).toThrow(/healthy@tpm twice/);
    expect(() => parseFleet('healthy@hsm=1')).toThrow(/PROFILE\[@tpm\]=COUNT/);
  });
  it('--max-failures', () => {
    expect(parseMaxFailures(undefined, 10)).toBeNull();
    expect(parseMaxFailures('2', 10)).toBe(2);
    expect(parseMaxFailures('25%', 10)).toBe(2);
    expect(() => parseMaxFailures('lots', 10)).toThrow(/count .* or a percentage/);
    expect(() => parseMaxFailures('120%', 10)).toThrow(/0\.\.100%/);
  });
  it('henb lists: lines with comments, or YAML/JSON lists', () => {
    expect(parseHenbList('a\n# c\nb # x\n\na\n', 'f')).toEqual(['a', 'b']);
    expect(parseHenbList('["a", "b"]', 'f')).toEqual(['a', 'b']);
    expect(parseHenbList('- henb-id: a\n- b\n', 'f')).toEqual(['a', 'b']);
    expect(() => parseHenbList('bad id\n', 'f.txt')).toThrow(/f\.txt: entry 1: expected a henb-id/);
    expect(() => parseHenbList('# nothing\n', 'f')).toThrow(/no henb-id/);
  });
});
