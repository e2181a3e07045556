// Co-browsing (P8) in two real Chromium contexts: the agent views the visitor's page live
// after the visitor accepts — the same text, a pushState filter, the next page — while
// payment fields and passwords never leave the visitor's browser; the agent points and the
// visitor sees where. A visitor who says no sends nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, perTestServer, watchErrors } from './harness.mjs';

const env = perTestServer();
const W = '[data-vitrine-widget]';
/** The co-browsing bar and the agent's pointer (apart from the chat panel). */
const UI = '[data-vitrine-ui]';

/** A shop page, with every frame its widget sends. */
async function openShop(path) {
  const context = await env.browser.newContext();
  const shop = await context.newPage();
  const errors = watchErrors(shop);
  const sent = [];
  shop.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
  await shop.goto(`${env.server.demo}${path}`);
  await shop.locator(`${W} button.launcher`).waitFor();
  return { shop, errors, sent };
}

/** The portal signed in as the admin, with every frame the server sends it. */
async function portalWatching() {
  const context = await env.browser.newContext();
  const portal = await context.newPage();
  const received = [];
  portal.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(String(f.payload))));
  await portal.goto(`${env.server.app}/portal/`);
  await portal.fill('#email', ADMIN.email);
  await portal.fill('#password', ADMIN.password);
  await portal.click('button[type=submit]');
  await portal.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  return { portal, received };
}

async function viewPage(portal) {
  await portal.locator('tr.visitor').first().locator('td').first().click();
  await portal.locator('[data-testid=details] [data-testid=view-page]').click();
  return portal.locator('[data-testid=mirror]');
}

test('the agent views the page live, the visitor consents, secrets stay in the browser, the agent points', async (t) => {
  // The portal first, so its socket (and its frame capture) is there before any stream.
  const { portal, received } = await portalWatching();
  const { shop, errors, sent } = await openShop('/');
  t.after(() => Promise.all([portal.context().close(), shop.context().close()]));

  const mirror = await viewPage(portal);
  await mirror.locator('[data-testid=mirror-state][data-state=waiting]').waitFor();
  await shop.locator(`${UI} .bar button.ok`).click();
  await mirror.locator('[data-testid=mirror-state][data-state=viewing]').waitFor();
  await shop.locator(`${UI} .bar button.stop`).waitFor(); // the visitor sees it, and can stop it

  const page = portal.frameLocator('[data-testid=mirror-frame]').frameLocator('iframe');
  await page.locator('.card', { hasText: 'Oslo lounge chair' }).waitFor();
  await page.locator('.price', { hasText: '€449.00' }).waitFor();
  assert.equal(await page.locator('script').count(), 0, 'none of the shop\'s scripts is rebuilt');

  // A single-page-app filter (pushState): the mirror follows.
  await shop.click('[data-filter=Lighting]');
  await page.locator('.card', { hasText: 'Oslo lounge chair' }).waitFor({ state: 'hidden' });

  // The next page: the new page records on, consent kept.
  await shop.goto(`${env.server.demo}/cart.html`);
  await page.locator('h1', { hasText: 'Your cart' }).waitFor();
  await shop.fill('[name=coupon]', 'WELCOME10');
  await shop.fill('[name=card]', '4242 4242 4242 4242');
  await shop.fill('[name=password]', 'hunter2-secret');
  // Typing shows in the mirror where the shop opted the field in…
  const valueOf = (name) => page.locator(`[name=${name}]`).inputValue();
  const until = Date.now() + 15_000;
  while ((await valueOf('coupon')) !== 'WELCOME10') {
    assert.ok(Date.now() < until, `the coupon shows ${await valueOf('coupon')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // …and the secret fields, typed before it, arrived masked.
  for (const name of ['card', 'password']) {
    const value = await valueOf(name);
    assert.match(value, /^•*$/, `${name} shows ${value}`);
  }
  assert.equal(await page.getByText('12 Rue des Lilas').count(), 0, 'marked text is masked');
  for (const secret of ['4242 4242', '4242424242', 'hunter2-secret', 'Rue des Lilas']) {
    assert.ok(!sent.some((f) => f.includes(secret)), `${secret} never left the visitor's browser`);
    assert.ok(!received.some((f) => f.includes(secret)), `${secret} never reached the portal`);
  }
  assert.ok(received.some((f) => f.includes('WELCOME10')), 'the capture does see what is streamed');

  // The agent points; the visitor's page shows where.
  await portal.frameLocator('[data-testid=mirror-frame]').locator('#touch').click({ position: { x: 40, y: 40 } });
  await shop.locator(`${UI} .point`).waitFor();

  // The visitor stops it: the agent is told.
  await shop.locator(`${UI} .bar button.stop`).click();
  await mirror.locator('[data-testid=mirror-state][data-state=stopped]').waitFor();
  assert.deepEqual(errors, []);
});

test('a visitor who says no sends nothing of the page', async (t) => {
  const { portal } = await portalWatching();
  const { shop, sent } = await openShop('/product-lamp.html');
  t.after(() => Promise.all([portal.context().close(), shop.context().close()]));
  const mirror = await viewPage(portal);
  await shop.locator(`${UI} .bar button:not(.ok)`).click();
  await mirror.locator('[data-testid=mirror-state][data-state=refused]').waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!sent.some((f) => f.includes('cobrowse_events')), 'no page event was sent');
});
