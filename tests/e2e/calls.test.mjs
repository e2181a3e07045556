// Browser end-to-end for calls in the product (V1–V9, P4, P7, C14): agents in the portal
// and visitors in the demo shop's widget, each in their own Chromium context with fake
// camera and microphone, through the real server and its embedded media node.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchCallBrowser, openPortal, screenshot, watchErrors, whipClient } from './harness.mjs';

let server;
let browser;

// One browser for the file; every test gets its own server (fresh store, fresh hubs), so
// no test can leave state behind for the next one.
before(async () => {
  browser = await launchCallBrowser();
});

after(async () => {
  await browser?.close();
});

beforeEach(async () => {
  server = await startServer();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const W = '[data-vitrine-widget]';
/** The widget's call UI (its own shadow root; Playwright's CSS pierces open shadow roots). */
const CALL = '[data-vitrine-call] .call';

/** A visitor in their own context; `init` runs in the page before the shop's scripts. */
async function openShop(path = '/', { init } = {}) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const shop = await context.newPage();
  const errors = watchErrors(shop);
  if (process.env.CALL_DEBUG) shop.on('console', (m) => console.log(`[shop] ${m.text()}`));
  await shop.goto(`${server.demo}${path}`);
  await shop.locator(`${W} button.launcher`).waitFor();
  // The hub names a new browser; the widget knows once welcomed (its launcher shows).
  const id = await shop.evaluate(() => window.Vitrine.visitorId());
  return { shop, errors, id, short: `Visitor ${id.slice(0, 6)}` };
}

/** Opens a visitor's details in the portal's live list. */
async function openDetails(portal, visitorId) {
  if (process.env.CALL_DEBUG && !portal.debugging) {
    portal.debugging = true;
    portal.on('console', (m) => console.log(`[portal] ${m.text()}`));
  }
  await portal.click('[data-testid=page-visitors]');
  // On the ID: the middle of the row is the visitor's page link.
  await portal.locator(`tr.visitor[data-visitor-id="${visitorId}"] .id`).click();
  await portal.locator('[data-testid=details]').waitFor();
}

/** Waits until the video of the tile labelled `label` has decoded more than a few frames.
 *  The element is looked up again on every try: a redraw may replace the tile. */
async function seesVideo(page, root, label, timeout = 15_000) {
  const video = page.locator(`${root} .tile`, { hasText: label }).first().locator('video');
  const deadline = Date.now() + timeout;
  let last = 'no such tile';
  while (Date.now() < deadline) {
    last = await video.evaluate((v) => ({ width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames, paused: v.paused }), null, { timeout: 1_000 })
      .catch((e) => `not found: ${e.message.split('\n')[0]}`);
    if (last.width > 0 && last.frames > 5) return;
    await page.waitForTimeout(100);
  }
  assert.fail(`no video from "${label}" after ${timeout} ms: ${JSON.stringify(last)}`);
}

/** The labels of the tiles a call panel shows (excluding "You"). */
async function tiles(page, root) {
  const labels = await page.locator(`${root} .tile span`).allTextContents();
  return labels.filter((l) => l !== 'You').sort();
}

async function waitTiles(page, root, expected, what) {
  const started = Date.now();
  let last;
  while (Date.now() - started < 15_000) {
    last = await tiles(page, root);
    if (JSON.stringify(last) === JSON.stringify([...expected].sort())) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: tiles are ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}`);
}

/** The name label of `label`'s tile lies on its video (not far below it). */
async function labelOnVideo(page, root, label) {
  const tile = page.locator(`${root} .tile`, { hasText: label }).first();
  const video = await tile.locator('video').boundingBox();
  const name = await tile.locator('span').boundingBox();
  assert.ok(video && name, `${label}: no tile`);
  assert.ok(name.y >= video.y && name.y + name.height <= video.y + video.height + 1,
    `${label}: label at y=${name.y}..${name.y + name.height}, video at ${video.y}..${video.y + video.height}`);
}

async function confirm(portal) {
  await portal.locator('.call [role=alertdialog] [data-testid=confirm]').click();
}

test('V1 proactive call: setting up, preview of the agent, accept, camera off at first, in-call mark, leave with confirmation, call notes', async (t) => {
  const portal = await openPortal(browser, server);
  const v = await openShop('/product-lamp.html');
  t.after(() => Promise.all([portal, v.shop].map((p) => p.context().close())));

  await openDetails(portal, v.id);
  await portal.click('[data-testid=start-call]');
  // The agent sees "setting up" with Cancel until someone accepts.
  await portal.locator('[data-testid=call-setting-up]', { hasText: v.short }).waitFor();

  // The visitor is asked, with the agent's camera as a preview.
  await v.shop.locator(CALL, { hasText: 'Demo admin is calling you' }).waitFor();
  await seesVideo(v.shop, CALL, 'Demo admin');
  await v.shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();

  // Both in the call: the visitor sees the agent; the agent's popup is gone.
  await seesVideo(v.shop, CALL, 'Demo admin');
  await portal.locator('[data-testid=call-setting-up]').waitFor({ state: 'detached' });
  await waitTiles(portal, '.call', [v.short], 'agent tiles');
  // P4: marked in call in the live list.
  await portal.locator(`tr.visitor[data-visitor-id="${v.id}"] .badge.incall`).waitFor();

  // V3: the visitor's camera is off until they switch it on: the agent sees their
  // initials, then their video; off again, the initials come back (not a frozen frame).
  const camera = v.shop.locator(`${CALL} button`, { hasText: 'Camera' });
  assert.equal(await camera.getAttribute('aria-pressed'), 'false');
  const visitorTile = portal.locator('.call .tile', { hasText: v.short });
  await visitorTile.locator('[data-testid=initials]', { hasText: 'V' }).waitFor();
  await camera.click();
  await v.shop.locator(`${CALL} button[aria-pressed=true]`, { hasText: 'Camera' }).waitFor();
  await seesVideo(portal, '.call', v.short);
  assert.equal(await visitorTile.locator('[data-testid=initials]').count(), 0);
  await camera.click();
  await visitorTile.locator('[data-testid=initials]').waitFor();
  await camera.click();
  await seesVideo(portal, '.call', v.short);

  // P8 from the call: the visitor's tile opens their page (they are asked first).
  await visitorTile.locator('[data-testid=view-participant-page]').click();
  await portal.locator('[data-testid=mirror] [data-testid=mirror-state][data-state=waiting]').waitFor();
  await v.shop.locator('[data-vitrine-ui] .bar', { hasText: 'would like to see this page' }).waitFor();
  await portal.locator('[data-testid=mirror-close]').click();

  // V6: layouts on both sides, named for screen readers; the name labels stay on the videos.
  await portal.getByRole('button', { name: 'Call full screen' }).click();
  await portal.locator('.call.full').waitFor();
  assert.equal(await portal.getByRole('button', { name: 'Call full screen' }).getAttribute('aria-pressed'), 'true');
  await labelOnVideo(portal, '.call', v.short);
  await portal.getByRole('button', { name: 'Call docked right' }).click();
  await portal.locator('.call.docked').waitFor();
  await labelOnVideo(portal, '.call', v.short);
  await labelOnVideo(portal, '.call', 'You');
  // A redraw (here the layout) keeps the playing <video>: no black flash, no restart.
  const agentVideo = v.shop.locator(`${CALL} .tile`, { hasText: 'Demo admin' }).locator('video');
  await agentVideo.evaluate((video) => { video.dataset.before = 'layout'; });
  await v.shop.getByRole('button', { name: 'Call full screen' }).click();
  await v.shop.locator('[data-vitrine-call] .call.full').waitFor();
  assert.deepEqual(await agentVideo.evaluate((video) => [video.dataset.before, video.paused]), ['layout', false]);
  await labelOnVideo(v.shop, CALL, 'Demo admin');

  // V5: leaving asks first; Cancel keeps the call.
  await portal.click('[data-testid=leave-call]');
  await portal.locator('.call [role=alertdialog]', { hasText: 'Leave the call?' }).waitFor();
  await portal.click('.call [role=alertdialog] button.ghost');
  assert.equal(await portal.locator('.call [role=alertdialog]').count(), 0);
  await portal.click('[data-testid=leave-call]');
  await confirm(portal);
  await portal.locator('[data-testid=call-ended]').waitFor();
  await v.shop.locator(CALL, { hasText: /ended/i }).waitFor();
  await portal.locator(`tr.visitor[data-visitor-id="${v.id}"] .badge.incall`).waitFor({ state: 'detached' });
  // "The call ended" closes: by its button, or by itself after a few seconds.
  await portal.click('[data-testid=close-call-ended]');
  await portal.locator('[data-testid=call-ended]').waitFor({ state: 'detached' });
  await v.shop.locator(CALL, { hasText: /ended/i }).waitFor({ state: 'detached', timeout: 12_000 });

  // C14: the chat shows when the call started and how long it lasted.
  await v.shop.click(`${W} button.launcher`);
  await v.shop.locator(`${W} .msg.system`, { hasText: 'Call started with Demo admin' }).waitFor();
  await v.shop.locator(`${W} .msg.system`, { hasText: /Call ended · \d+:\d\d/ }).waitFor();
  assert.deepEqual(v.errors, []);
});

test('V1 cancel and decline: the agent cancels while ringing; a visitor who declines never appears', async (t) => {
  const portal = await openPortal(browser, server);
  const v = await openShop('/');
  t.after(() => Promise.all([portal, v.shop].map((p) => p.context().close())));

  await openDetails(portal, v.id);
  await portal.click('[data-testid=start-call]');
  await v.shop.locator(CALL, { hasText: 'is calling you' }).waitFor();
  await portal.click('[data-testid=cancel-call]');
  await v.shop.locator(CALL, { hasText: 'is calling you' }).waitFor({ state: 'detached' });
  await portal.locator('[data-testid=call-panel]').waitFor({ state: 'detached' });

  await portal.click('[data-testid=start-call]');
  await v.shop.locator(`${CALL} button`, { hasText: 'Decline' }).click();
  await portal.locator('[data-testid=call-setting-up]', { hasText: `Declined: ${v.short}` }).waitFor();
  assert.deepEqual(await tiles(portal, '.call'), []);
  await portal.click('[data-testid=cancel-call]');
  await portal.locator('[data-testid=call-panel]').waitFor({ state: 'detached' });
  assert.deepEqual(v.errors, []);
});

test('V2 + V7 reactive call: the visitor asks, the list shows it, the agent answers; a second caller gets "busy" and the agent a missed call', async (t) => {
  const portal = await openPortal(browser, server);
  const a = await openShop('/');
  const b = await openShop('/product-lamp.html');
  t.after(() => Promise.all([portal, a.shop, b.shop].map((p) => p.context().close())));

  await a.shop.click('button.vitrine-call');
  await a.shop.locator('button.vitrine-call', { hasText: 'Calling… (cancel)' }).waitFor();
  // P7: the call icon in the live list, and "Answer call" in the details.
  await portal.locator(`tr.visitor[data-visitor-id="${a.id}"] .badge.call`).waitFor();
  await openDetails(portal, a.id);
  await portal.click('[data-testid=answer-call]');
  await seesVideo(a.shop, CALL, 'Demo admin');
  await waitTiles(portal, '.call', [a.short], 'agent tiles');
  await portal.locator(`tr.visitor[data-visitor-id="${a.id}"] .badge.call`).waitFor({ state: 'detached' });
  await a.shop.locator('button.vitrine-call', { hasText: 'Request a call' }).waitFor();

  // The agent is busy: the second visitor is not added, and is told so.
  await b.shop.click('button.vitrine-call');
  await b.shop.locator('button.vitrine-call', { hasText: /busy/ }).waitFor();
  await portal.locator('[data-testid=notifications] .count').waitFor();
  await portal.click('[data-testid=notifications]');
  await portal.locator('[data-testid=notification-menu]', { hasText: `Missed call from visitor ${b.id.slice(0, 8)}` }).waitFor();
  assert.deepEqual(await tiles(portal, '.call'), [a.short]);
  assert.equal(await b.shop.locator(CALL).count(), 0);

  // The visitor hangs up: the call ends for the agent too (a 1:1 with nobody left).
  await a.shop.locator(`${CALL} button`, { hasText: 'Hang up' }).click();
  await waitTiles(portal, '.call', [], 'after hang-up');
  await portal.click('[data-testid=leave-call]');
  await confirm(portal);
  await portal.locator('[data-testid=call-panel]').waitFor({ state: 'detached' });
  assert.deepEqual([...a.errors, ...b.errors], []);
});

test('V4 + V5 group call: select users, only those who accept appear, screen share, remove with confirmation, add a guest, end for all', async (t) => {
  const portal = await openPortal(browser, server);
  const vs = [];
  for (const path of ['/', '/product-lamp.html', '/']) vs.push(await openShop(path));
  t.after(() => Promise.all([portal, ...vs.map((v) => v.shop)].map((p) => p.context().close())));
  const [v1, v2, v3] = vs;

  // "Select users": pick the three, then start one call.
  await portal.click('[data-testid=page-visitors]');
  await portal.click('[data-testid=select-users]');
  for (const v of vs) await portal.locator(`tr.visitor[data-visitor-id="${v.id}"] [data-testid=pick]`).check();
  await portal.locator('[data-testid=picked-count]', { hasText: '3 of 10 selected' }).waitFor();
  await portal.click('[data-testid=call-selected]');
  for (const v of vs) await v.shop.locator(CALL, { hasText: 'Demo admin is calling you' }).waitFor();

  await v1.shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  await v2.shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  await v3.shop.locator(`${CALL} button`, { hasText: 'Decline' }).click();
  await waitTiles(portal, '.call', [v1.short, v2.short], 'the two who accepted');
  // Visitors see each other too (audio-only tiles while cameras are off) and the agent's video.
  // …knowing each other only as seats ("Guest 2"), never by visitor ID.
  await waitTiles(v1.shop, CALL, ['Demo admin', 'Guest 2'], 'v1 tiles');
  await seesVideo(v2.shop, CALL, 'Demo admin');

  // Screen share from a visitor reaches the agent and the other visitor as an extra tile.
  await v1.shop.evaluate(() => {
    // getDisplayMedia needs a picker; hand it a canvas stream instead.
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 180;
    const ctx = canvas.getContext('2d');
    setInterval(() => { ctx.fillStyle = `hsl(${Date.now() / 10 % 360},80%,50%)`; ctx.fillRect(0, 0, 320, 180); }, 50);
    navigator.mediaDevices.getDisplayMedia = async () => canvas.captureStream(15);
  });
  await v1.shop.locator(`${CALL} button`, { hasText: 'Screen' }).click();
  await seesVideo(portal, '.call', `${v1.short} (screen)`);
  await seesVideo(v2.shop, CALL, 'Guest 1 (screen)');

  // Remove v2, with confirmation: v2 is told, and disappears for everyone.
  await portal.locator('.call .tile', { hasText: v2.short }).locator('[data-testid=remove-participant]').click();
  await portal.locator('.call [role=alertdialog]', { hasText: `Remove ${v2.short} from the call?` }).waitFor();
  await confirm(portal);
  await v2.shop.locator(CALL, { hasText: /removed/i }).waitFor();
  await waitTiles(portal, '.call', [v1.short, `${v1.short} (screen)`], 'after removal');
  await waitTiles(v1.shop, CALL, ['Demo admin'], 'v1 after removal');

  // Add the visitor who declined: "Add and invite guest" from their details.
  await openDetails(portal, v3.id);
  await portal.click('[data-testid=add-to-call]');
  await v3.shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  await waitTiles(portal, '.call', [v1.short, `${v1.short} (screen)`, v3.short], 'after adding');
  await seesVideo(v3.shop, CALL, 'Demo admin');

  // Leave call (confirmed) ends it for everyone.
  await portal.click('[data-testid=leave-call]');
  await confirm(portal);
  for (const v of [v1, v3]) await v.shop.locator(CALL, { hasText: /ended/i }).waitFor();
  assert.deepEqual(vs.flatMap((v) => v.errors), []);
});

test('V8 + V9 navigate during a call: the visitor follows and rejoins; only allowed origins; interaction hand-over and re-sync', async (t) => {
  const portal = await openPortal(browser, server);
  const v = await openShop('/');
  t.after(() => Promise.all([portal, v.shop].map((p) => p.context().close())));

  // Restrict the chat to the demo shop's origin (A2) so navigation elsewhere is refused.
  const site = await v.shop.evaluate(() => document.querySelector('script[data-site]').getAttribute('data-site'));
  const status = await portal.evaluate(async ({ site, origin }) => {
    const res = await fetch(`/api/admin/sites/${site}`, {
      method: 'PUT', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Demo shop', active: true, allowed_origins: [origin] }),
    });
    return res.status;
  }, { site, origin: server.demo });
  assert.equal(status, 200);

  await openDetails(portal, v.id);
  await portal.click('[data-testid=start-call]');
  await v.shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  await waitTiles(portal, '.call', [v.short], 'in call');

  // Not on the chat's origins: refused with a clear error, the visitor stays put.
  await portal.fill('[data-testid=navigate-url]', 'https://elsewhere.example/');
  await portal.click('[data-testid=navigate]');
  await portal.locator('[role=alert], .error', { hasText: 'allowed origins' }).first().waitFor();
  assert.equal(new URL(v.shop.url()).pathname, '/');

  // On the shop: the visitor's browser goes there and the call carries on, with the
  // camera the visitor had switched on still on.
  await v.shop.locator(`${CALL} button`, { hasText: 'Camera' }).click();
  await v.shop.locator(`${CALL} button[aria-pressed=true]`, { hasText: 'Camera' }).waitFor();
  await portal.fill('[data-testid=navigate-url]', `${server.demo}/product-lamp.html`);
  await portal.click('[data-testid=navigate]');
  await v.shop.waitForURL(`${server.demo}/product-lamp.html`);
  await seesVideo(v.shop, CALL, 'Demo admin');
  await waitTiles(portal, '.call', [v.short], 'still in call after navigation');
  await v.shop.locator(`${CALL} button[aria-pressed=true]`, { hasText: 'Camera' }).waitFor();
  await seesVideo(portal, '.call', v.short);

  // V9: hand over control; the visitor is told, browses on their own…
  await portal.locator('[data-testid=allow-interaction]').check();
  await v.shop.locator(CALL, { hasText: 'browse on your own' }).waitFor();
  await v.shop.goto(`${server.demo}/`);
  await seesVideo(v.shop, CALL, 'Demo admin');
  // …and taking control back brings them to the agent's page.
  await portal.locator('[data-testid=allow-interaction]').uncheck();
  await v.shop.waitForURL(`${server.demo}/product-lamp.html`);
  await seesVideo(v.shop, CALL, 'Demo admin');

  await portal.click('[data-testid=leave-call]');
  await confirm(portal);
  await portal.locator('[data-testid=call-ended]').waitFor();
  assert.deepEqual(v.errors, []);
});

test('V11 calls switch: when an agent switches calls off, visitors no longer see a call option', async (t) => {
  const portal = await openPortal(browser, server);
  const v = await openShop('/');
  t.after(() => Promise.all([portal, v.shop].map((p) => p.context().close())));

  await v.shop.locator('button.vitrine-call').waitFor();
  await openDetails(portal, v.id);
  await portal.locator('[data-testid=calls-enabled]').uncheck();
  // The portal hides "Start video call" as soon as the agent switches calls off (it does
  // not wait for the hub); the widget follows when the hub's frame reaches it.
  assert.equal(await portal.locator('[data-testid=start-call]').count(), 0);
  await v.shop.locator('button.vitrine-call').waitFor({ state: 'detached' });
  await portal.locator('[data-testid=calls-enabled]:not(:checked)').waitFor();
  await v.shop.reload();
  await v.shop.locator(`${W} button.launcher`).waitFor();
  assert.equal(await v.shop.locator('button.vitrine-call').count(), 0);
  await portal.locator('[data-testid=calls-enabled]').check();
  await v.shop.locator('button.vitrine-call').waitFor();
  await portal.locator('[data-testid=start-call]').waitFor();
});

test('V10 capability check: a browser without WebRTC is told why, and the agent sees the call declined', async (t) => {
  const portal = await openPortal(browser, server);
  // An old or locked-down browser: no RTCPeerConnection at all.
  const v = await openShop('/', { init: () => { delete window.RTCPeerConnection; } });
  t.after(() => Promise.all([portal, v.shop].map((p) => p.context().close())));

  await openDetails(portal, v.id);
  await portal.click('[data-testid=start-call]');
  await v.shop.locator(CALL, { hasText: 'This browser cannot make calls' }).waitFor();
  await portal.locator('[data-testid=call-setting-up]', { hasText: `Declined: ${v.short}` }).waitFor();
  await portal.click('[data-testid=cancel-call]');
  assert.deepEqual(v.errors, []);
});

test('B3 stream keys: the agent copies WHIP and WHEP keys from the call; an encoder joins as a guest, an audience watches the agent, ending the call closes both', async (t) => {
  const portal = await openPortal(browser, server);
  const v = await openShop('/');
  t.after(() => Promise.all([portal, v.shop].map((p) => p.context().close())));
  await openDetails(portal, v.id);
  await portal.click('[data-testid=start-call]');
  await v.shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  await waitTiles(portal, '.call', [v.short], 'agent tiles');

  await portal.click('[data-testid=stream-call]');
  const dialog = portal.locator('[data-testid=stream-dialog]');
  await dialog.locator('[data-testid=stream-publish-token]').waitFor();
  const read = (name) => dialog.locator(`[data-testid=stream-${name}]`).inputValue();
  const [whip, publish, whep, watch] = await Promise.all(['publish-url', 'publish-token', 'watch-url', 'watch-token'].map(read));
  assert.match(whip, /^http:\/\/127\.0\.0\.1:\d+\/whip\//);
  assert.match(whep, /^http:\/\/127\.0\.0\.1:\d+\/whep\//);
  await portal.screenshot({ path: screenshot('call-stream-keys') });
  await dialog.getByRole('button', { name: 'Close' }).click();

  // The encoder is one more tile in the agent's call; the audience sees the agent.
  const encoding = whipClient('publish', whip, publish, 10);
  await seesVideo(portal, '.call', 'Encoder');
  const watched = await whipClient('watch', whep, watch, 5);
  assert.equal(watched.status, 201, JSON.stringify(watched));
  assert.ok(watched.received.video > 20, `the audience decoded ${watched.received.video} frames of the agent`);
  assert.equal((await encoding).status, 201);

  // The call ends: its keys open nothing any more.
  await portal.click('[data-testid=leave-call]');
  await confirm(portal);
  await portal.locator('[data-testid=call-ended]').waitFor();
  const late = await whipClient('watch', whep, watch, 0);
  assert.equal(late.status, 403, JSON.stringify(late));
  assert.match(late.error, /over/);
  assert.deepEqual(v.errors, []);
});
