#!/usr/bin/env -S node --max-semi-space-size=32 --v8-pool-size=0
// henb-sw-verify: runs the TypeScript sources through tsx, without a build step.
// The first line gives V8 young-generation semi-spaces of up to 32 MiB (node 20's default cap is 16), so a busy OAM
// collects its young generation less often: at 10,000 devices it needed ~0.3 ms less CPU per verified update, for
// 35-55 MiB more RSS (docs/performance.md, "Seventh session"). V8 reads the option only when it makes the heap, so
// nothing here could set it later. The space grows to its cap only while many young objects survive: `--help` peaks
// at 117-123 MiB RSS with it, 111 without.
// `--v8-pool-size=0` lets node size V8's pool of helper threads (the collector's) from the cores it may use: one
// fewer than them, at least one (node's default is four whatever the machine). On the project's two cores, with the
// other processes busy, four helpers wait for a core while the main thread waits for them: in bench/_gc-helpers.ts
// one helper did 1.29-1.62x the work of four with both cores busy, 1.01-1.08x on an idle machine, and the bare
// NETCONF server of bench/fleet.ts' baseline set up ~20-30% more sessions/s (docs/performance.md, "Eighth session").
// Set only at start, as the young generation.
// `node bin/henb-sw-verify.js ...` skips the first line; pass the options to node yourself then, or set
// NODE_OPTIONS. bench/fleet.ts starts each of its child processes with the node options of this line
// (bench/_launcher.ts).
// The exit code is the one documented in `henb-sw-verify --help` (see src/cli/exit-codes.ts).

// Ctrl-C / SIGTERM are caught from the first line, before the CLI has loaded (that takes a second): the first
// one aborts the command (or, while loading, stops it before it starts: exit 130 with one line saying so); a
// second one finds no handler and ends the process at once, as an operator expects a second Ctrl-C to work.
const ac = new AbortController();
const onSignal = (sig) => {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  ac.abort(new Error(sig));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `ps` shows the program's name and its arguments (set once the signals are caught)
process.title = ['henb-sw-verify', ...process.argv.slice(2)].join(' ');

const { register } = await import('tsx/esm/api');
register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2), { signal: ac.signal });
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
// The command is done. Anything still holding the event loop (a file system call stuck in the thread pool,
// a socket a peer keeps open) must not keep the process alive: leave after a short grace period.
setTimeout(() => process.exit(), 3000).unref();
