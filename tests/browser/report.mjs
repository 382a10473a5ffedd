// Browser checks of sshmap's HTML report, run by tests/integration/report.rs:
// drives Debian's chromium headless (playwright-core, no browser download) and
// prints one JSON object of findings; exits 1 when a check fails.
//
//   node tests/browser/report.mjs REPORT.html STATS.json SCREENSHOT.png
//
// Checks: zero failed and zero external requests, no page error or CSP
// violation, totals and country count equal `sshmap stats --json`, brushing
// the time histogram changes the totals, hostile user names show as text and
// no dialog fires; saves a full-page screenshot.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [htmlPath, statsPath, shotPath] = process.argv.slice(2);
const stats = JSON.parse(readFileSync(statsPath, 'utf8'));
const hostile = JSON.parse(process.env.SSHMAP_HOSTILE || '[]');
const failures = [];
const out = { requests: [], external: [], failed: [], dialogs: [], errors: [] };
function check(ok, what) { if (!ok) failures.push(what); }

// playwright gives chromium a fresh temporary profile of its own.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const url = pathToFileURL(resolve(htmlPath)).href;
  page.on('request', (r) => {
    out.requests.push(r.url());
    if (r.url() !== url && !r.url().startsWith('data:')) out.external.push(r.url());
  });
  page.on('requestfailed', (r) => out.failed.push(r.url() + ' ' + (r.failure()?.errorText ?? '')));
  page.on('dialog', async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  page.on('pageerror', (e) => out.errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push('console: ' + m.text()); });

  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-rendered="1"]', { timeout: 30000 });
  out.loadMs = Date.now() - t0;
  out.firstRenderMs = await page.evaluate(() => window.sshmap.firstRenderMs);

  const n = async (id) => Number((await page.textContent('#' + id)).replace(/[^0-9]/g, ''));
  const totals = async () => ({
    attempts: await n('t-attempts'), unique_ips: await n('t-ips'), countries: await n('t-countries'),
    successes: await n('t-successes'), events: await n('t-events'),
  });
  out.totals = await totals();
  const want = {
    attempts: stats.attempts, unique_ips: stats.unique_ips, countries: stats.countries,
    successes: stats.by_kind.auth_success ?? 0, events: stats.events,
  };
  for (const k of Object.keys(want)) check(out.totals[k] === want[k], `total ${k}: page ${out.totals[k]}, stats --json ${want[k]}`);
  out.coloredCountries = await page.$$eval('#countries path.hit', (ps) => ps.length);
  check(out.coloredCountries > 0, 'no country coloured on the map');
  out.points = await page.$$eval('#points circle', (c) => c.length);
  check(out.points > 0, 'no point on the map');

  // City-precision points and the ASN table (the test passes city and ASN databases).
  out.cityPoints = await page.$$eval('#points circle.city', (c) => c.length);
  check(out.cityPoints > 0, 'no point at city precision');
  const asnText = await page.textContent('#tbl-asns');
  check(asnText.includes('AS20712') && asnText.includes('Andrews & Arnold Ltd'), 'ASN table lacks AS20712 Andrews & Arnold Ltd');

  // Hostile user names: shown as text in the users table, never as markup.
  const usersText = await page.textContent('#tbl-users');
  for (const h of hostile) check(usersText.includes(h), `user name ${JSON.stringify(h)} not shown as text`);
  out.injected = await page.$$eval('img, iframe, object, embed', (e) => e.length);
  out.scripts = await page.$$eval('script', (e) => e.length);
  check(out.injected === 0, `${out.injected} injected element(s)`);
  check(out.scripts === 2, `${out.scripts} script elements (expected the data and the code)`);

  // Hover a point: the tooltip shows an address and attempts.
  // The busiest group is drawn last, so nothing covers it.
  await page.locator('#points circle').last().hover();
  out.tip = await page.textContent('#tip');
  check(/attempts/.test(out.tip), 'hovering a point shows no tooltip');
  // Click the busiest address in the table: its details and sessions open.
  await page.click('#tbl-ips tr.click');
  out.detail = await page.textContent('#detail-title');
  check(!(await page.isHidden('#detail')), 'clicking an address opens no detail');

  await page.screenshot({ path: shotPath, fullPage: true });

  // Heat layer and zoom.
  await page.check('#t-heat');
  out.heat = await page.$$eval('#heat circle', (c) => c.length);
  check(out.heat > 0, 'heat layer empty');
  const vb0 = await page.getAttribute('#map', 'viewBox');
  const mb = await page.locator('#map').boundingBox();
  await page.mouse.move(mb.x + mb.width / 2, mb.y + mb.height / 2);
  await page.mouse.wheel(0, -300);
  await page.waitForTimeout(50);
  out.zoomed = (await page.getAttribute('#map', 'viewBox')) !== vb0;
  check(out.zoomed, 'the wheel does not zoom the map');

  // Brush the time histogram: the totals change.
  const tl = await page.locator('#timeline').boundingBox();
  await page.mouse.move(tl.x + tl.width * 0.40, tl.y + tl.height / 2);
  await page.mouse.down();
  await page.mouse.move(tl.x + tl.width * 0.55, tl.y + tl.height / 2, { steps: 5 });
  await page.mouse.up();
  out.brushed = await totals();
  check(out.brushed.attempts < out.totals.attempts, `brushing did not lower attempts (${out.brushed.attempts})`);
  check(out.brushed.events < out.totals.events, 'brushing did not lower events');
  check(out.brushed.unique_ips <= out.totals.unique_ips, 'brushing raised unique IPs');
  check(!(await page.isHidden('#brush-clear')), 'no way to clear the brush');
  await page.click('#brush-clear');
  out.cleared = await totals();
  check(JSON.stringify(out.cleared) === JSON.stringify(out.totals), 'clearing the brush does not restore the totals');

  // The live map's path: events appended to the snapshot show at once.
  await page.evaluate(() => {
    const d = window.sshmap.data, t = d.t0 + (d.series.length - 1) * d.bin;
    window.sshmap.append([{ t, attempts: 3, ip: '203.0.113.99', country: 'FR', country_name: 'France', user: '<b>x</b>' }]);
  });
  out.appended = await totals();
  check(out.appended.attempts === out.totals.attempts + 3, `append: attempts ${out.appended.attempts}`);
  check(out.appended.unique_ips === out.totals.unique_ips + 1, `append: unique IPs ${out.appended.unique_ips}`);

  check(out.external.length === 0, 'external requests: ' + out.external.join(', '));
  check(out.failed.length === 0, 'failed requests: ' + out.failed.join(', '));
  check(out.dialogs.length === 0, 'dialogs fired: ' + out.dialogs.join(', '));
  check(out.errors.length === 0, 'errors: ' + out.errors.join(' | '));
} catch (e) {
  failures.push('exception: ' + (e && e.stack || e));
} finally {
  await browser.close();
}
out.failures = failures;
console.log(JSON.stringify(out, null, 1));
process.exit(failures.length ? 1 : 0);
