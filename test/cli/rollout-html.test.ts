/**
 * `rollout --html FILE` (issue 14): one self-contained page a person can share. A real rollout against the serving
 * demo writes it; headless Chromium (Debian's, driven by playwright-core) opens it from disk and the test checks
 * what a person sees there: the outcome counts, the timeline chart, each wave with every device's outcome, full
 * reason and token status; that the page fetched nothing but itself; and it saves a screenshot
 * (test-results/rollout-report.png) to look at.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { runCli } from '../../src/cli/main.js';
import { BufferWritable } from '../../src/cli/io.js';
import type { RolloutReport } from '../../src/cli/rollout/report.js';
import { useServingDemo } from '../helpers/demo.js';

const PW = 'html-report-pw';
const CHROMIUM = '/usr/bin/chromium';
let dir: string;
let ready: { port: number; hostKey: string; software: string };

useServingDemo('healthy=2,bad-install=1,compromised=1', PW, 'hsv-html-', (demo) => {
  dir = demo.dir;
  ready = demo.ready;
});

describe('rollout --html', () => {
  it('writes one self-contained page; Chromium shows counts, timeline, waves, full reasons and token status', async () => {
    expect(existsSync(CHROMIUM), 'Debian chromium (scripts/install-peers.sh installs it)').toBe(true);
    const henbs = join(dir, 'henbs.txt');
    await writeFile(henbs, 'healthy-1\nbad-install-1\ncompromised-1\nhealthy-2\n');
    const html = join(dir, 'report.html');
    const stdout = new BufferWritable();
    const stderr = new BufferWritable();
    const code = await runCli(['rollout', '--server', `127.0.0.1:${ready.port}`, '--host-key', ready.hostKey, '--software', ready.software,
      '--henbs', henbs, '--first-wave', '1', '--wave-size', '2', '--report', join(dir, 'report.json'), '--html', html],
    { stdout, stderr, env: { HENB_SW_VERIFY_PASSWORD: PW }, signal: new AbortController().signal });
    expect(code, stderr.text()).toBe(1); // completed, not every device verified
    expect(stdout.text()).toContain(`html: ${html}`);
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as RolloutReport;
    const source = await readFile(html, 'utf8');
    // nothing to fetch: no script, stylesheet, image, frame or font reference at all
    expect(source).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|\bsrc=|\bhref=/i);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(pathToFileURL(html).href);
      expect(requests).toEqual([pathToFileURL(html).href]);
      const text = await page.innerText('body');
      expect(text).toContain('Rollout report');
      expect(text).toContain(ready.software);
      expect(text).toMatch(/state\s+completed/);
      // counts by outcome, as shown
      expect(await page.innerText('[data-count="verified"]')).toBe('2');
      expect(await page.innerText('[data-count="mismatch"]')).toBe('1');
      expect(await page.innerText('[data-count="refused"]')).toBe('1');
      expect(await page.innerText('[data-count="total"]')).toBe('4');
      // waves: the canary first, then two of two
      expect(text).toContain('Wave 1 (canary): 1 device(s)');
      expect(text).toContain('Wave 2: 2 device(s)');
      expect(text).toContain('Wave 3: 1 device(s)');
      // every device with its outcome, its full reason (not cut) and its token status
      for (const d of report.devices) {
        const row = page.locator(`tr[data-henb="${d.henbId}"]`);
        expect(await row.isVisible(), d.henbId).toBe(true);
        const rowText = await row.innerText();
        expect(rowText).toContain(d.status!);
        if (d.reason !== undefined) expect(rowText).toContain(d.reason);
        expect(rowText).toMatch(d.token !== undefined ? /ear_status (affirming|contraindicated|warning|none)/ : /no token/);
      }
      expect(await page.locator('tr[data-henb="compromised-1"]').innerText()).toContain('component kernel is not a reference value');
      expect(await page.locator('tr[data-henb="bad-install-1"]').innerText()).toContain('rootfs');
      // the timeline: one visible dot per finished device, coloured by outcome
      const dots = page.locator('svg circle');
      expect(await dots.count()).toBe(4);
      const outcomes = await dots.evaluateAll((cs) => cs.map((c) => c.getAttribute('data-outcome')));
      expect(outcomes.sort()).toEqual(['mismatch', 'refused', 'verified', 'verified']);
      const box = await page.locator('svg').boundingBox();
      expect(box?.width).toBeGreaterThan(300);
      expect(box?.height).toBeGreaterThan(100);
      await mkdir('test-results', { recursive: true });
      const shot = await page.screenshot({ path: join('test-results', 'rollout-report.png'), fullPage: true });
      expect(shot.length).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
