// Browser end-to-end for the live visitor list (P1–P3, P5, P6): a visitor browses the demo
// shop in one browser context while an agent watches in the portal in another.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { edge, startServer, launchBrowser, openPortal, screenshot, watchErrors } from './harness.mjs';

let server;
let browser;

// One browser for the file; every test gets its own server (fresh store, fresh hubs), so
// no test can leave state behind for the next one.
before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

beforeEach(async () => {
  server = await startServer(['--offline-grace-ms', '1500']);
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const row = (portal) => portal.locator('tr.visitor').first();

test('a visitor appears, navigates, is recognised when returning, and goes offline', async () => {
  const portal = await openPortal(browser, server);
  const shopper = await browser.newContext();
  const shop = await shopper.newPage();
  const errors = watchErrors(shop);

  // Appears within a second of the page having loaded, on the right page.
  await shop.goto(`${server.demo}/`);
  await row(portal).locator('.page-link', { hasText: 'Catalogue — Maison Demo' }).waitFor({ timeout: 1000 });
  assert.equal(await row(portal).locator('.dot').getAttribute('data-status'), 'active');
  // Locally nothing says where a visitor is; at the edge `request.cf` does (workerd's placeholder).
  const location = await row(portal).locator('[data-testid=location]').textContent();
  if (edge) assert.notEqual(location, 'unknown');
  else assert.equal(location, 'unknown');
  assert.equal(await row(portal).locator('[data-testid=returning]').count(), 0, 'a first visit is not returning');
  const visitorId = await shop.evaluate(() => window.Vitrine.visitorId());
  assert.equal(await row(portal).getAttribute('data-visitor-id'), visitorId);

  // Time on page ticks live.
  const before = await row(portal).locator('[data-testid=time-on-page]').textContent();
  await portal.waitForFunction(
    (b) => document.querySelector('tr.visitor [data-testid=time-on-page]')?.textContent !== b, before);

  // A full page navigation.
  await shop.click('text=Aurora desk lamp');
  await row(portal).locator('.page-link', { hasText: 'Aurora desk lamp — Maison Demo' }).waitFor();
  assert.match(await row(portal).locator('.page-link').getAttribute('href'), /\/product-lamp\.html$/);

  // A single-page-app navigation (history.pushState).
  await shop.click('text=← Catalogue');
  await row(portal).locator('.page-link', { hasText: 'Catalogue — Maison Demo' }).waitFor();
  await shop.click('[data-filter=Lighting]');
  await row(portal).locator('.page-link', { hasText: 'Lighting — Maison Demo' }).waitFor();
  assert.match(await row(portal).locator('.page-link').getAttribute('href'), /\?category=Lighting$/);

  // Details: the browsing history, most recent first.
  await row(portal).locator('.id').click();
  const details = portal.locator('[data-testid=details]');
  await details.locator('[data-testid=page-view-count]', { hasText: '4' }).waitFor();
  const history = await details.locator('[data-testid=history] li a').allTextContents();
  assert.deepEqual(history, [
    'Lighting — Maison Demo', 'Catalogue — Maison Demo', 'Aurora desk lamp — Maison Demo', 'Catalogue — Maison Demo',
  ]);
  assert.equal(await details.locator('[data-testid=visit-count]').textContent(), '1');

  // Closing the tab: offline after the grace period.
  await shop.close();
  const gone = portal.locator(`tr.visitor[data-visitor-id="${visitorId}"]`);
  await gone.locator('.dot[data-status=offline]').waitFor({ timeout: 10_000 });
  // Said in words too, and their clocks stopped when they left.
  assert.equal(await gone.locator('[data-testid=status-word]').textContent(), 'Offline');
  const stopped = await gone.locator('[data-testid=time-on-site]').textContent();
  await portal.waitForTimeout(2_200);
  assert.equal(await gone.locator('[data-testid=time-on-site]').textContent(), stopped);

  // The same browser 31 minutes later (we move its clock in storage) is a returning visitor.
  await shopper.addInitScript(() => {
    for (const key of Object.keys(localStorage)) {
      if (!key.startsWith('vitrine:')) continue;
      const saved = JSON.parse(localStorage.getItem(key));
      if (saved.backdated) continue;
      saved.lastActivityAt -= 31 * 60 * 1000;
      saved.backdated = true;
      localStorage.setItem(key, JSON.stringify(saved));
    }
  });
  const again = await shopper.newPage();
  await again.goto(`${server.demo}/product-vase.html`);
  const back = portal.locator(`tr.visitor[data-visitor-id="${visitorId}"]`);
  await back.locator('[data-testid=returning]').waitFor();
  await back.locator('.dot[data-status=active]').waitFor();
  await back.locator('.page-link', { hasText: 'Terra stoneware vase' }).waitFor();
  await portal.locator('[data-testid=details] [data-testid=visit-count]', { hasText: '2' }).waitFor();

  assert.deepEqual(errors, [], 'the widget never throws into the host page');
  await shopper.close();
  await portal.context().close();
});

test('availability switches the widget between chat and leave-a-message; the list goes full screen', async () => {
  const portal = await openPortal(browser, server);
  const shopper = await browser.newContext();
  const shop = await shopper.newPage();
  await shop.goto(`${server.demo}/product-chair.html`);
  const launcher = shop.locator('[data-vitrine-widget] button.launcher');
  await launcher.locator('text=Chat with us').waitFor();

  await portal.click('[data-testid=availability]');
  await launcher.locator('text=Leave a message').waitFor();
  await launcher.click();
  await shop.locator('[data-vitrine-widget] .panel', { hasText: 'Nobody is available' }).waitFor();

  await portal.click('[data-testid=availability]');
  await launcher.locator('text=Chat with us').waitFor();

  await portal.click('[data-testid=fullscreen]');
  await portal.locator('section.list.fullscreen').waitFor();
  const box = await portal.locator('section.list').boundingBox();
  const viewport = portal.viewportSize();
  assert.equal(Math.round(box.width), viewport.width);
  assert.equal(Math.round(box.height), viewport.height);
  // A row opens its details over the full-screen list; Esc closes them, then full screen.
  await portal.locator('tr.visitor .id').first().click();
  const details = portal.locator('[data-testid=details]');
  await details.waitFor();
  const detailsBox = await details.boundingBox();
  assert.ok(detailsBox.x >= 0 && detailsBox.x + detailsBox.width <= viewport.width + 1, 'the details are on screen');
  assert.equal(await portal.evaluate(() => {
    const d = document.querySelector('[data-testid=details]').getBoundingClientRect();
    return document.elementFromPoint(d.x + d.width / 2, d.y + 20)?.closest('[data-testid=details]') !== null;
  }), true, 'the details are on top of the list');
  await portal.keyboard.press('Escape');
  await details.waitFor({ state: 'detached' });
  await portal.locator('section.list.fullscreen').waitFor();
  await portal.keyboard.press('Escape');
  await portal.locator('section.list.fullscreen').waitFor({ state: 'detached' });

  // The widget keeps to its one global and its shadow root: the page's own styles are intact.
  assert.equal(await shop.evaluate(() => typeof window.Vitrine), 'object');
  assert.equal(await shop.evaluate(() => getComputedStyle(document.body).fontFamily.includes('Georgia')), true);
  await shopper.close();
  await portal.context().close();
});

test('a wrong password is refused with a clear message', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.app}/portal/`);
  await page.fill('#email', 'admin@demo.shop');
  await page.fill('#password', 'not-the-password');
  await page.click('button[type=submit]');
  await page.locator('[role=alert]', { hasText: 'wrong email or password' }).waitFor();
  await context.close();
});

test('an invited agent opens the link once, chooses a password, and works at once', async (t) => {
  const admin = await openPortal(browser, server);
  t.after(() => admin.context().close());
  await admin.click('[data-testid=page-admin]');
  await admin.click('[data-testid=admin-agents]');
  const invite = admin.locator('form.editor', { hasText: 'Invite' });
  await invite.locator('input[name=name]').fill('Noa');
  await invite.locator('input[name=email]').fill('noa@demo.shop');
  await invite.locator('button[type=submit]').click();
  // No platform e-mail on the test server: the admin is shown the link to pass on, and
  // the invitation waits among the pending ones.
  const link = await admin.locator('[data-testid=invite-link]').inputValue();
  assert.match(link, /\/portal\/#invite=[0-9a-f]{64}$/);
  await admin.locator('[data-testid=pending-invitations] td', { hasText: 'noa@demo.shop' }).waitFor();
  await admin.screenshot({ path: screenshot('invitation-admin') });

  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(link);
  const accept = page.locator('[data-testid=accept-invitation]');
  await accept.locator('p', { hasText: 'invites you to Demo shop as Agent' }).waitFor();
  assert.equal(await page.locator('[data-testid=connection]').count(), 0);
  await accept.locator('#password').fill('my own good password');
  await accept.locator('#repeat').fill('my own good passwrod');
  await accept.locator('button[type=submit]').click();
  await accept.locator('[role=alert]', { hasText: 'differ' }).waitFor();
  await page.screenshot({ path: screenshot('invitation-accept') });
  await accept.locator('#repeat').fill('my own good password');
  await accept.locator('button[type=submit]').click();
  await page.locator('[data-testid=page-visitors]').waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the spent link leaves the address bar');

  // The link is spent; the chosen password signs in.
  await page.click('text=Sign out');
  await page.goto(link);
  await page.locator('[data-testid=accept-invitation] [role=alert]', { hasText: 'no longer valid' }).waitFor();
  await page.goto(`${server.app}/portal/`);
  await page.fill('#email', 'noa@demo.shop');
  await page.fill('#password', 'my own good password');
  await page.click('button[type=submit]');
  await page.locator('[data-testid=page-visitors]').waitFor();
  // Forgot password on a server that cannot send e-mail: it says so.
  await page.click('text=Sign out');
  await page.click('[data-testid=forgot-password]');
  await page.fill('#email', 'noa@demo.shop');
  await page.click('[data-testid=forgot] button[type=submit]');
  await page.locator('[data-testid=forgot] [role=alert]', { hasText: 'cannot send e-mail' }).waitFor();
});

test('the portal and the shop load without a failed request: no 401 while signed out, no missing favicon', async (t) => {
  const context = await browser.newContext();
  t.after(() => context.close());
  const failed = [];
  context.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  context.on('requestfailed', (r) => failed.push(`failed ${r.url()}`));
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));

  // Signed out: the sign-in form, asked for without an error.
  await page.goto(`${server.app}/portal/`);
  await page.locator('#email').waitFor();
  // Signed in, then reloaded (the session is found, still without an error).
  await page.fill('#email', 'admin@demo.shop');
  await page.fill('#password', 'vitrine-demo');
  await page.click('button[type=submit]');
  await page.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  await page.reload();
  await page.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  // The shop with the widget.
  await page.goto(`${server.demo}/product-lamp.html`);
  await page.locator('[data-vitrine-widget]').waitFor({ state: 'attached' });
  // Favicons are asked for lazily: give the browser a moment to ask.
  await page.waitForTimeout(500);
  assert.deepEqual(failed, []);
  assert.deepEqual(consoleErrors, []);
});
