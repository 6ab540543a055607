import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../src/cli/progress.js';
import { formatTable } from '../../src/cli/table.js';
import { colors, stripAnsi } from '../../src/cli/color.js';
import { BufferWritable } from '../../src/cli/io.js';

describe('progress bar', () => {
  it('draws on a terminal, throttled, and clears its line when done', () => {
    let t = 0;
    const out = new BufferWritable(true);
    const bar = new ProgressBar(out, { total: 4, label: 'x', enabled: true, width: 8, throttleMs: 100, now: () => t });
    bar.tick();
    t = 10;
    bar.tick(); // throttled
    t = 200;
    bar.tick(1, 'dev-3 verified');
    bar.tick(); // the last update always draws
    bar.done();
    const frames = out.text().split('\r').filter(Boolean).map((f) => f.replace('\u001b[K', ''));
    expect(frames).toEqual(['x [##......] 1/4  25%', 'x [######..] 3/4  75%  dev-3 verified', 'x [########] 4/4 100%  dev-3 verified', '']);
  });
  it('is silent when disabled (not a TTY, or --json)', () => {
    const out = new BufferWritable(false);
    const bar = new ProgressBar(out, { total: 2, enabled: false });
    bar.tick();
    bar.tick();
    bar.done();
    expect(out.text()).toBe('');
    expect(bar.value).toBe(2);
  });
});

describe('tables and colour', () => {
  it('aligns columns, ignoring ANSI sequences', () => {
    const c = colors(true);
    const t = formatTable([{ header: 'status' }, { header: 'n', align: 'right' }], [[c.green('verified'), '12'], ['timeout', '3']]);
    expect(stripAnsi(t)).toBe('status     n\n--------  --\nverified  12\ntimeout    3\n');
    expect(t).toContain('\u001b[32mverified\u001b[39m');
  });
  it('no colour when disabled', () => {
    expect(colors(false).red('x')).toBe('x');
  });
});
