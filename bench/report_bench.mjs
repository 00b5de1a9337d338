// report_bench: the HTML report at scale. Generates a 100,000+-event trace (make_big_log from the
// unix-x64 pup fixture) and a 1,000-snapshot sequence (ram_seq.bin's 120 dumps repeated) in
// bench-data/, builds their reports with mpheap, and measures file size, mpheap's time, and the
// time until the page has drawn in headless Chromium (median of 5), plus a scrubber move.
// Exits 1 when a report is over its size budget or slower than 2 s.
// Run: (cd web && npm ci) && MPHEAP=build/release/bin/mpheap node bench/report_bench.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { budgets, data, launch, makeSnapshotSequence, mpheap, openReport, root } from '../tests/browser/helpers.mjs';

const out = join(root, 'bench-data');
mkdirSync(out, { recursive: true });
const makeBigLog = process.env.MAKE_BIG_LOG || join(dirname(dirname(mpheap)), 'bench/make_big_log');
const log = join(out, 'report_100k.log');
if (!existsSync(log)) {
  execFileSync(makeBigLog, [join(data, 'unix-x64/gc_log_pup.txt'), log, '--min-mb', '82'], { stdio: 'inherit' });
}
const seq = makeSnapshotSequence(join(out, 'ram_seq_1000.bin'), 1000);
const mb = join(data, 'qemu-microbit');
const cases = [
  { name: '100k-event trace', args: [log], budget: budgets.bigBytes },
  {
    name: '1,000 snapshots',
    args: ['--heap', `${seq}@0x20000000`, '--map', join(mb, 'firmware.map'), '--nm', join(mb, 'firmware.nm')],
    budget: budgets.bigBytes,
  },
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const browser = await launch();
let failed = false;
for (const c of cases) {
  const file = join(out, `report_${c.name.replace(/[^a-z0-9]+/gi, '_')}.html`);
  const t0 = process.hrtime.bigint();
  execFileSync(mpheap, ['report', ...c.args, '-o', file], { stdio: 'ignore' });
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const bytes = statSync(file).size;
  const ready = [];
  const scrub = [];
  for (let i = 0; i < 5; i++) {
    const { page, problems } = await openReport(browser, file);
    if (problems.length) throw new Error(problems.join('; '));
    ready.push(await page.evaluate(() => window.mpheapReport.readyAt));
    // A far jump to the middle, then 50 single steps: what dragging the scrubber costs.
    scrub.push(await page.evaluate(() => {
      const r = window.mpheapReport;
      const mid = Math.floor(Number(document.getElementById('scrubber').max) / 2);
      const t = performance.now();
      r.setPosition(mid);
      for (let k = 1; k <= 50; k++) r.setPosition(mid + k);
      return (performance.now() - t) / 51;
    }));
    await page.close();
  }
  const ok = bytes <= c.budget && median(ready) < budgets.readyMs;
  failed ||= !ok;
  console.log(
    `${c.name}: ${(bytes / 1e6).toFixed(2)} MB (budget ${(c.budget / 1e6).toFixed(2)} MB), ` +
      `mpheap report ${buildMs.toFixed(0)} ms, drawn ${median(ready).toFixed(0)} ms after navigation ` +
      `(median of 5; min ${Math.min(...ready).toFixed(0)}, max ${Math.max(...ready).toFixed(0)}), ` +
      `scrubber move ${median(scrub).toFixed(1)} ms${ok ? '' : '  OVER BUDGET'}`,
  );
}
await browser.close();
process.exit(failed ? 1 : 0);
