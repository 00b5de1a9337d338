// report_bench: the HTML report at scale. Generates a 100,000+-event and a 1,000,000+-event trace
// (make_big_log from the unix-x64 pup fixture: 82 MB and 790 MB of log) and a 1,000-snapshot
// sequence (ram_seq.bin's 120 dumps repeated) in bench-data/, builds their reports with mpheap,
// and measures file size, mpheap's time, and the time until the page has drawn in headless
// Chromium (median of 5), plus a scrubber move and (traces) the memory chart's first zoom. On
// the traces it also moves the scrubber to the last event, an event in the middle and the one
// after it, and checks the live blocks drawn against `mpheap trace LOG --at K --json`.
// Exits 1 when a report is over its size or time budget or shows a wrong figure.
// Run: (cd web && npm ci) && MPHEAP=build/release/bin/mpheap node bench/report_bench.mjs [--only NAME]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { budgets, data, launch, makeSnapshotSequence, mpheap, openReport, root } from '../tests/browser/helpers.mjs';

const out = join(root, 'bench-data');
mkdirSync(out, { recursive: true });
const makeBigLog = process.env.MAKE_BIG_LOG || join(dirname(dirname(mpheap)), 'bench/make_big_log');
function bigLog(name, mb) {
  const log = join(out, name);
  if (!existsSync(log)) {
    execFileSync(makeBigLog, [join(data, 'unix-x64/gc_log_pup.txt'), log, '--min-mb', String(mb)], { stdio: 'inherit' });
  }
  return log;
}
const log = bigLog('report_100k.log', 82);
const log1m = bigLog('report_1m.log', 790);
const seq = makeSnapshotSequence(join(out, 'ram_seq_1000.bin'), 1000);
const mb = join(data, 'qemu-microbit');
const cases = [
  { name: '100k-event trace', args: [log], log, budget: budgets.bigBytes, readyMs: budgets.readyMs },
  { name: '1M-event trace', args: [log1m], log: log1m, budget: budgets.millionEventBytes, readyMs: budgets.millionEventReadyMs },
  {
    name: '1,000 snapshots',
    args: ['--heap', `${seq}@0x20000000`, '--map', join(mb, 'firmware.map'), '--nm', join(mb, 'firmware.nm')],
    budget: budgets.bigBytes,
    readyMs: budgets.readyMs,
  },
].filter((c) => !process.argv.includes('--only') || c.name.includes(process.argv[process.argv.indexOf('--only') + 1]));
// What `mpheap trace LOG --at K --json` says is live after event K.
const liveAt = (file, k) =>
  JSON.parse(execFileSync(mpheap, ['trace', file, '--at', String(k), '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 })).total_blocks;
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
  const zoom = [];
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
    if (c.log) {
      // The memory chart zoomed to the middle fifth (the first zoom computes live blocks per event).
      zoom.push(await page.evaluate(() => {
        const n = Number(document.getElementById('scrubber').max);
        const t = performance.now();
        window.mpheapReport.zoomMemoryChart(0.4 * n, 0.6 * n);
        return performance.now() - t;
      }));
    }
    if (i === 0 && c.log) {
      // The scrubber reaches every event: the last, one in the middle, and the next one.
      const last = await page.evaluate(() => Number(document.getElementById('scrubber').max));
      for (const k of [last, Math.floor(last / 2) + 7, Math.floor(last / 2) + 8]) {
        const shown = await page.evaluate((x) => {
          window.mpheapReport.setPosition(x);
          return { position: window.mpheapReport.position, live: window.mpheapReport.liveBlocks };
        }, k);
        const want = liveAt(c.log, k);
        if (shown.position !== k || shown.live !== want) {
          console.log(`${c.name}: after event ${k} the page shows ${shown.live} live blocks at ${shown.position}, mpheap trace ${want}`);
          failed = true;
        } else {
          console.log(`${c.name}: after event ${k}: ${want} live blocks, as mpheap trace --at says`);
        }
      }
    }
    await page.close();
  }
  const ok = bytes <= c.budget && median(ready) < c.readyMs;
  failed ||= !ok;
  console.log(
    `${c.name}: ${(bytes / 1e6).toFixed(2)} MB (budget ${(c.budget / 1e6).toFixed(2)} MB, drawn < ${c.readyMs} ms), ` +
      `mpheap report ${buildMs.toFixed(0)} ms, drawn ${median(ready).toFixed(0)} ms after navigation ` +
      `(median of 5; min ${Math.min(...ready).toFixed(0)}, max ${Math.max(...ready).toFixed(0)}), ` +
      `scrubber move ${median(scrub).toFixed(1)} ms` +
      (zoom.length ? `, first chart zoom ${median(zoom).toFixed(0)} ms` : '') + (ok ? '' : '  OVER BUDGET'),
  );
}
await browser.close();
process.exit(failed ? 1 : 0);
