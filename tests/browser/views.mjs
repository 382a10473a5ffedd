// Browser checks of what users see in the HTML report (issue #16), run by
// tests/integration/views.rs: drives Debian's chromium headless and prints one
// JSON object of findings; exits 1 when a check fails.
//
//   node tests/browser/views.mjs logins REPORT.html SCREENSHOT.png
//
// logins: a day of 5,000+ logins keeps the page within a few screens until the
// user expands the routine ones; the brute-forced login is the first card; the
// filter narrows the list.
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, htmlPath, shotPath] = process.argv.slice(2);
const failures = [];
const out = { errors: [] };
function check(ok, what) { if (!ok) failures.push(what); }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => out.errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push('console: ' + m.text()); });
  await page.goto(pathToFileURL(resolve(htmlPath)).href, { waitUntil: 'load' });
  await page.waitForSelector('body[data-rendered="1"]', { timeout: 30000 });
  const height = () => page.evaluate(() => document.documentElement.scrollHeight);
  if (mode === 'logins') {
    out.height = await height();
    check(out.height < 5 * 1000, `page is ${out.height} px tall with the logins collapsed (want < 5 screens)`);
    out.cards = await page.$$eval('#successes .success', (c) => c.length);
    check(out.cards >= 2 && out.cards <= 10, `${out.cards} login cards shown before expanding`);
    out.first = await page.textContent('#successes .success');
    check(out.first.includes('218.92.0.34') && out.first.includes('after 300 failed attempts'), 'the brute-forced login is not first: ' + out.first);
    out.routine = await page.textContent('#successes .routine');
    check(/5,200 other logins/.test(out.routine), 'routine logins not counted: ' + out.routine);
    await page.screenshot({ path: shotPath, fullPage: false, clip: { x: 0, y: Math.max(0, out.height - 1000), width: 1400, height: 1000 } }).catch(() => {});
    await page.locator('#successes').scrollIntoViewIfNeeded();
    await page.screenshot({ path: shotPath });
    await page.click('#successes .routine-toggle');
    out.rowsExpanded = await page.$$eval('#successes table.routine-list tr', (r) => r.length - 1);
    check(out.rowsExpanded === 50, `expanding shows ${out.rowsExpanded} rows, want 50`);
    out.heightExpanded = await height();
    check(out.heightExpanded > out.height, 'expanding did not grow the page');
    await page.fill('#login-filter', '185.220');
    out.filtered = await page.$$eval('#successes .success', (c) => c.map((x) => x.textContent));
    check(out.filtered.length === 1 && out.filtered[0].includes('first login of this user from DE'), 'filter: ' + JSON.stringify(out.filtered));
    out.routineFiltered = await page.$$eval('#successes .routine', (c) => c.length);
    check(out.routineFiltered === 0, 'routine logins still listed under a filter that matches none');
  }
  if (mode === 'tables') {
    const rows = (id) => page.$$eval('#' + id + ' tr:not(.more)', (r) => r.length - 1);
    // "… N more" opens more rows.
    out.users = await rows('tbl-users');
    await page.click('#tbl-users tr.more button');
    out.usersExpanded = await rows('tbl-users');
    check(out.users === 25 && out.usersExpanded === 52, `users table: ${out.users} rows, ${out.usersExpanded} after "more" (want 25, then 52)`);
    // The search box filters every table.
    await page.fill('#search', '218.92');
    out.ipsFound = await page.$$eval('#tbl-ips tr:not(.more)', (r) => r.slice(1).map((x) => x.textContent));
    check(out.ipsFound.length === 1 && out.ipsFound[0].includes('218.92.0.34'), 'search 218.92: ' + JSON.stringify(out.ipsFound));
    await page.fill('#search', 'china');
    out.countriesFound = await rows('tbl-countries');
    check(out.countriesFound === 1, `search china: ${out.countriesFound} country rows`);
    await page.fill('#search', '');
    // A user row opens that user: who tried it and its logins.
    await page.click('#tbl-users tr.click >> text=root');
    out.userDetail = await page.textContent('#detail');
    check(await page.isVisible('#detail') && out.userDetail.includes('user root') && out.userDetail.includes('218.92.0.34'), 'user detail: ' + out.userDetail.slice(0, 200));
    // A detail table's "… N more" opens more rows in place (the second country: 32 addresses).
    await page.click('#tbl-countries tr.click >> nth=1');
    const detRows = () => page.$$eval('#detail-body table tr:not(.more)', (r) => r.length - 1);
    out.detailRows = await detRows();
    if (await page.$('#detail-body tr.more button')) {
      await page.click('#detail-body tr.more button');
      out.detailRowsExpanded = await detRows();
      check(out.detailRowsExpanded > out.detailRows, `a detail table's "more" does nothing (${out.detailRows} rows)`);
    }
    // "sessions of X" from a login shows the sessions around that login, not the address's last ones.
    await page.click('#successes .success >> text=sessions of 218.92.0.34');
    out.around = await page.$$eval('#detail-body table', (ts) => ts.map((t) => t.querySelectorAll('tr')[1]?.textContent ?? ''));
    out.detail = await page.textContent('#detail-body');
    check(out.detail.includes('Sessions around the login at 2026-11-22 08:26:40'), 'no sessions around the login');
    check((out.around[0] || '').startsWith('2026-11-22 08:2'), 'the first table does not start near the login: ' + out.around[0]);
    await page.locator('#detail').screenshot({ path: shotPath });
  }
  if (mode === 'colours') {
    // A logged-in address is ringed in the alert colour, not green, and the legend says so.
    out.okStroke = await page.$eval('#points circle.ok', (c) => getComputedStyle(c).stroke);
    const [r, g] = out.okStroke.match(/\d+/g).map(Number);
    check(r > 200 && g < 100, 'logged-in ring colour ' + out.okStroke);
    out.legend = await page.textContent('#legend');
    check(out.legend.includes('ring = an address that logged in'), 'legend: ' + out.legend);
    out.ticks = await page.$$eval('#timeline text', (ts) => ts.map((t) => t.textContent).filter((t) => /:/.test(t)));
    check(out.ticks.length >= 3 && out.ticks.every((t) => /^(00|06|12|18):00$/.test(t)), 'timeline ticks not on round times: ' + out.ticks);
    out.range = await page.textContent('#range');
    check(/^2026-11-22 00:00:00 \+0000 – 2026-11-22 \d\d:\d\d:\d\d \+0000/.test(out.range), 'header date format: ' + out.range);
    out.countryHead = await page.textContent('#tbl-countries tr');
    check(!out.countryHead.includes('IPs listed'), 'unexplained column: ' + out.countryHead);
    await page.locator('#map-panel').screenshot({ path: shotPath });
  }
  if (mode === 'labels') {
    const labels = () => page.$$eval('#labels text', (ts) => ts.map((t) => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }));
    const sizes = (ls) => ls.map((b) => b[3] - b[1]);
    const overlaps = (ls) => ls.some((a, i) => ls.some((b, j) => j > i && a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]));
    const before = await labels();
    out.labels = before.length;
    check(before.length >= 3, `${before.length} labels on the map`);
    out.sizeBefore = Math.max(...sizes(before));
    const box = await page.locator('#map').boundingBox();
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.35);
    for (let i = 0; i < 5; i++) { await page.mouse.wheel(0, -100); await page.waitForTimeout(50); }
    const after = await labels();
    out.sizeAfter = after.length ? Math.max(...sizes(after)) : 0;
    check(after.length > 0 && Math.abs(out.sizeAfter - out.sizeBefore) <= 2, `label height ${out.sizeBefore} px, after 5 wheel steps ${out.sizeAfter} px`);
    check(!overlaps(before) && !overlaps(after), 'labels overlap');
    await page.locator('#map-wrap').screenshot({ path: shotPath });
    await page.setViewportSize({ width: 800, height: 900 });
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('body[data-rendered="1"]');
    const narrow = await labels();
    out.sizeNarrow = narrow.length ? Math.min(...sizes(narrow)) : 0;
    check(out.sizeNarrow >= 11, `labels ${out.sizeNarrow} px tall at 800 px`);
    check(!overlaps(narrow), 'labels overlap at 800 px');
    // No city or ASN database: no empty columns, no ASN panel, and how to get them.
    out.ipHeader = await page.textContent('#tbl-ips tr');
    check(!/city|ASN/.test(out.ipHeader), 'empty columns shown: ' + out.ipHeader);
    check(!(await page.isVisible('#tbl-asns')), 'an empty ASN panel is shown');
    out.missing = await page.textContent('#geo-missing');
    check(out.missing.includes('--asn PATH') && out.missing.includes('--geoip PATH'), 'no word on how to get cities and networks');
  }
  check(out.errors.length === 0, 'page errors: ' + out.errors.join('; '));
} finally {
  await browser.close();
}
out.failures = failures;
console.log(JSON.stringify(out));
process.exit(failures.length ? 1 : 0);
