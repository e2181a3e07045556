// Co-browsing (P8) in two real Chromium contexts: the agent views the visitor's page live
// after the visitor accepts — the same text, a pushState filter, the next page — while
// payment fields and passwords never leave the visitor's browser; the agent points and the
// visitor sees where. A visitor who says no sends nothing. A heavy page (20,000 elements,
// canvas, another site's frame, shadow DOM, an animation storm, a page too large to send)
// degrades with notes the agent can read, and chat goes on for everyone.
import { createServer } from 'node:http';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, edge, perTestServer, watchErrors } from './harness.mjs';

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
  // The visitor's window size (the test's default viewport).
  await mirror.locator('[data-testid=mirror-viewport]', { hasText: '1280 × 720' }).waitFor();

  // The visitor scrolls: the mirror scrolls with them.
  await shop.evaluate(() => { document.body.style.minHeight = '3000px'; scrollTo(0, 400); });
  const scrolled = Date.now() + 15_000;
  while ((await page.locator('html').evaluate((e) => e.ownerDocument.scrollingElement.scrollTop)) !== 400) {
    assert.ok(Date.now() < scrolled, 'the mirror follows the visitor\'s scroll');
    await new Promise((r) => setTimeout(r, 200));
  }
  await shop.evaluate(() => scrollTo(0, 0));

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
  // On a form the shop opted in: a hidden token, a password shown by a "show password"
  // toggle, an editable area. None of their contents leaves the browser.
  await shop.evaluate(() => {
    const form = document.body.appendChild(document.createElement('form'));
    form.setAttribute('data-vitrine-unmask', '');
    form.innerHTML = '<input type="hidden" name="csrf" value="csrf-token-7f3a"><input type="password" id="pin">'
      + '<div contenteditable id="editor"></div>';
  });
  await shop.fill('#pin', 'toggle-secret-42');
  await shop.evaluate(() => { document.getElementById('pin').type = 'text'; });
  await shop.type('#pin', 'X');
  await shop.click('#editor');
  await shop.keyboard.type('editor-secret-text');
  const shown = Date.now() + 15_000;
  while ((await page.locator('#editor').textContent().catch(() => '')) !== '*'.repeat(18)
    || (await page.locator('#pin').inputValue().catch(() => '')).length !== 17) {
    assert.ok(Date.now() < shown, `the editor shows ${await page.locator('#editor').textContent().catch(() => '?')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(await page.locator('#pin').inputValue(), /^•+$/, 'a shown password stays masked');
  assert.equal(await page.locator('[name=csrf]').count(), 0, 'hidden inputs are not recorded');
  await shop.focus('[name=password]');
  for (const secret of ['4242 4242', '4242424242', 'hunter2-secret', 'Rue des Lilas', 'csrf-token-7f3a',
    'toggle-secret', 'editor-secret']) {
    assert.ok(!sent.some((f) => f.includes(secret)), `${secret} never left the visitor's browser`);
    assert.ok(!received.some((f) => f.includes(secret)), `${secret} never reached the portal`);
  }
  assert.ok(received.some((f) => f.includes('WELCOME10')), 'the capture does see what is streamed');

  // The element under the visitor's focus is outlined; their pointer moves in the mirror.
  await page.locator('[name=password][data-vitrine-focus]').waitFor();
  await shop.mouse.move(120, 140);
  const pointer = portal.frameLocator('[data-testid=mirror-frame]').locator('.replayer-mouse');
  const near = async () => {
    const [x, y] = await pointer.evaluate((e) => [parseFloat(e.style.left), parseFloat(e.style.top)]);
    return Math.abs(x - 120) <= 3 && Math.abs(y - 140) <= 3;
  };
  const moved = Date.now() + 15_000;
  while (!(await near())) {
    assert.ok(Date.now() < moved, 'the visitor\'s pointer shows in the mirror');
    await new Promise((r) => setTimeout(r, 200));
  }

  // On the edge: the site's Durable Object loses its memory (an eviction). The viewer's
  // next refresh brings the session back, and the visitor, who never pressed Stop, is not
  // asked again (was: asked again, and the mirror waited for ever).
  if (edge) {
    await env.server.evict('demo-shop');
    await shop.evaluate(() => {
      document.body.appendChild(document.createElement('h3')).textContent = 'Back after the eviction';
    });
    await page.locator('h3', { hasText: 'Back after the eviction' }).waitFor({ timeout: 40_000 });
    assert.equal(await shop.locator(`${UI} .bar button.ok`).count(), 0, 'the visitor is not asked again');
  }

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
  // From the live list's row this time.
  await portal.locator('tr.visitor').first().locator('[data-testid=row-view-page]').click();
  const mirror = portal.locator('[data-testid=mirror]');
  await shop.locator(`${UI} .bar button:not(.ok)`).click();
  await mirror.locator('[data-testid=mirror-state][data-state=refused]').waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!sent.some((f) => f.includes('cobrowse_events')), 'no page event was sent');
});

/** An image host that counts who fetched its picture (never cached). */
async function imageHost() {
  const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
  const host = { fetched: 0 };
  const server = createServer((req, res) => {
    host.fetched += 1;
    res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
    res.end(PNG);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  host.origin = `http://127.0.0.1:${server.address().port}`;
  host.stop = () => new Promise((r) => server.close(r));
  return host;
}

test('the mirror loads the page\'s images only from the site\'s origins, never from a host the visitor names', async (t) => {
  const [shopCdn, tracker] = [await imageHost(), await imageHost()];
  t.after(() => Promise.all([shopCdn.stop(), tracker.stop()]));
  const { portal } = await portalWatching();
  // The admin lists the shop's origins: its pages and its image host.
  await portal.evaluate(async (origins) => {
    const sites = await (await fetch('/api/admin/sites')).json();
    const site = sites.find((s) => s.site_key === 'demo-shop');
    const input = Object.fromEntries(['name', 'active', 'consultants', 'language', 'typing_preview', 'cobrowse_consent']
      .map((k) => [k, site[k]]));
    const res = await fetch('/api/admin/sites/demo-shop', {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...input, allowed_origins: origins }),
    });
    if (!res.ok) throw new Error(`site update: ${res.status} ${await res.text()}`);
  }, [env.server.demo, shopCdn.origin]);
  await portal.reload();
  await portal.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  const { shop } = await openShop('/');
  t.after(() => Promise.all([portal.context().close(), shop.context().close()]));
  // The visitor's page shows one picture from the shop's host and one from elsewhere.
  await shop.evaluate(([a, b]) => {
    for (const [id, src] of [['cdn', a], ['tracker', b]]) {
      const img = document.body.appendChild(document.createElement('img'));
      Object.assign(img, { id, src, alt: id });
    }
  }, [`${shopCdn.origin}/p.png`, `${tracker.origin}/p.png`]);
  await shop.waitForFunction(() => [...document.images].filter((i) => i.alt && i.complete).length === 2);
  assert.deepEqual([shopCdn.fetched, tracker.fetched], [1, 1], 'the visitor\'s browser fetched both');

  const mirror = await viewPage(portal);
  await shop.locator(`${UI} .bar button.ok`).click();
  await mirror.locator('[data-testid=mirror-state][data-state=viewing]').waitFor();
  const page = portal.frameLocator('[data-testid=mirror-frame]').frameLocator('iframe');
  await page.locator('img#tracker').waitFor({ state: 'attached' });
  // The agent's browser fetched the shop's picture…
  const until = Date.now() + 15_000;
  while (shopCdn.fetched < 2) {
    assert.ok(Date.now() < until, 'the mirror shows the picture from the shop\'s host');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await page.locator('img#cdn').evaluate((i) => i.naturalWidth), 1);
  // …and never called the other host.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(tracker.fetched, 1, 'the mirror never called the host the visitor named');
  assert.equal(await page.locator('img#tracker').evaluate((i) => i.naturalWidth), 0);
});

test('a heavy page degrades with notes the agent can read, and chat goes on for everyone', async (t) => {
  const { portal } = await portalWatching();
  const { shop, errors } = await openShop('/');
  const others = [];
  t.after(() => Promise.all([portal.context().close(), shop.context().close(), ...others.map((o) => o.context().close())]));
  // 20,000 elements, a drawing, a frame from another site (the portal's origin), and an
  // open shadow root.
  await shop.evaluate((foreign) => {
    const heavy = document.createElement('div');
    heavy.id = 'heavy';
    for (let i = 0; i < 20_000; i++) heavy.appendChild(document.createElement('i')).textContent = String(i);
    document.body.appendChild(heavy);
    const canvas = document.body.appendChild(document.createElement('canvas'));
    canvas.getContext('2d').fillRect(0, 0, 100, 50);
    const frame = document.body.appendChild(document.createElement('iframe'));
    frame.src = foreign;
    const host = document.body.appendChild(document.createElement('div'));
    host.id = 'shadow-host';
    host.attachShadow({ mode: 'open' }).innerHTML = '<p class="inside">Made in the shadow</p>';
  }, `${env.server.app}/widget.json`);

  await portal.locator('tr.visitor').first().locator('[data-testid=row-view-page]').click();
  const mirror = portal.locator('[data-testid=mirror]');
  await shop.locator(`${UI} .bar button.ok`).click();
  const page = portal.frameLocator('[data-testid=mirror-frame]').frameLocator('iframe');
  await page.locator('#heavy i:last-child', { hasText: '19999' }).waitFor();
  await page.locator('#shadow-host .inside', { hasText: 'Made in the shadow' }).waitFor();
  const notes = mirror.locator('[data-testid=mirror-notes]');
  await notes.locator('li', { hasText: 'drawing (canvas) is not shown' }).waitFor();
  await notes.locator('li', { hasText: 'frame from another site is not shown' }).waitFor();
  await notes.locator('li', { hasText: /A large page \(20,\d{3} elements\)/ }).waitFor();

  // An animation storm: past the page's byte budget the agent is told…
  await shop.evaluate(() => {
    const box = document.body.appendChild(document.createElement('div'));
    box.id = 'storm';
    for (let i = 0; i < 300; i++) box.appendChild(document.createElement('b'));
    window.storm = setInterval(() => {
      for (const b of box.children) b.textContent = Math.random().toString(36).repeat(4);
    }, 10);
  });
  await mirror.locator('[data-testid=mirror-state][data-state=degraded]').waitFor();
  // …while another visitor's chat reaches the agent.
  const other = await openShop('/product-vase.html');
  others.push(other.shop);
  await other.shop.click(`${W} button.launcher`);
  await other.shop.fill(`${W} textarea`, 'Is the vase in stock?');
  await other.shop.click(`${W} button.send`);
  await portal.locator('[data-testid=pending-badge]', { hasText: '1' }).waitFor();
  // Calm again: the mirror is live from a fresh snapshot.
  await shop.evaluate(() => {
    clearInterval(window.storm);
    document.getElementById('storm').remove();
    const calm = document.body.appendChild(document.createElement('h2'));
    calm.id = 'calm';
    calm.textContent = 'Calm again';
  });
  await mirror.locator('[data-testid=mirror-state][data-state=viewing]').waitFor({ timeout: 45_000 });
  await page.locator('h2#calm', { hasText: 'Calm again' }).waitFor();

  // The next page is light: no notes. Then text too large to send: a note, nothing more…
  await shop.goto(`${env.server.demo}/cart.html`);
  await page.locator('h1', { hasText: 'Your cart' }).waitFor();
  await notes.waitFor({ state: 'detached' });
  await shop.evaluate(() => {
    document.body.appendChild(document.createElement('pre')).textContent = 'y'.repeat(3_500_000);
  });
  await notes.locator('li', { hasText: 'This page is too large to show (3.' }).waitFor();
  // …until the visitor's next page.
  await shop.goto(`${env.server.demo}/product-lamp.html`);
  await page.locator('h1', { hasText: 'lamp' }).waitFor();
  await notes.waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
});
