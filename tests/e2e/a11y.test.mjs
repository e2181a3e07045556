// Accessibility (B4) in a real Chromium: axe-core checks every main screen of the widget
// and the portal against WCAG 2.2 AA, and a chat and a call are taken end to end with the
// keyboard alone, on both sides. The widget never takes focus from the shop's page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessibilityProblems, openPortal, perTestServer } from './harness.mjs';

const env = perTestServer({ calls: true });

const W = '[data-vitrine-widget]';
const CALL = '[data-vitrine-call] .call';

async function openShop(path = '/') {
  const context = await env.browser.newContext();
  const shop = await context.newPage();
  await shop.goto(`${env.server.demo}${path}`);
  await shop.locator(`${W} button.launcher`).waitFor();
  return shop;
}

/** No serious or critical axe finding on `page` now; `screen` names it in the failure. */
async function accessible(page, screen) {
  assert.deepEqual(await accessibilityProblems(page), [], `${screen}: accessibility problems`);
}

/** The focused element, inside shadow roots too: its test id, class and text. */
function focused(page) {
  return page.evaluate(() => {
    let a = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    return a ? { testid: a.getAttribute('data-testid'), cls: a.className, text: a.textContent?.trim() ?? '', tag: a.tagName } : null;
  });
}

/** A visitor, by keyboard only: Tab to the launcher, Enter, write, Enter, Esc. */
async function visitorWrites(shop, text) {
  await tabTo(shop, (f) => f.cls.includes('launcher'), 'the launcher');
  await shop.keyboard.press('Enter');
  assert.equal((await focused(shop)).tag, 'TEXTAREA');
  await shop.keyboard.type(text);
  await shop.keyboard.press('Enter');
  await shop.locator(`${W} .msg.visitor`, { hasText: text }).waitFor();
  // Esc closes the panel and gives focus back to the launcher.
  await shop.keyboard.press('Escape');
  assert.ok((await focused(shop)).cls.includes('launcher'));
}

/** Presses Tab until the focused element is the one `wanted` picks (at most 80 times). */
async function tabTo(page, wanted, what) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f && wanted(f)) return;
  }
  assert.fail(`Tab never reached ${what}`);
}

test('axe-core finds no serious or critical WCAG 2.2 AA problem on any main screen of the widget or the portal', async (t) => {
  const loginContext = await env.browser.newContext();
  const login = await loginContext.newPage();
  await login.goto(`${env.server.app}/portal/`);
  await login.locator('#email').waitFor();
  await accessible(login, 'portal sign-in');
  await loginContext.close();

  const portal = await openPortal(env.browser, env.server);
  const shop = await openShop('/product-lamp.html');
  t.after(() => Promise.all([portal, shop].map((p) => p.context().close())));
  await accessible(shop, 'shop with the widget closed');
  await shop.click(`${W} button.launcher`);
  await accessible(shop, 'widget open, before any message');
  await shop.fill(`${W} textarea`, 'Hello, is the lamp dimmable?');
  await shop.click(`${W} button.send`);
  await shop.locator(`${W} .msg.visitor`).waitFor();
  await accessible(shop, 'widget chatting');

  const id = await shop.evaluate(() => window.Vitrine.visitorId());
  await portal.locator(`tr.visitor[data-visitor-id="${id}"] .id`).click();
  await portal.locator('[data-testid=details] [data-testid=history] li').first().waitFor();
  await accessible(portal, 'visitors with details');
  await portal.click('[data-testid=fullscreen]');
  await accessible(portal, 'visitors full screen');
  await portal.keyboard.press('Escape');
  await portal.keyboard.press('Escape');
  await portal.click('[data-testid=page-chats]');
  await accessible(portal, 'chats, nothing open');
  await portal.locator('.conv').first().click();
  await portal.locator('[data-testid=side-panel] [data-testid=history] li').first().waitFor();
  await portal.click('[data-testid=take]');
  await portal.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  await portal.click('[data-testid=emoji]');
  await portal.locator('.emoji-cell').first().waitFor();
  await accessible(portal, 'conversation with the visitor beside it and the emoji picker');
  await portal.keyboard.press('Escape');
  await portal.click('[data-testid=end]');
  await accessible(portal, 'conversation asking before it ends');
  await portal.click('[data-testid=end-confirm]');
  await portal.locator('[data-testid=conversation-status]', { hasText: 'closed' }).waitFor();
  await portal.click('[data-testid=folder-closed]');
  await portal.locator('.conv').first().waitFor();
  await accessible(portal, 'closed folder');
  // The search form stays inside the folders column (it used to run under the conversation).
  const folders = await portal.locator('section.folders').boundingBox();
  const search = await portal.locator('section.folders form.search button[type=submit]').boundingBox();
  assert.ok(search.x + search.width <= folders.x + folders.width, `Search at ${search.x}+${search.width}, folders end at ${folders.x + folders.width}`);
  await portal.click('[data-testid=page-admin]');
  await portal.locator('main.admin').waitFor();
  await accessible(portal, 'admin');
  await portal.click('[data-testid=page-password]');
  await accessible(portal, 'password');

  // A call, from beside the (closed) conversation: the invitation in the widget, then
  // both sides in the call.
  await portal.click('[data-testid=page-chats]');
  await portal.click('[data-testid=folder-closed]');
  await portal.locator('.conv').first().click();
  await portal.locator('[data-testid=side-panel] [data-testid=start-call]').click();
  await shop.locator(CALL, { hasText: 'is calling you' }).waitFor();
  await accessible(shop, 'widget with a call invitation');
  await shop.locator(`${CALL} button`, { hasText: 'Accept' }).click();
  await portal.locator('.call .tile').nth(1).waitFor();
  await shop.locator(`${CALL} .tile`).nth(1).waitFor();
  await accessible(portal, 'portal in a call');
  await accessible(shop, 'widget in a call');
  await portal.click('[data-testid=leave-call]');
  await accessible(portal, 'portal asking before leaving the call');
  await portal.click('[data-testid=confirm]');
  await portal.locator('[data-testid=call-ended]').waitFor();

  // Nobody available: the widget offers to leave a message.
  await portal.click('[data-testid=availability]');
  await shop.reload();
  await shop.locator(`${W} button.launcher`, { hasText: 'Leave a message' }).or(shop.locator(`${W} button.launcher`, { hasText: 'Chat' })).first().waitFor();
  await shop.click(`${W} button.launcher`);
  await accessible(shop, 'widget, leave a message');
});

test('keyboard only: a visitor and an agent chat end to end, and the widget never takes focus from the shop', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  const shop = await openShop('/product-vase.html');
  t.after(() => Promise.all([portal, shop].map((p) => p.context().close())));

  // The visitor tabs through the shop to the widget's launcher and writes.
  await visitorWrites(shop, 'Does the vase hold water?');
  // The visitor goes on with the shop's page: focus on one of its links.
  await shop.evaluate(() => document.querySelector('a')?.focus());
  const shopFocus = await focused(shop);

  // The agent: next waiting conversation, take, write, send, with keys only.
  await portal.keyboard.press('Alt+KeyN'); // on the visitors page: nothing happens
  await tabTo(portal, (f) => f.testid === 'page-chats', 'the Chats page');
  await portal.keyboard.press('Enter');
  // Alt+N opens the next waiting conversation: once there is one (the widget shows a
  // message before the hub has stored it).
  await portal.locator('[data-testid=pending-badge]', { hasText: '1' }).waitFor();
  await portal.keyboard.press('Alt+KeyN');
  await portal.locator('[data-testid=conversation] .msg.visitor', { hasText: 'hold water' }).waitFor();
  await portal.keyboard.press('Alt+KeyT');
  await portal.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  await portal.keyboard.press('Alt+KeyR');
  await portal.keyboard.type('It does, it is glazed inside.');
  await portal.keyboard.press('Enter');

  // The answer arrives in the widget (said to screen readers) without moving the focus.
  await shop.locator(`${W} .badge`, { hasText: '1' }).waitFor();
  assert.deepEqual(await focused(shop), shopFocus);
  await shop.click(`${W} button.launcher`);
  await shop.locator(`${W} .msg.agent`, { hasText: 'glazed inside' }).waitFor();
  assert.match(await shop.locator(`${W} .sr[role=status]`).textContent(), /glazed inside/);

  // End with the keyboard: the question takes the focus, Enter confirms.
  await portal.keyboard.press('Alt+KeyX');
  assert.equal((await focused(portal)).testid, 'end-confirm');
  await portal.keyboard.press('Enter');
  await portal.locator('[data-testid=conversation-status]', { hasText: 'closed' }).waitFor();
});

test('keyboard only: an agent calls the visitor of a conversation, the visitor accepts, the agent leaves', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  const shop = await openShop('/product-chair.html');
  t.after(() => Promise.all([portal, shop].map((p) => p.context().close())));
  await visitorWrites(shop, 'Can you show me the chair?');

  await tabTo(portal, (f) => f.testid === 'page-chats', 'the Chats page');
  await portal.keyboard.press('Enter');
  // Not before the conversation has reached the portal (was: Alt+N and Alt+T pressed on
  // an empty list now and then, found by a fresh-clone run).
  await portal.locator('[data-testid=pending-badge]', { hasText: '1' }).waitFor();
  await portal.keyboard.press('Alt+KeyN');
  await portal.locator('[data-testid=conversation] .msg.visitor', { hasText: 'show me the chair' }).waitFor();
  await portal.keyboard.press('Alt+KeyT');
  await portal.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  // From the visitor beside the conversation.
  await tabTo(portal, (f) => f.testid === 'start-call', 'Start video call');
  await portal.keyboard.press('Enter');

  // The invitation does not take the shop's focus; the visitor tabs to Accept.
  await shop.locator(CALL, { hasText: 'is calling you' }).waitFor();
  assert.ok((await focused(shop)).cls.includes('launcher'));
  await tabTo(shop, (f) => f.text === 'Accept', 'Accept');
  await shop.keyboard.press('Enter');
  await portal.locator('.call .tile', { hasText: 'Visitor' }).waitFor();
  await shop.locator(`${CALL} .tile`, { hasText: 'Demo admin' }).waitFor();
  // The visitor's camera, by keyboard: a switch that says its state.
  await tabTo(shop, (f) => f.text === 'Camera', 'Camera');
  // The call redraws when anything changes (here the agent turns their camera off): the
  // visitor's keyboard focus stays on Camera, not on the page's body.
  await portal.locator('.call button', { hasText: 'Camera' }).click();
  await shop.locator(`${CALL} .tile.camera-off`, { hasText: 'DA' }).waitFor();
  assert.equal((await focused(shop)).text, 'Camera', 'focus survives a redraw');
  await shop.keyboard.press('Enter');
  await shop.locator(`${CALL} button[aria-pressed=true]`, { hasText: 'Camera' }).waitFor();

  // The agent leaves: the question takes focus, Esc keeps the call, Enter leaves.
  await tabTo(portal, (f) => f.testid === 'leave-call', 'Leave call');
  await portal.keyboard.press('Enter');
  assert.equal((await focused(portal)).testid, 'confirm');
  await portal.keyboard.press('Escape');
  await portal.locator('.call [role=alertdialog]').waitFor({ state: 'detached' });
  assert.equal((await focused(portal)).testid, 'leave-call');
  await portal.keyboard.press('Enter');
  await portal.keyboard.press('Enter');
  await portal.locator('[data-testid=call-ended]').waitFor();
  await shop.locator(CALL, { hasText: /ended/i }).waitFor();
});
