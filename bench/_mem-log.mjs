// A preload for one process of a benchmark (issue 15): its memory every 0.5 s and at each full collection, one line
// each, appended to $BENCH_MEM_LOG_DIR (default the system's temporary directory)/memlog-<pid>.txt:
//   <seconds since start> tick|major <ms> rss <MiB> used <MiB> total <MiB> ext <MiB> ab <MiB>
// (process.memoryUsage: rss, heapUsed, heapTotal, external, arrayBuffers). For the OAM of bench/fleet.ts:
//   BENCH_OAM_NODE_ARGS="--import $PWD/bench/_mem-log.mjs" node --expose-gc --import tsx bench/fleet.ts
// Plain JavaScript, so that it loads before any TypeScript loader.
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const file = join(process.env.BENCH_MEM_LOG_DIR ?? tmpdir(), `memlog-${process.pid}.txt`);
const t0 = Date.now();
const mib = (b) => (b / 1048576).toFixed(1);
const line = (what) => {
  const m = process.memoryUsage();
  appendFileSync(file, `${((Date.now() - t0) / 1000).toFixed(1)} ${what} rss ${mib(m.rss)} used ${mib(m.heapUsed)} total ${mib(m.heapTotal)} ext ${mib(m.external)} ab ${mib(m.arrayBuffers)}\n`);
};
setInterval(() => line('tick'), 500).unref();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) line(`major ${e.duration.toFixed(0)}ms`);
}).observe({ entryTypes: ['gc'] });
