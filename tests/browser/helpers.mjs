// Shared by the browser tests and the report benchmark: paths, running mpheap, opening a report
// in Debian's Chromium (playwright-core, never a downloaded browser) with the network blocked.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const data = join(root, 'tests/data');
// The mpheap binary to test: $MPHEAP, else the release build's.
export const mpheap = resolve(process.env.MPHEAP || join(root, 'build/release/bin/mpheap'));
// Screenshots and the reports they show: $MPHEAP_BROWSER_ARTIFACTS, else next to the binary's build.
export const artifacts = resolve(
  process.env.MPHEAP_BROWSER_ARTIFACTS || join(dirname(dirname(mpheap)), 'browser-artifacts'),
);
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

// playwright-core lives in web/node_modules (npm ci in web/).
const require = createRequire(join(root, 'web/package.json'));
const { chromium } = require('playwright-core');

export function run(args, options = {}) {
  return execFileSync(mpheap, args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

// Writes a report into the artifacts folder and returns its path.
export function buildReport(name, args) {
  mkdirSync(artifacts, { recursive: true });
  const out = join(artifacts, `${name}.html`);
  run(['report', ...args, '-o', out]);
  return out;
}

export async function launch() {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
}

// Opens a report; any request that is not for the file itself fails the page and is recorded,
// as are script errors.
export async function openReport(browser, file, viewport = { width: 1280, height: 1000 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const self = pathToFileURL(file).href;
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url === self) return route.continue();
    problems.push(`request: ${url}`);
    return route.abort();
  });
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  const started = Date.now();
  await page.goto(self);
  await page.waitForFunction(() => window.mpheapReport && window.mpheapReport.ready, null, { timeout: 30000 });
  const loadMs = Date.now() - started;
  return { page, problems, loadMs };
}

export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

// Size and time budgets of the report (docs/report.md): the largest fixture (the micro:bit trace
// with its 120-dump sequence) and 1,000 snapshots or 100,000 events; 1,000,000 events (the
// benchmark's only: its log is 790 MB).
export const budgets = {
  fixtureBytes: 512 * 1024,
  bigBytes: 3 * 1024 * 1024,
  readyMs: 2000,
  millionEventBytes: 10 * 1000 * 1000,
  millionEventReadyMs: 1000,
};

// `count` whole-RAM dumps of qemu-microbit/ram_seq.bin (120 dumps of 16 KiB) laid end to end.
export function makeSnapshotSequence(out, count) {
  const dump = 16384;
  const seq = readFileSync(join(data, 'qemu-microbit/ram_seq.bin'));
  const fd = openSync(out, 'w');
  for (let i = 0; i < count; i++) writeSync(fd, seq, (i % 120) * dump, dump);
  closeSync(fd);
  return out;
}

// The first `count` dumps of qemu-microbit/ram_seq.bin as a snapshot sequence file
// (docs/formats/snapshot-sequence.md) whose headers say dump i was taken at times[i] ms.
export function makeTimedSequence(out, times) {
  const dump = 16384;
  const seq = readFileSync(join(data, 'qemu-microbit/ram_seq.bin'));
  const fd = openSync(out, 'w');
  times.forEach((ms, i) => {
    writeSync(fd, `MPHEAP-SNAPSHOT 1 index=${i} time_ms=${ms.toFixed(3)} start=0x20000000 end=0x20004000 trigger=every:250ms\n`);
    writeSync(fd, seq, (i % 120) * dump, dump);
  });
  closeSync(fd);
  return out;
}
