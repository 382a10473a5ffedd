// Browser checks of `sshmap serve`'s live page, run by tests/integration/live.rs:
// drives Debian's chromium headless (playwright-core) against a running serve
// and, from this second client, posts log lines to /api/ingest while the page
// is open. Prints one JSON object of findings; exits 1 when a check fails.
//
//   node tests/browser/live.mjs BASE_URL TOKEN SCREENSHOT.png [anonymized|external]
//
// Checks: the page connects to /api/stream; an event posted after it connected
// reaches the page over SSE and adds a marker on the map, a pulse, a feed line
// (hostile user name shown as text, no element injected, no dialog) and one to
// the event counter; the page states the alert thresholds; a typo then a login
// raises no alert, five failures from an address then a login does; a burst of
// alerts is grouped per address and user with time and count, beside the map,
// which does not move; only same-origin requests; no page error. With
// `anonymized`, no full address appears anywhere in the page.
import { chromium } from 'playwright-core';

const [base, token, shotPath, mode] = process.argv.slice(2);
const anonymized = mode === 'anonymized';
// `external`: the events come from elsewhere (a real sshd); print READY once
// the page is connected, then wait for a failure and an alert from SSHMAP_EXPECT_IP.
const external = mode === 'external';
const failures = [];
const out = { external: [], dialogs: [], errors: [] };
function check(ok, what) { if (!ok) failures.push(what); }

// A fresh documentation-free public address per run, so the marker is new.
const ATTACKER = '8.8.4.4';
const HOSTILE_USER = '<img src=x onerror=alert(1)>';
const stamp = () => new Date().toISOString().replace('Z', '+00:00');
async function ingest(lines) {
  const r = await fetch(new URL('api/ingest', base), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
    body: lines.map((l) => `${stamp()} web1 ${l}`).join('\n'),
  });
  check(r.status === 200, `POST /api/ingest answered ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const origin = new URL(base).origin;
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) out.external.push(r.url()); });
  page.on('dialog', async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  page.on('pageerror', (e) => out.errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push('console: ' + m.text()); });

  await page.goto(base, { waitUntil: 'load' });
  await page.waitForSelector('body[data-live="1"]', { timeout: 20000 });
  const count = () => page.evaluate(() => ({
    markers: document.querySelectorAll('#points circle').length,
    events: Number(document.getElementById('t-events').textContent.replace(/[^0-9]/g, '')),
    feed: document.querySelectorAll('#feed li').length,
  }));
  out.before = await count();
  if (external) {
    const ip = process.env.SSHMAP_EXPECT_IP;
    console.log('READY');
    await page.waitForFunction((ip) => [...document.querySelectorAll('#feed li')].some((li) => li.textContent.includes('auth_failure ' + ip)),
      ip, { timeout: 20000 }).catch(() => {});
    await page.waitForFunction((n) => document.querySelectorAll('#points circle').length > n, out.before.markers, { timeout: 5000 }).catch(() => {});
    const alert = await page.waitForSelector('#alerts .live-alert', { timeout: 20000 }).catch(() => null);
    out.alert = alert ? await alert.textContent() : null;
    out.after = await count();
    out.feed = await page.$$eval('#feed li', (lis) => lis.map((li) => li.textContent));
    check(out.feed.some((l) => l.includes('auth_failure ' + ip)), `no feed line for the real failed login from ${ip}`);
    check(out.after.markers > out.before.markers, `no marker for ${ip}: ${out.before.markers} → ${out.after.markers}`);
    check(out.alert !== null && out.alert.includes(ip), `no intrusion alert for the login from ${ip}: ${out.alert}`);
    // One wrong password is one failed attempt (sshd's PAM line reports the same attempt).
    check(out.alert !== null && out.alert.includes('after 1 failure from'), `the alert miscounts the failures: ${out.alert}`);
    check(out.after.events > 0 && (await page.textContent('#t-attempts')).trim() === '1', 'attempts counter is not 1');
    await page.screenshot({ path: shotPath, fullPage: true });
    throw 'done';
  }

  // The page is connected: everything from here on arrives over SSE.
  const posted = await ingest([`sshd[4101]: Failed password for invalid user ${HOSTILE_USER} from ${ATTACKER} port 40000 ssh2`]);
  check(posted.events === 1, `the failure line gave ${JSON.stringify(posted)}`);
  // A pulse appears at once; the report's panels fold new events in every 250 ms.
  const pulse = page.waitForSelector('#live circle.live-pulse', { timeout: 10000 }).then(() => true, () => false);
  await page.waitForFunction((n) => document.querySelectorAll('#points circle').length > n.markers
    && Number(document.getElementById('t-events').textContent.replace(/[^0-9]/g, '')) === n.events + 1,
  out.before, { timeout: 10000 }).catch(() => {});
  out.pulse = await pulse;
  out.after = await count();
  check(out.pulse, 'no pulse drawn for the live event');
  check(out.after.markers === out.before.markers + 1, `markers ${out.before.markers} → ${out.after.markers}, want one more`);
  check(out.after.events === out.before.events + 1, `event counter ${out.before.events} → ${out.after.events}, want +1`);
  out.feedTop = await page.textContent('#feed li');
  check(out.feedTop.includes('auth_failure') && out.feedTop.includes(JSON.stringify(HOSTILE_USER)),
    `feed line does not show the event and its user name as text: ${out.feedTop}`);
  check(await page.$('#feed img, #alerts img') === null, 'a user name became an element');

  // The alert rules are stated on the page, with the server's default thresholds.
  out.rules = await page.textContent('#alert-rules');
  check(/\u2265 5 failures from its address/.test(out.rules) && /\u2265 5 failures for its user/.test(out.rules)
    && out.rules.includes('5 h') && out.rules.includes('new for its user'), `the page does not state the alert thresholds: ${out.rules}`);
  const received = () => page.$eval('#alerts', (a) => Number(a.dataset.received || 0));
  const feedHas = (re, n) => page.waitForFunction(([src, n]) => [...document.querySelectorAll('#feed li')]
    .filter((li) => new RegExp(src).test(li.textContent)).length >= n, [re, n], { timeout: 10000 }).catch(() => null);

  // A typo then a login (the one failure above): no intrusion alert with the default thresholds.
  await ingest([`sshd[4102]: Accepted password for deploy from ${ATTACKER} port 40001 ssh2`]);
  await feedHas('auth_success', 1);
  // Four more failures from that address, posted after the login: once they are on the page,
  // an alert for the login (published before them, on the same stream) would be too.
  const brute = ['root', 'admin', 'oracle', 'test'].map((u, k) => `sshd[${4103 + k}]: Failed password for ${u} from ${ATTACKER} port ${40002 + k} ssh2`);
  await ingest(brute);
  await feedHas('auth_failure', 5);
  out.alertsAfterTypo = await received();
  check(out.alertsAfterTypo === 0 && (await page.$$('#alerts .live-alert')).length === 0,
    `a typo then a login raised an intrusion alert: ${out.alertsAfterTypo} received`);

  // Five failures from the address, then a login: an intrusion alert.
  await ingest([`sshd[4108]: Accepted password for deploy from ${ATTACKER} port 40008 ssh2`]);
  const alert = await page.waitForSelector('#alerts .live-alert', { timeout: 10000 }).catch(() => null);
  out.alert = alert ? await alert.textContent() : null;
  check(out.alert !== null && out.alert.includes('INTRUSION ALERT') && out.alert.includes('deploy')
    && out.alert.includes('after 5 failures from this address'), `no intrusion alert after the brute force: ${out.alert}`);
  // A burst of alerts for the same address and two users: one group per user with a
  // count and the latest time, beside the map, which stays where it was (issue #16).
  const mapTop = await page.$eval('#map-panel', (e) => e.getBoundingClientRect().top);
  const more = [];
  for (let k = 0; k < 11; k++) {
    const user = k % 4 === 0 ? 'ubuntu' : 'deploy';
    more.push(`sshd[${4110 + k}]: Accepted password for ${user} from ${ATTACKER} port ${40010 + k} ssh2`);
  }
  await ingest(more);
  await page.waitForFunction(() => /×9/.test(document.getElementById('alerts').textContent)
    && /×3/.test(document.getElementById('alerts').textContent), null, { timeout: 10000 }).catch(() => null);
  out.alertsReceived = await received();
  check(out.alertsReceived === 12, `alerts received ${out.alertsReceived}, want 12`);
  out.alertGroups = await page.$$eval('#alerts .live-alert', (a) => a.map((x) => x.textContent));
  check(out.alertGroups.length === 2 && out.alertGroups.some((g) => g.includes('×9') && g.includes('"deploy"'))
    && out.alertGroups.some((g) => g.includes('×3') && g.includes('"ubuntu"')), `alerts not grouped per address and user: ${JSON.stringify(out.alertGroups)}`);
  check(out.alertGroups.every((g) => /^\d\d:\d\d:\d\d/.test(g)), `an alert group has no time: ${JSON.stringify(out.alertGroups)}`);
  // The feed keeps one line per alert group, counted, not one per alert.
  out.feedAlerts = await page.$$eval('#feed li.alert', (l) => l.map((x) => x.textContent));
  check(out.feedAlerts.length === 2 && out.feedAlerts.some((l) => l.includes('"deploy"') && l.endsWith('×9')),
    `the feed is flooded with alert lines: ${JSON.stringify(out.feedAlerts)}`);
  out.mapMoved = (await page.$eval('#map-panel', (e) => e.getBoundingClientRect().top)) - mapTop;
  check(out.mapMoved === 0, `the map moved ${out.mapMoved} px when alerts came`);
  out.alertBeside = await page.evaluate(() => {
    const m = document.getElementById('map-panel').getBoundingClientRect();
    const beside = (id) => { const a = document.getElementById(id).getBoundingClientRect(); return a.left >= m.right - 1 && a.top < m.bottom; };
    return { alerts: beside('alerts'), feed: beside('feed') };
  });
  check(out.alertBeside.alerts && out.alertBeside.feed, `the alert list and the feed are not beside the map: ${JSON.stringify(out.alertBeside)}`);
  // The map stays above the fold (the viewport is 1000 px tall).
  out.mapBottom = await page.$eval('#map-panel', (e) => e.getBoundingClientRect().bottom);
  check(out.mapBottom <= 1000, `the map reaches ${out.mapBottom} px, below the fold`);
  await page.click('#alerts .dismiss');
  await page.waitForTimeout(100);
  check((await page.$$('#alerts .live-alert')).length === 1, 'dismiss does not remove one group');
  await page.waitForTimeout(400);
  out.final = await count();
  // The report's panels fold live events in: the user table and the successful logins.
  out.users = await page.textContent('#tbl-users');
  check(out.users.includes(HOSTILE_USER), `user table lacks the live user name: ${out.users}`);
  out.successes = await page.textContent('#successes');
  check(out.successes.includes('deploy') && /after \d+ failed attempts?/.test(out.successes), `successful logins panel: ${out.successes}`);
  check(out.final.events === out.before.events + 18, `event counter after the logins ${out.final.events}`);

  // A fresh server's timeline: the data fills the width, not the last of 60 bars.
  out.widestBar = await page.$$eval('#timeline rect.b', (rs) => Math.max(0, ...rs.map((r) => +r.getAttribute('width'))));
  check(out.widestBar >= 50, `the timeline squashes the data into a ${out.widestBar} px bar`);
  // Replay: a clock that moves, progress, every panel rewound, then restored.
  await page.click('text=replay window');
  const clocks = new Set();
  let ranged = false;
  for (let k = 0; k < 100; k++) {
    clocks.add(await page.textContent('#replay-clock'));
    if (await page.$eval('#brush', (b) => +b.getAttribute('width') > 0)) ranged = true;
    if (await page.evaluate(() => document.body.getAttribute('data-replay') === 'done')) break;
    await page.waitForTimeout(100);
  }
  out.clocks = [...clocks];
  check(out.clocks.filter((c) => c.startsWith('replay ×')).length >= 2, 'the replay clock does not move: ' + JSON.stringify(out.clocks));
  check(ranged, 'the replay does not rewind the panels');
  check(await page.evaluate(() => document.body.getAttribute('data-replay') === 'done'), 'the replay never ends');
  const html = await page.content();
  if (anonymized) {
    check(!html.includes(ATTACKER), `the full address ${ATTACKER} appears in an anonymized page`);
    check(html.includes('8.8.4.0/24'), 'the anonymized /24 is not shown');
  } else {
    check(html.includes(ATTACKER), `the address ${ATTACKER} is not shown`);
  }
  await page.screenshot({ path: shotPath, fullPage: true });
} catch (e) {
  if (e !== 'done') failures.push('exception: ' + (e && e.stack || e));
} finally {
  await browser.close();
}
check(out.external.length === 0, `external requests: ${out.external.join(', ')}`);
check(out.dialogs.length === 0, `dialogs fired: ${out.dialogs.join(', ')}`);
check(out.errors.length === 0, `page errors: ${out.errors.join('; ')}`);
out.failures = failures;
console.log(JSON.stringify(out, null, 1));
process.exit(failures.length ? 1 : 0);
