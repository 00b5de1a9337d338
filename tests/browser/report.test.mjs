// The HTML report in a real browser (headless Debian Chromium): reports built from the fixtures
// by the mpheap under test ($MPHEAP) render the live blocks mpheap computes, at every event the
// scrubber is moved to; tooltips, chart clicks, play, snapshots. Screenshots go to
// $MPHEAP_BROWSER_ARTIFACTS (default build/release/browser-artifacts).
// Run: (cd web && npm ci) && MPHEAP=build/release/bin/mpheap node tests/browser/report.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  artifacts, budgets, buildReport, data, launch, makeSnapshotSequence, openReport, run, screenshot,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

// What `mpheap trace LOG --at K --json` says is live after event K.
function liveAt(log, k) {
  return JSON.parse(run(['trace', log, '--at', String(k), '--json'])).total_blocks;
}
function summary(log) {
  return JSON.parse(run(['trace', log, '-q', '--summary-json', '-']));
}
// Functions named anywhere in `mpheap trace --at K --json`'s tree.
function treeFunctions(log, k) {
  const names = new Set();
  const walk = (nodes) => nodes.forEach((n) => { names.add(n.function); walk(n.children || []); });
  walk(JSON.parse(run(['trace', log, '--at', String(k), '--json'])).tree);
  return names;
}
const readout = (page) => page.evaluate(() => ({
  live: Number(document.getElementById('live-readout').dataset.liveBlocks),
  rendered: Number(document.getElementById('blockmap').dataset.renderedBlocks),
  position: window.mpheapReport.position,
  text: document.getElementById('live-readout').textContent,
}));
// Moves the scrubber as a user does: sets the range input's value and fires its input event.
async function scrub(page, k) {
  await page.locator('#scrubber').fill(String(k));
  await page.waitForFunction((want) => window.mpheapReport.position === want, k, { timeout: 5000 });
}

const traces = [
  { name: 'unix-x64-backtrace', log: 'unix-x64/gc_log_backtrace.txt', args: [] },
  { name: 'unix-x64-pup', log: 'unix-x64/gc_log_pup.txt', args: [] },
  { name: 'circuitpython-cpstyle', log: 'circuitpython-unix/gc_log_cpstyle.txt', args: [] },
  {
    name: 'qemu-microbit-with-heap-size',
    log: 'qemu-microbit/gc_log_backtrace.txt',
    args: ['--heap-blocks', '496'],
    heapBlocks: 496,
  },
];

for (const t of traces) {
  describe(`trace report ${t.name}`, () => {
    const log = join(data, t.log);
    let file;
    let s;
    before(() => {
      file = buildReport(t.name, [log, ...t.args]);
      s = summary(log);
    });

    test('is self-contained and opens at the end of the trace with its live blocks drawn', async () => {
      const { page, problems } = await openReport(browser, file);
      const r = await readout(page);
      assert.equal(r.position, s.events - 1);
      assert.equal(r.live, s.live_blocks_end);
      assert.equal(r.rendered, s.live_blocks_end, 'one coloured cell per live block');
      await screenshot(page, `${t.name}-end`);
      assert.deepEqual(problems, []);
      await page.close();
    });

    test('the scrubber shows the live blocks mpheap computes at each event, both directions', async () => {
      const { page, problems } = await openReport(browser, file);
      const n = s.events;
      // Far jumps, a walk backwards and forwards by one event, the peak, both ends.
      const ks = [0, Math.floor(n / 2), s.peak_event, s.peak_event - 1, s.peak_event + 1,
        Math.floor(n / 3), Math.floor(n / 3) + 1, Math.floor(n / 3) + 2, 1, n - 2, n - 1];
      for (const k of ks) {
        await scrub(page, k);
        const r = await readout(page);
        const want = liveAt(log, k);
        assert.equal(r.position, k);
        assert.equal(r.live, want, `live blocks after event ${k}`);
        assert.equal(r.rendered, want, `cells drawn after event ${k}`);
        if (k === s.peak_event) assert.equal(r.live, s.peak_live_blocks);
        if (t.heapBlocks) {
          const free = await page.locator('#free-readout').textContent();
          assert.equal(free, `${(t.heapBlocks - want).toLocaleString('en-US')} free blocks`);
        }
      }
      await scrub(page, s.peak_event);
      await screenshot(page, `${t.name}-peak`);
      assert.deepEqual(problems, []);
      await page.close();
    });

    test('hovering a block shows its allocation and the stack that allocated it', async () => {
      const { page, problems } = await openReport(browser, file);
      const k = s.peak_event;
      await scrub(page, k);
      const block = await page.evaluate(() => window.mpheapReport.firstUsedBlock());
      assert.ok(block >= 0);
      const at = await page.evaluate((b) => window.mpheapReport.cellCentre(b), block);
      await page.mouse.move(at.x, at.y);
      const tip = page.locator('#tooltip');
      await tip.waitFor({ state: 'visible' });
      const text = await tip.textContent();
      assert.match(text, /allocation of \d+ blocks? \(\d+ bytes\) at block \d+/);
      assert.match(text, /lifetime: events \d+ to /);
      assert.match(text, /allocated by:/);
      // The allocating site is a function of the live tree mpheap prints for that event.
      const site = text.split('\n')[0].split(' ')[0];
      assert.ok(treeFunctions(log, k).has(site), `${site} is in the live tree at event ${k}`);
      assert.equal(text, await page.evaluate((b) => window.mpheapReport.blockInfo(b), block));
      await screenshot(page, `${t.name}-tooltip`);
      await page.mouse.move(1, 1);
      assert.deepEqual(problems, []);
      await page.close();
    });

    test('clicking the memory chart moves the scrubber there; play advances it', async () => {
      const { page, problems } = await openReport(browser, file);
      const box = await page.locator('#memchart').boundingBox();
      // The plot starts 50 px (canvas units = CSS px here) from the left and ends 10 px before the right.
      await page.mouse.click(box.x + 50 + (box.width - 60) / 2, box.y + box.height / 2);
      const r = await readout(page);
      assert.ok(Math.abs(r.position - (s.events - 1) / 2) <= Math.max(2, s.events / 200), `clicked mid-chart: ${r.position}`);
      assert.equal(r.live, liveAt(log, r.position));
      await scrub(page, 0);
      await page.click('#play');
      await page.waitForFunction(() => window.mpheapReport.position > 0);
      await page.click('#play');
      const p = (await readout(page)).position;
      assert.ok(p > 0);
      assert.equal((await readout(page)).live, liveAt(log, p));
      assert.deepEqual(problems, []);
      await page.close();
    });
  });
}

describe('trace report views', () => {
  const log = join(data, 'unix-x64/gc_log_backtrace.txt');
  test('flame graph weighs the live blocks at the scrubber and all allocated blocks; site filter', async () => {
    const file = buildReport('unix-x64-views', [log]);
    const s = summary(log);
    const { page, problems } = await openReport(browser, file);
    await scrub(page, s.peak_event);
    await page.waitForFunction((w) => document.getElementById('flame').dataset.total === String(w), s.peak_live_blocks);
    await page.selectOption('#flame-mode', 'all');
    const all = Number(await page.evaluate(() => document.getElementById('flame').dataset.total));
    assert.ok(all >= s.peak_live_blocks, `all allocated (${all}) >= peak`);
    // Filtering by the site with the most allocated blocks greys the others in the map.
    const options = await page.locator('#site-filter option').count();
    assert.ok(options > 2);
    await page.selectOption('#site-filter', { index: 1 });
    await screenshot(page, 'unix-x64-views-filtered');
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('snapshot reports', () => {
  const mb = join(data, 'qemu-microbit');
  const target = ['--map', join(mb, 'firmware.map'), '--nm', join(mb, 'firmware.nm')];
  const heapJson = (dump, t) => JSON.parse(run(['heap', dump, ...t, '--json']));

  test('two micro:bit snapshots: used blocks, census, retainer path in the tooltip', async () => {
    const dumps = ['snap1_ram.bin', 'snap2_ram.bin'].map((f) => `${join(mb, f)}@0x20000000`);
    const file = buildReport('microbit-snapshots', dumps.flatMap((d) => ['--heap', d]).concat(target));
    const { page, problems } = await openReport(browser, file);
    for (let i = 0; i < dumps.length; i++) {
      const want = heapJson(dumps[i], target);
      await scrub(page, i);
      const r = await readout(page);
      assert.equal(r.live, want.totals.used / want.block_size, `snapshot ${i} used blocks`);
      assert.equal(r.rendered, r.live);
      assert.match(await page.locator('#run-readout').textContent(), new RegExp(`largest free run ${want.totals.max_free} blocks`));
      // The census adds up to the used blocks, one row per type.
      const census = await page.$$eval('#census tbody tr', (rows) => rows.map((tr) => [...tr.cells].map((c) => c.textContent)));
      const types = new Set(want.objects.map((o) => o.class_name || o.type || 'unknown'));
      assert.equal(census.length, types.size);
      assert.equal(census.reduce((sum, row) => sum + Number(row[2].replace(/,/g, '')), 0), r.live);
      assert.ok((await page.locator('#retainers tbody tr').count()) > 0);
      // Hover the first object: its type, address and who holds it.
      const block = await page.evaluate(() => window.mpheapReport.firstUsedBlock());
      const at = await page.evaluate((b) => window.mpheapReport.cellCentre(b), block);
      await page.mouse.move(at.x, at.y);
      const text = await page.locator('#tooltip').textContent();
      const first = want.objects[0];
      assert.ok(text.startsWith(`${first.class_name || first.type || 'unknown'} at ${first.address}`), text);
      assert.match(text, /held by |garbage: no root reaches it/);
      await screenshot(page, `microbit-snapshot-${i}`);
      await page.mouse.move(1, 1);
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a split heap (3 areas) draws every area', async () => {
    const dir = join(data, 'qemu-mps2-splitheap');
    const t = ['--map', join(dir, 'firmware.map'), '--nm', join(dir, 'firmware.nm')];
    const dump = `${join(dir, 'snap2_ram.bin')}@0x187454`;
    const file = buildReport('splitheap', ['--heap', dump, ...t]);
    const want = heapJson(dump, t);
    const { page, problems } = await openReport(browser, file);
    const r = await readout(page);
    assert.equal(r.live, want.totals.used / want.block_size);
    assert.equal(r.rendered, r.live);
    const mapBlocks = Number(await page.evaluate(() => document.getElementById('blockmap').dataset.mapBlocks));
    assert.equal(mapBlocks, want.areas.reduce((sum, a) => sum + a.blocks, 0));
    await screenshot(page, 'splitheap');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('trace and snapshot sequence together: both scrubbers', async () => {
    const file = buildReport('microbit-trace-and-sequence', [
      join(mb, 'gc_log_backtrace.txt'), '--heap', `${join(mb, 'ram_seq.bin')}@0x20000000`, ...target,
    ]);
    const { page, problems } = await openReport(browser, file);
    assert.equal(await page.evaluate(() => window.mpheapReport.source()), 'trace');
    // The heap's size comes from the dumps: free blocks are shown for the trace too.
    assert.match(await page.locator('#free-readout').textContent(), /free blocks/);
    await page.selectOption('#source', 'snapshots');
    const last = Number(await page.locator('#scrubber').getAttribute('max'));
    assert.equal(last, 119);
    // Dump i of ram_seq.bin was taken at stop i; its used blocks match the dump's own table.
    const want = heapJson(`${join(mb, 'ram_seq.bin')}@0x20000000`, [...target, '--snapshot', '60']);
    await scrub(page, 60);
    assert.equal((await readout(page)).live, want.totals.used / want.block_size);
    await screenshot(page, 'microbit-trace-and-sequence');
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('size and time budgets', () => {
  const mb = join(data, 'qemu-microbit');
  const target = ['--map', join(mb, 'firmware.map'), '--nm', join(mb, 'firmware.nm')];
  const check = async (name, file, maxBytes) => {
    const bytes = statSync(file).size;
    assert.ok(bytes <= maxBytes, `${name}: ${bytes} bytes > budget ${maxBytes}`);
    const { page, problems, loadMs } = await openReport(browser, file);
    const ready = await page.evaluate(() => window.mpheapReport.readyAt);
    console.log(`# ${name}: ${(bytes / 1024).toFixed(0)} KiB, ready ${ready.toFixed(0)} ms after navigation (${loadMs} ms load)`);
    assert.ok(ready < budgets.readyMs, `${name}: ready after ${ready} ms`);
    assert.deepEqual(problems, []);
    await page.close();
  };
  test('the largest fixture: micro:bit trace with its 120-dump sequence', async () => {
    const file = buildReport('budget-fixture', [
      join(mb, 'gc_log_backtrace.txt'), '--heap', `${join(mb, 'ram_seq.bin')}@0x20000000`, ...target,
    ]);
    await check('largest fixture', file, budgets.fixtureBytes);
  });
  test('a generated sequence of 1,000 snapshots', async () => {
    const seq = makeSnapshotSequence(join(artifacts, 'ram_seq_1000.bin'), 1000);
    const file = buildReport('budget-1000-snapshots', ['--heap', `${seq}@0x20000000`, ...target]);
    await check('1,000 snapshots', file, budgets.bigBytes);
  });
});

describe('page source', () => {
  test('web/src has no external references', () => {
    const src = join(data, '../../web/src');
    const modules = readdirSync(join(src, 'js')).filter((f) => f.endsWith('.js'));
    assert.ok(modules.length > 0, 'web/src/js holds the page script modules');
    for (const f of ['report.html', 'report.js', 'report.css', ...modules.map((m) => `js/${m}`)]) {
      const text = readFileSync(join(src, f), 'utf8');
      assert.doesNotMatch(text, /(src|href)\s*=\s*["']?(https?:)?\/\//i, f);
      assert.doesNotMatch(text, /@import|url\(/i, f);
    }
  });
});
