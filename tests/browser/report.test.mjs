// The HTML report in a real browser (headless Debian Chromium): reports built from the fixtures
// by the mpheap under test ($MPHEAP) render the live blocks mpheap computes, at every event the
// scrubber is moved to; tooltips, chart clicks, play, snapshots. Screenshots go to
// $MPHEAP_BROWSER_ARTIFACTS (default build/release/browser-artifacts).
// Run: (cd web && npm ci) && MPHEAP=build/release/bin/mpheap node tests/browser/report.test.mjs
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  artifacts, budgets, buildReport, data, launch, makeSnapshotSequence, makeTimedSequence, mpheap, openReport,
  run, screenshot,
} from './helpers.mjs';

// bench/make_big_log of the build under test.
const makeBigLog = process.env.MAKE_BIG_LOG || join(dirname(dirname(mpheap)), 'bench/make_big_log');

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
      // The middle of the plot (canvas units = CSS px here); events on the x axis.
      const g = await page.evaluate(() => window.mpheapReport.memoryChart());
      await page.mouse.click(box.x + (g.left + g.right) / 2, box.y + box.height / 2);
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
      // The page spells the path from each object's last hop: the same as `heap --json`.
      assert.ok(text.includes(first.garbage ? 'garbage: no root reaches it' : `held by ${first.held_by}`), text);
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

// ---- readability: chart axes and hover, x axes, block map cells, legends, colours, paths ------
const fmt = (n) => n.toLocaleString('en-US');
const rgbOf = (css) => css.match(/\d+/g).slice(0, 3).map(Number);
const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
// The canvas pixel [r, g, b, a] at (x, y) of canvas #id.
const canvasPixel = (page, id, x, y) => page.evaluate(
  ([i, px, py]) => [...document.getElementById(i).getContext('2d').getImageData(px, py, 1, 1).data], [id, x, y]);
// What the page shows: a screenshot of `locator`, decoded by the browser in a blank page; returns
// the [r, g, b] at each of `points` (CSS pixels from the element's corner).
async function shownPixels(page, locator, points) {
  const png = (await locator.screenshot()).toString('base64');
  const blank = await browser.newPage();
  const out = await blank.evaluate(async ([b64, pts]) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return pts.map(([x, y]) => [...ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data].slice(0, 3));
  }, [png, points]);
  await blank.close();
  return out;
}
// Waits for the views the page redraws on the next animation frame (legend, tables: scrubber.js)
// after opening or moving, so what a test reads is not replaced while it reads it.
const settled = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
const chartGeometry = (page) => page.evaluate(() => {
  const g = window.mpheapReport.memoryChart();
  const points = [];
  for (let i = 0; i < g.count; i++) points.push(Object.fromEntries(g.keys.map((k) => [k, g.point(k, i)])));
  return { ...g, points };
});
// Counters of `mpheap trace --perfetto` (time = event index): the value of `name` after event k.
function perfettoCounters(log, heapBlocks) {
  const out = join(artifacts, 'counters.perfetto.json');
  run(['trace', log, '-q', '--heap-blocks', String(heapBlocks), '--perfetto', out]);
  const events = JSON.parse(readFileSync(out, 'utf8')).traceEvents.filter((e) => e.ph === 'C');
  return (name, k) => events.filter((e) => e.name === name && e.ts <= k).at(-1).args.blocks;
}

describe('memory chart', () => {
  const log = join(data, 'qemu-microbit/gc_log_backtrace.txt');
  let file;
  let s;
  before(() => {
    file = buildReport('microbit-chart', [log, '--heap-blocks', '496']);
    s = summary(log);
  });

  test('axes: bytes in KiB on y and events on x, with round tick labels where the ticks are drawn', async () => {
    const { page, problems } = await openReport(browser, file);
    const g = await chartGeometry(page);
    // 496 blocks of 16 bytes = 7,936 bytes at most: KiB, ticks every 2 KiB up to 8.
    assert.equal(g.yTitle, 'KiB');
    assert.deepEqual(g.yTicks.map((t) => t.text), ['0', '2', '4', '6', '8']);
    g.yTicks.forEach((t, i) => {
      assert.equal(t.value, 2048 * i);
      assert.equal(t.px, Math.round(g.bottom - (i / 4) * (g.bottom - g.top)) + 0.5);
    });
    assert.equal(g.xTitle, `events (${fmt(s.events)} in the trace)`);
    assert.deepEqual(g.xTicks.map((t) => t.text), ['0', '200', '400', '600', '800', '1,000', '1,200', '1,400']);
    for (const t of g.xTicks) {
      assert.ok(Math.abs(t.px - (g.left + (t.value / (s.events - 1)) * (g.right - g.left))) <= 1, `tick ${t.text}`);
      // The tick mark below the axis is drawn.
      assert.ok((await canvasPixel(page, 'memchart', Math.floor(t.px), g.bottom + 2))[3] > 0, `tick mark ${t.text}`);
    }
    await page.locator('#memchart').screenshot({ path: join(artifacts, 'microbit-chart-events.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('hovering shows the event and the live, free and largest free run mpheap computes there', async () => {
    const counters = perfettoCounters(log, 496);
    const { page, problems } = await openReport(browser, file);
    const g = await chartGeometry(page);
    const box = await page.locator('#memchart').boundingBox();
    for (const want of [Math.floor(s.events / 3), s.peak_event, s.events - 1]) {
      // The pointer's resolution is a pixel, about 1.3 events here: the nearest point's event.
      const p = g.points.find((q) => q.live.position === want).live;
      await page.mouse.move(box.x + p.x, box.y + p.y);
      const tip = page.locator('#tooltip');
      await tip.waitFor({ state: 'visible' });
      const lines = (await tip.textContent()).split('\n');
      const k = Number(lines[0].match(/^after event ([\d,]+), /)[1].replace(/,/g, ''));
      assert.ok(Math.abs(k - want) <= 1, `hovered event ${want}, shown ${k}`);
      const live = liveAt(log, k);
      const run = counters('VM Heap Largest Free Run', k);
      assert.equal(lines[1], `live: ${fmt(live)} block${live === 1 ? '' : 's'}, ${fmt(live * 16)} bytes (${(live * 16 / 1024).toFixed(1)} KiB)`);
      assert.match(lines[2], new RegExp(`^free: ${fmt(496 - live)} blocks?, ${fmt((496 - live) * 16)} bytes`));
      assert.match(lines[3], new RegExp(`^largest free run: ${fmt(run)} blocks?, ${fmt(run * 16)} bytes`));
    }
    await screenshot(page, 'microbit-chart-hover');
    await page.mouse.move(1, 1);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('with GC collections on the x axis every sweep is one vertical step at its number', async () => {
    const { page, problems } = await openReport(browser, file);
    const sweepXs = (g) => {
      const xs = {};
      for (const { live } of g.points) {
        const m = live.heading.match(/sweep of collection (\d+)$/);
        if (m) (xs[m[1]] ||= []).push(live.x);
      }
      return xs;
    };
    // Against events, collection 3's sweep is a slope over many pixels ...
    const g0 = await chartGeometry(page);
    const byEvent = sweepXs(g0);
    assert.ok(Math.max(...byEvent[3]) - Math.min(...byEvent[3]) > 50, 'a sweep spans events');
    // ... shaded in the sweeps key's colour: the band's canvas pixels are that translucent colour.
    const sweepKey = await page.evaluate(() => getComputedStyle(document.querySelectorAll('#memory-keys .key i')[3]).color);
    const [kr, kg, kb, ka] = sweepKey.match(/[\d.]+/g).map(Number);
    const column = Math.round((Math.max(...byEvent[3]) + Math.min(...byEvent[3])) / 2);
    const counts = new Map();
    for (let y = g0.top; y < g0.bottom; y++) {
      const c = (await canvasPixel(page, 'memchart', column, y)).join(',');
      counts.set(c, (counts.get(c) || 0) + 1);
    }
    const [modal, n] = [...counts.entries()].sort((x, y) => y[1] - x[1])[0];
    // (the canvas keeps translucent pixels premultiplied: colour channels come back within 1)
    const got = modal.split(',').map(Number);
    assert.equal(got[3], Math.round(ka * 255), `band ${modal}, key ${sweepKey}`);
    assert.ok([kr, kg, kb].every((v, i) => Math.abs(got[i] - v) <= 1), `band ${modal}, key ${sweepKey}`);
    assert.ok(n > (g0.bottom - g0.top) / 2, 'most of the band\'s column');
    await page.selectOption('#chart-x', 'collections');
    const g = await chartGeometry(page);
    assert.match(g.xTitle, new RegExp(`^GC collections \\(${s.collections} of them; each one step`));
    assert.deepEqual(g.xTicks.map((t) => t.text), Array.from({ length: s.collections + 1 }, (_, k) => String(k)));
    // ... against collections, each sweep's points share the x of its tick.
    const xs = sweepXs(g);
    assert.deepEqual(Object.keys(xs).map(Number), Array.from({ length: s.collections }, (_, k) => k + 1));
    for (const [k, list] of Object.entries(xs)) {
      for (const x of list) assert.ok(Math.abs(x - (g.xTicks[k].px - 0.5)) <= 0.5, `collection ${k} at its tick`);
    }
    // Hovering tick 3 names that sweep, with the live blocks after its last event; a click there
    // moves the scrubber to it.
    const box = await page.locator('#memchart').boundingBox();
    const at = { x: box.x + g.xTicks[3].px, y: box.y + (g.top + g.bottom) / 2 };
    await page.mouse.move(at.x, at.y);
    const text = await page.locator('#tooltip').textContent();
    const m = text.match(/^after event ([\d,]+), sweep of collection 3\nlive: ([\d,]+) block/);
    assert.ok(m, text);
    const event = Number(m[1].replace(/,/g, ''));
    assert.equal(Number(m[2].replace(/,/g, '')), liveAt(log, event));
    await page.locator('#memchart').screenshot({ path: join(artifacts, 'microbit-chart-collections.png') });
    await page.mouse.click(at.x, at.y);
    const r = await readout(page);
    assert.ok([event, event + 1].includes(r.position), `clicked collection 3: ${r.position}`);
    assert.equal(r.live, liveAt(log, r.position));
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a snapshot sequence with capture times: time on the x axis, or the snapshot number', async () => {
    const mb = join(data, 'qemu-microbit');
    const target = ['--map', join(mb, 'firmware.map'), '--nm', join(mb, 'firmware.nm')];
    // Irregular: every 250 ms, then every second.
    const times = [0, 250, 500, 750, 1000, 1250, 2250, 3250, 4250, 5250, 6250, 7250.5];
    const seq = makeTimedSequence(join(artifacts, 'timed.seq'), times);
    const seqFile = buildReport('microbit-timed-sequence', ['--heap', seq, ...target]);
    const { page, problems } = await openReport(browser, seqFile);
    assert.deepEqual(await page.$$eval('#chart-x option', (o) => o.map((x) => x.value)), ['time', 'snapshots']);
    let g = await chartGeometry(page);
    assert.equal(g.xTitle, 'capture time (ms since the capture started)');
    assert.deepEqual(g.xTicks.map((t) => t.text), ['0', '1,000', '2,000', '3,000', '4,000', '5,000', '6,000', '7,000']);
    // The headers' times, exactly (not the rounded ones of the labels).
    g.points.forEach(({ live }, i) => {
      const want = g.left + (times[i] / 7250.5) * (g.right - g.left);
      assert.ok(Math.abs(live.x - want) < 0.01, `snapshot ${i} at ${times[i]} ms`);
    });
    const p = g.points[7].live;
    const box = await page.locator('#memchart').boundingBox();
    await page.mouse.move(box.x + p.x, box.y + p.y);
    const lines = (await page.locator('#tooltip').textContent()).split('\n');
    const want = JSON.parse(run(['heap', seq, ...target, '--snapshot', '7', '--json']));
    assert.equal(lines[0], 'snapshot 7: timed.seq #7 (3250 ms, every:250ms)');
    assert.match(lines[1], new RegExp(`^used: ${fmt(want.totals.used / 16)} blocks?, ${fmt(want.totals.used)} bytes`));
    assert.match(lines[3], new RegExp(`^largest free run: ${fmt(want.totals.max_free)} blocks?`));
    await page.locator('#memchart').screenshot({ path: join(artifacts, 'microbit-timed-sequence-chart.png') });
    await page.selectOption('#chart-x', 'snapshots');
    g = await chartGeometry(page);
    assert.equal(g.xTitle, 'snapshot number');
    g.points.forEach(({ live }, i) => assert.ok(Math.abs(live.x - (g.left + (i / 11) * (g.right - g.left))) < 0.01));
    await page.mouse.move(1, 1);
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('block map, legends and colours', () => {
  const mb = join(data, 'qemu-microbit');
  const target = ['--map', join(mb, 'firmware.map'), '--nm', join(mb, 'firmware.nm')];
  const snap2 = `${join(mb, 'snap2_ram.bin')}@0x20000000`;
  let file;
  let want;
  before(() => {
    file = buildReport('microbit-snapshot-2', ['--heap', snap2, ...target]);
    want = JSON.parse(run(['heap', snap2, ...target, '--json']));
  });
  const typeOf = (o) => o.class_name || o.type || 'unknown';
  const open = async () => {
    const opened = await openReport(browser, file);
    await settled(opened.page);
    return opened;
  };
  const swatches = (page, selector) => page.evaluate((sel) => [...document.querySelectorAll(sel)].map((el) => {
    const sw = el.querySelector('.swatch');
    return {
      text: el.textContent,
      outside: sw.classList.contains('outside'),
      background: getComputedStyle(sw).backgroundImage,
      halves: [...sw.children].map((b) => getComputedStyle(b).backgroundColor),
    };
  }), selector);

  test('cells past the heap\'s end are hatched, not drawn in the free colour', async () => {
    const { page, problems } = await open();
    const blocks = want.areas[0].blocks; // 496: the last row (64 cells) has 16 cells past the end
    assert.equal(blocks, 496);
    const last = await page.evaluate((b) => window.mpheapReport.cellOf(b), blocks - 1);
    assert.deepEqual(last, { col: 47, row: 7 });
    assert.equal(await page.evaluate((b) => window.mpheapReport.cellOf(b), blocks), null);
    for (let col = 48; col < 64; col++) assert.equal((await canvasPixel(page, 'blockmap', col, 7))[3], 0, `cell ${col},7 transparent`);
    // A free block: drawn opaque in the free swatch's colour.
    let free = -1;
    for (let b = blocks - 1; b >= 0 && free < 0; b--) {
      if ((await page.evaluate((x) => window.mpheapReport.blockInfo(x), b)) === `block ${fmt(b)}: free`) free = b;
    }
    assert.ok(free >= 0);
    const freeCell = await page.evaluate((b) => window.mpheapReport.cellOf(b), free);
    const legend = await swatches(page, '#legend > span');
    assert.equal(legend[0].text, 'free');
    assert.deepEqual(legend[0].halves, ['rgb(27, 31, 36)', 'rgb(27, 31, 36)']);
    assert.deepEqual(await canvasPixel(page, 'blockmap', freeCell.col, freeCell.row), [27, 31, 36, 255]);
    // The legend's hatch is the canvas's background, which shows through the transparent cells.
    assert.equal(legend[1].text, 'past the heap\'s end');
    assert.ok(legend[1].outside);
    const canvasBackground = await page.evaluate(() => getComputedStyle(document.getElementById('blockmap')).backgroundImage);
    assert.match(canvasBackground, /^repeating-linear-gradient/);
    assert.equal(legend[1].background, canvasBackground);
    // On screen: the cells past the end are striped and unlike the free cell.
    const scale = (await page.locator('#blockmap').boundingBox()).width / 64;
    const outsidePoints = [];
    for (let x = 48 * scale; x < 64 * scale; x += 1) outsidePoints.push([x, 7.5 * scale]);
    const shown = await shownPixels(page, page.locator('#blockmap'), [[(freeCell.col + 0.5) * scale, (freeCell.row + 0.5) * scale], ...outsidePoints]);
    assert.deepEqual(shown[0], [27, 31, 36]);
    const outsideColours = new Set(shown.slice(1).map((c) => c.join(',')));
    assert.ok(outsideColours.size >= 2, `hatched: ${[...outsideColours].join(' ')}`);
    for (const c of shown.slice(1)) assert.ok(distance(c, [27, 31, 36]) > 60, `${c} is not the free colour`);
    await page.locator('#layout-section').screenshot({ path: join(artifacts, 'microbit-snapshot-2-map.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('legend swatches are the colours the block map draws, head and tail; chart keys the lines\'', async () => {
    const { page, problems } = await open();
    const legend = (await swatches(page, '#legend > span')).slice(2);
    assert.ok(legend.length >= 10, `${legend.length} types in the legend`);
    let tails = 0;
    for (const entry of legend) {
      const type = entry.text.replace(/ \(\d+\)$/, '');
      const objects = want.objects.filter((o) => typeOf(o) === type);
      assert.ok(objects.length > 0, `${type} is a type mpheap heap names`);
      const o = objects.find((x) => x.blocks > 1) || objects[0];
      const head = await page.evaluate((b) => window.mpheapReport.cellOf(b), o.block);
      assert.deepEqual((await canvasPixel(page, 'blockmap', head.col, head.row)).slice(0, 3), rgbOf(entry.halves[0]), `${type} head`);
      if (o.blocks > 1) {
        const tail = await page.evaluate((b) => window.mpheapReport.cellOf(b), o.block + 1);
        assert.deepEqual((await canvasPixel(page, 'blockmap', tail.col, tail.row)).slice(0, 3), rgbOf(entry.halves[1]), `${type} tail`);
        tails++;
      }
    }
    assert.ok(tails >= 3, `${tails} tails checked`);
    // The memory chart's keys: the colour of each line's point markers (5 pixels square, centred
    // on the point; read one pixel right of the centre, where the scrubber's line is not, at a
    // point whose marker no later line's covers).
    const g = await chartGeometry(page);
    const keys = await page.evaluate(() => [...document.querySelectorAll('#memory-keys .key')]
      .map((x) => [x.textContent, getComputedStyle(x.querySelector('i')).color]));
    assert.deepEqual(keys.map((k) => k[0]), ['■ used', '■ free', '■ largest free run']);
    let checked = 0;
    for (const [n, key] of g.keys.entries()) {
      const p = g.points[0][key];
      const later = g.keys.slice(n + 1).map((k) => g.points[0][k]);
      if (later.some((q) => Math.abs(Math.round(q.y) - Math.round(p.y)) <= 2)) continue;
      assert.deepEqual((await canvasPixel(page, 'memchart', Math.round(p.x) + 1, Math.round(p.y))).slice(0, 3), rgbOf(keys[n][1]), key);
      checked++;
    }
    assert.ok(checked >= 2, `${checked} keys checked`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('every type in the snapshot has its own colour, the same in the census and the legend', async () => {
    const { page, problems } = await open();
    const census = await swatches(page, '#census tbody tr td:first-child');
    const types = new Set(want.objects.map(typeOf));
    assert.equal(census.length, types.size);
    assert.ok(census.length >= 15, `${census.length} types`);
    const colours = census.map((c) => rgbOf(c.halves[0]));
    for (let i = 0; i < colours.length; i++) {
      for (let j = i + 1; j < colours.length; j++) {
        assert.ok(distance(colours[i], colours[j]) >= 30, `${census[i].text} and ${census[j].text}: ${colours[i]} ${colours[j]}`);
      }
    }
    const legend = new Map((await swatches(page, '#legend > span')).map((e) => [e.text.replace(/ \(\d+\)$/, ''), e.halves]));
    for (const c of census) if (legend.has(c.text)) assert.deepEqual(c.halves, legend.get(c.text), c.text);
    await page.locator('#census').screenshot({ path: join(artifacts, 'microbit-snapshot-2-census.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('retainer paths wrap only between steps', async () => {
    const { page, problems } = await open();
    const cells = await page.evaluate(() => [...document.querySelectorAll('#retainers td.path')].map((td) => ({
      text: td.textContent,
      steps: [...td.querySelectorAll('.step')].map((s) => ({ text: s.textContent, boxes: s.getClientRects().length, top: s.getBoundingClientRect().top })),
    })));
    // The page keeps each object's last hop; the cell must read as the whole path `mpheap heap
    // --json` writes for that object.
    const paths = new Set(want.objects.map((o) => o.held_by).filter((p) => p !== undefined));
    assert.equal(cells.length, 10);
    let wrapped = 0;
    for (const c of cells) {
      assert.ok(paths.has(c.text), `the cell reads as the path: ${c.text}`);
      for (const st of c.steps) assert.equal(st.boxes, 1, `step "${st.text}" on one line`);
      if (new Set(c.steps.map((st) => st.top)).size > 1) wrapped++;
    }
    assert.ok(wrapped >= 3, `${wrapped} paths wrap`);
    const hop = cells.find((c) => c.text === 'mp_state_ctx.vm.dict_main[qstr#615] -> 0x20000550 (bytearray data)');
    assert.ok(hop, 'the bytearray data row');
    assert.deepEqual(hop.steps.map((st) => st.text), ['mp_state_ctx', '.vm', '.dict_main', '[qstr#615]', '-> 0x20000550 (bytearray data)']);
    // Narrower: more lines, still never inside a step.
    // The resize redraws the tables on the animation frame after it: measure after that one.
    await page.evaluate(() => {
      window.resizedAndRedrawn = new Promise((resolve) => window.addEventListener('resize', () => {
        requestAnimationFrame(() => requestAnimationFrame(resolve));
      }, { once: true }));
    });
    await page.setViewportSize({ width: 700, height: 1000 });
    await page.evaluate(() => window.resizedAndRedrawn);
    const narrow = await page.evaluate(() => [...document.querySelectorAll('#retainers td.path .step')]
      .map((x) => [x.textContent, x.getClientRects().length]));
    assert.ok(narrow.length > 10 && narrow.every((n) => n[1] === 1), JSON.stringify(narrow));
    await page.locator('#retainers').screenshot({ path: join(artifacts, 'microbit-snapshot-2-retainers.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('long traces: level of detail', () => {
  const pup = join(data, 'unix-x64/gc_log_pup.txt');
  // The allocation whose lifespan bar is widest and tallest in pixels with its centre not under
  // a later one's: its bar, colour, start block and event.
  const widestBar = (page) => page.evaluate(() => {
    const r = window.mpheapReport;
    const bars = Array.from({ length: r.allocationCount() }, (_, i) => r.lifespanBar(i));
    let best = null;
    bars.forEach((b, i) => {
      const side = Math.min(b.x1 - b.x0, b.y1 - b.y0);
      const x = Math.floor((b.x0 + b.x1) / 2);
      const y = Math.floor((b.y0 + b.y1) / 2);
      const covered = bars.slice(i + 1).some((c) => c.x0 <= x && x < c.x1 && c.y0 <= y && y < c.y1);
      if (!covered && (!best || side > best.side)) best = { ...b, side, x, y };
    });
    return best;
  });

  test('lifespans past the detail limit are rasterised: the same colour inside each bar', async () => {
    const file = buildReport('unix-x64-pup-lod', [pup]);
    const { page, problems } = await openReport(browser, file);
    assert.equal(await page.evaluate(() => window.mpheapReport.lifespansMode()), 'rects');
    const bar = await widestBar(page);
    assert.ok(bar.side >= 3, `a bar of at least 3x3 pixels (${bar.side})`);
    const { x, y } = bar;
    const drawn = await canvasPixel(page, 'lifespans', x, y);
    assert.deepEqual(drawn, [...bar.colour, 255]);
    // Past the limit: one image, every allocation at least a pixel, the same colours; hovering
    // a pixel names the allocation drawn there.
    assert.equal(await page.evaluate(() => window.mpheapReport.setLifespanDetailLimit(0)), 'raster');
    assert.deepEqual(await canvasPixel(page, 'lifespans', x, y), drawn);
    const box = await page.locator('#lifespans').boundingBox();
    const scale = box.width / (await page.evaluate(() => document.getElementById('lifespans').width));
    await page.mouse.move(box.x + (x + 0.5) * scale, box.y + (y + 0.5) * scale);
    const tip = page.locator('#tooltip');
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.textContent(), new RegExp(`at block ${fmt(bar.start)}, events ${fmt(bar.t0)} to `));
    await page.mouse.move(1, 1);
    await screenshot(page, 'unix-x64-pup-lod-raster');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a trace past the detail limit: within its size budget, and the scrubber reaches every event', async () => {
    // The pup log repeated to ~41,000 events (~24,000 allocations, over the default limit of
    // 20,000); bench/report_bench.mjs does the same with 1,000,000 events.
    const log = join(artifacts, 'lod_41k.log');
    execFileSync(makeBigLog, [pup, log, '--min-mb', '32'], { stdio: 'ignore' });
    const s = summary(log);
    assert.ok(s.events > 40000, `${s.events} events`);
    const file = buildReport('lod-41k', [log]);
    const bytes = statSync(file).size;
    // At most 10 MB a million events (the budget of the benchmark's million) plus the page.
    assert.ok(bytes <= 10 * s.events + 256 * 1024, `${bytes} bytes for ${s.events} events`);
    const { page, problems } = await openReport(browser, file);
    assert.equal(await page.evaluate(() => window.mpheapReport.lifespansMode()), 'raster');
    const ready = await page.evaluate(() => window.mpheapReport.readyAt);
    assert.ok(ready < budgets.readyMs, `ready after ${ready} ms`);
    const mid = Math.floor(s.events / 2) + 7;
    for (const k of [s.events - 1, mid, mid + 1, mid - 1, 0]) {
      await scrub(page, k);
      const r = await readout(page);
      assert.equal(r.position, k);
      const want = liveAt(log, k);
      assert.equal(r.live, want, `live blocks after event ${k}`);
      assert.equal(r.rendered, want, `cells drawn after event ${k}`);
    }
    // The memory chart in detail: zoomed to 201 events, one point each, with mpheap's live bytes.
    const mid2 = Math.floor(s.events / 2);
    const zoomed = await page.evaluate(([a, b]) => window.mpheapReport.zoomMemoryChart(a, b), [mid2 - 100, mid2 + 100]);
    assert.deepEqual(zoomed, { from: mid2 - 100, to: mid2 + 100 });
    const points = (ks) => page.evaluate((is) => {
      const g = window.mpheapReport.memoryChart();
      return { count: g.count, zoom: g.zoom, xTitle: g.xTitle, at: is.map((i) => g.point('live', Math.min(i, g.count - 1))) };
    }, ks);
    let g = await points([0, 37, 200]);
    assert.equal(g.count, 201);
    assert.match(g.xTitle, /zoomed: every event/);
    for (const p of g.at) assert.equal(p.value, liveAt(log, p.position) * s.block_size, `live bytes after event ${p.position}`);
    // Wider (the wheel zooms out around the pointer): each pixel's lowest and highest, still exact.
    const box = await page.locator('#memchart').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 12; i++) await page.mouse.wheel(0, 100);
    g = await points([1, 500, 100000]);
    assert.ok(g.zoom && g.zoom.to - g.zoom.from > 2000, JSON.stringify(g.zoom));
    assert.match(g.xTitle, /lowest and highest per pixel/);
    for (const p of g.at) assert.equal(p.value, liveAt(log, p.position) * s.block_size, `live bytes after event ${p.position}`);
    await screenshot(page, 'lod-41k-zoomed');
    const again = await page.locator('#memchart').boundingBox(); // the screenshot may scroll
    await page.mouse.dblclick(again.x + again.width / 2, again.y + again.height / 2);
    await page.waitForFunction(() => window.mpheapReport.memoryChart().zoom === null);
    // One step with the keyboard moves one event (from 0: the double-click moved the scrubber).
    await scrub(page, 0);
    await page.locator('#scrubber').focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => window.mpheapReport.position === 1);
    assert.equal((await readout(page)).live, liveAt(log, 1));
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
