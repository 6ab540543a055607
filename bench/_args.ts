/**
 * The command line of the ad-hoc A/B benches (_validate, _tokens-path, _northbound, _device-session): `--name value`
 * options and `--flag` switches after the script's path.
 */
export interface BenchArgs {
  argv: string[];
  /** the value after `name`, or undefined when `name` is absent */
  opt(name: string): string | undefined;
  /** `name` is given */
  has(name: string): boolean;
}

export function benchArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  return {
    argv,
    opt: (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; },
    has: (name) => argv.includes(name),
  };
}
