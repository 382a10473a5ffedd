// Time to first render of an sshmap HTML report in headless chromium (for BENCHMARKS.md):
//   node tests/browser/first-render.mjs REPORT.html [RUNS]
// Prints, per run, the page's own performance.now() when its first render finished
// (navigation start → totals, map, tables and charts drawn) and the wall time of the load.
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [htmlPath, runs = '5'] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const url = pathToFileURL(resolve(htmlPath)).href;
const results = [];
for (let i = 0; i < Number(runs); i++) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-rendered="1"]', { timeout: 60000 });
  const wall = Date.now() - t0;
  const firstRender = await page.evaluate(() => window.sshmap.firstRenderMs);
  results.push({ firstRenderMs: Math.round(firstRender), loadWallMs: wall });
  await page.close();
}
await browser.close();
console.log(JSON.stringify(results));
