// Browser end-to-end for chat (C1–C13): a visitor in the demo shop's widget and agents in
// the portal, each in their own browser context, through the real server.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { edge, startServer, launchBrowser, openPortal, watchErrors } from './harness.mjs';

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
  server = await startServer();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const AGENT = { email: 'agent@demo.shop', password: 'vitrine-demo' };
const W = '[data-vitrine-widget]';

async function openShop(path = '/') {
  const context = await browser.newContext();
  const shop = await context.newPage();
  const errors = watchErrors(shop);
  await shop.goto(`${server.demo}${path}`);
  await shop.locator(`${W} button.launcher`).waitFor();
  return { shop, errors };
}

async function visitorSays(shop, text) {
  await shop.fill(`${W} textarea`, text);
  await shop.click(`${W} button.send`);
}

/** A visitor asks `question` and the agent takes the chat. The portal's browser context
 *  outlives its page, so a test may close the portal and open it again with the same
 *  storage (its outbox). */
async function takenChat(t, question) {
  const portalContext = await browser.newContext();
  const portal = await openPortal({ newContext: async () => portalContext }, server);
  const { shop } = await openShop('/');
  t.after(() => Promise.all([portalContext.close(), shop.context().close()]));
  await shop.click(`${W} button.launcher`);
  await visitorSays(shop, question);
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv').first().click();
  const conversation = portal.locator('[data-testid=conversation]');
  await conversation.locator('[data-testid=take]').click();
  await conversation.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  return { portalContext, portal, shop };
}

test('reactive chat: pending, taken, typing preview one way, rich messages, transfer, block, end and reopen', async (t) => {
  const portal = await openPortal(browser, server);
  const colleague = await openPortal(browser, server, AGENT);
  const { shop, errors } = await openShop('/product-lamp.html');
  t.after(() => Promise.all([portal, colleague, shop].map((p) => p.context().close())));

  // The visitor opens the widget and starts typing: the agent will see the draft.
  await shop.click(`${W} button.launcher`);
  const hostile = 'Is it <img src=x onerror="window.pwned=1"> in stock? https://example.com/x javascript:alert(1)';
  await visitorSays(shop, hostile);
  await shop.locator(`${W} .msg.visitor`, { hasText: 'in stock?' }).waitFor();

  // Pending for every agent of the chat, with a counter.
  await portal.click('[data-testid=page-chats]');
  await portal.locator('[data-testid=count-pending]', { hasText: '1' }).waitFor();
  await colleague.click('[data-testid=page-chats]');
  await colleague.locator('[data-testid=count-pending]', { hasText: '1' }).waitFor();
  await portal.locator('.conv').first().click();
  const conversation = portal.locator('[data-testid=conversation]');
  const visitorMsg = conversation.locator('.msg.visitor').first();
  await visitorMsg.waitFor();
  // HTML stays text; only the http(s) URL became a link; the page URL is shown (C5).
  assert.equal(await visitorMsg.locator('img').count(), 0);
  assert.match(await visitorMsg.textContent(), /<img src=x onerror=/);
  assert.deepEqual(await visitorMsg.locator('a:not(.from-page)').evaluateAll((as) => as.map((a) => a.href)), ['https://example.com/x']);
  assert.match(await visitorMsg.locator('.from-page').textContent(), /product-lamp\.html/);
  assert.equal(await portal.evaluate(() => window.pwned), undefined);

  // Take it: active and mine; the colleague's pending folder empties.
  await conversation.locator('[data-testid=take]').click();
  await conversation.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  await colleague.locator('[data-testid=count-pending]', { hasText: '0' }).waitFor();
  await shop.locator(`${W} .msg.system`, { hasText: 'Demo admin joined the conversation' }).waitFor();

  // Typing preview (C4): the agent sees the visitor's draft…
  await shop.fill(`${W} textarea`, 'Could you also check the bla');
  await shop.locator(`${W} textarea`).press('k');
  await conversation.locator('[data-testid=typing-preview]', { hasText: 'Could you also check the blak' }).waitFor();
  // …the visitor only sees that the agent is typing, never the agent's draft.
  await conversation.locator('[data-testid=composer]').pressSequentially('Secret draft 42');
  await shop.locator(`${W} .typing:not([hidden])`, { hasText: 'is typing' }).waitFor();
  assert.equal(await shop.locator(W).evaluate((host) => host.shadowRoot.textContent.includes('Secret draft 42')), false);
  await conversation.locator('[data-testid=composer]').fill('Yes, 3 left 😊');
  await conversation.locator('[data-testid=send]').click();
  await shop.locator(`${W} .msg.agent`, { hasText: 'Yes, 3 left 😊' }).waitFor();

  // Canned responses, keyboard first: "/" opens the list, arrows move, Enter picks (and
  // never sends the "/…" itself), Esc closes; the mouse still works.
  const composer = conversation.locator('[data-testid=composer]');
  const options = conversation.locator('[data-testid=canned-picker] [role=option]');
  await composer.fill('/');
  await options.nth(2).waitFor();
  await composer.press('ArrowDown');
  await composer.press('ArrowDown');
  await composer.press('ArrowUp');
  const chosen = await conversation.locator('[data-testid=canned-picker] [aria-selected=true]').textContent();
  assert.equal(await options.nth(1).getAttribute('aria-selected'), 'true', 'arrows moved to the second');
  assert.equal(await composer.getAttribute('aria-activedescendant'), await options.nth(1).getAttribute('id'));
  await composer.press('Enter');
  const picked = await composer.inputValue();
  assert.ok(chosen.includes(picked), `${chosen} / ${picked}`);
  await composer.fill('/ret');
  await composer.press('Enter');
  assert.equal(await composer.inputValue(), 'You can return any item within 30 days, free of charge.');
  await composer.fill('/nothing-like-it');
  await conversation.locator('[data-testid=canned-picker]', { hasText: 'No canned response matches' }).waitFor();
  await composer.press('Enter');
  assert.equal(await composer.inputValue(), '/nothing-like-it', 'Enter with no match sends nothing');
  await composer.press('Escape');
  await conversation.locator('[data-testid=canned-picker]').waitFor({ state: 'detached' });
  await composer.fill('/ship');
  await options.first().click();
  assert.match(await composer.inputValue(), /^Delivery takes 2–4 working days/);
  await composer.press('Enter');
  await shop.locator(`${W} .msg.agent`, { hasText: 'Delivery takes 2–4 working days' }).waitFor();
  assert.equal(await shop.locator(`${W} .msg.agent`, { hasText: '/' }).count(), 0, 'no "/…" ever reached the visitor');

  // An offer and a product card (C6), rendered as cards in the widget.
  await conversation.locator('[data-testid=offers]').click();
  await conversation.locator('[data-testid=offer-picker] button', { hasText: 'Winter sale' }).click();
  await shop.locator(`${W} .card`, { hasText: 'Winter sale: 15% off lighting' }).waitFor();
  await conversation.locator('[data-testid=products]').click();
  await conversation.locator('[data-testid=product-gallery] input[type=search]').fill('aurora');
  await conversation.locator('[data-testid=product-gallery] select[aria-label=Brand]').selectOption('Lumen & Co');
  await conversation.locator('[data-testid=product-gallery] button', { hasText: 'Aurora floor lamp' }).click();
  const card = shop.locator(`${W} .card`, { hasText: 'Aurora floor lamp' });
  await card.waitFor();
  assert.match(await card.locator('a').getAttribute('href'), /\/product-lamp\.html$/);

  // The visitor navigates: the conversation is restored on the next page, nothing doubled.
  await shop.goto(`${server.demo}/product-chair.html`);
  await shop.locator(`${W} .msg.agent`, { hasText: 'Yes, 3 left' }).waitFor();
  assert.equal(await shop.locator(`${W} .msg.agent`, { hasText: 'Yes, 3 left' }).count(), 1);

  // Transfer to the colleague (C8): the owner's view says at once who has it and offers
  // nothing that would fail; the colleague is notified; it moves to their Active folder.
  await conversation.locator('[data-testid=transfer]').selectOption({ label: 'Demo agent' });
  await conversation.locator('[data-testid=conversation-gone]', { hasText: 'Demo agent has this conversation now' }).waitFor();
  assert.equal(await conversation.locator('[data-testid=composer]').count(), 0);
  assert.equal(await conversation.locator('[data-testid=end]').count(), 0);
  await colleague.locator('[data-testid=notifications]').click();
  await colleague.locator('[data-testid=notification-menu]', { hasText: 'transferred a chat to you' }).waitFor();
  await colleague.locator('[data-testid=notifications]').click();
  await colleague.locator('[data-testid=folder-active]').click();
  await colleague.locator('[data-testid=count-active]', { hasText: '1' }).waitFor();
  await colleague.locator('.conv').first().click();
  const theirs = colleague.locator('[data-testid=conversation]');
  await theirs.locator('.msg.system', { hasText: 'transferred the conversation to Demo agent' }).waitFor();
  await theirs.locator('[data-testid=composer]').fill('Hello, I am taking over.');
  await theirs.locator('[data-testid=send]').click();
  await shop.locator(`${W} .msg.agent`, { hasText: 'I am taking over' }).waitFor();
  assert.equal(await shop.locator(`${W} h2`).textContent(), 'Demo agent');

  // End (C10) asks first: Esc or Cancel keeps it; then find it in Closed and reopen it
  // with one click.
  await theirs.locator('[data-testid=end]').click();
  await colleague.keyboard.press('Escape');
  await theirs.locator('[data-testid=end]').click();
  await theirs.locator('[data-testid=end-confirm]').click();
  await shop.locator(`${W} .note`, { hasText: 'This conversation has ended' }).waitFor();
  await colleague.locator('[data-testid=folder-closed]').click();
  await colleague.locator('.conv').first().click();
  await colleague.locator('[data-testid=reopen]').click();
  await colleague.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  await shop.locator(`${W} .msg.system`, { hasText: 'reopened the conversation' }).waitFor();
  assert.equal(await colleague.locator('[data-testid=conversation-error]').count(), 0, 'no stale error after reopening');

  // Block (C9): the visitor can no longer write nor ask for a call, also after a reload,
  // and reads that the chat ended, not that they were blocked.
  // Calls are offered only where a media node is configured: the local stack, not the
  // edge test stack.
  const callsOffered = !edge;
  if (callsOffered) await shop.locator('button.vitrine-call').waitFor();
  await colleague.locator('[data-testid=block]').click();
  await colleague.locator('[data-testid=block-confirm]').click();
  await shop.locator(`${W} .note`, { hasText: 'You can no longer start conversations here' }).waitFor();
  assert.equal(await shop.locator(`${W} textarea`).isDisabled(), true);
  if (callsOffered) await shop.locator('button.vitrine-call').waitFor({ state: 'detached' });
  // (The text the visitor reads is asserted in core/tests/conversations.rs; waiting for it
  // here timed out once in CI while passing locally — under investigation, see the note.)
  assert.equal(await shop.locator(`${W} .msg`, { hasText: 'block' }).count(), 0);
  await colleague.locator('[data-testid=unblock]').waitFor();
  await shop.reload();
  await shop.locator(`${W} button.launcher`).click();
  await shop.locator(`${W} .note`, { hasText: 'You can no longer start conversations here' }).waitFor();
  assert.equal(await shop.locator(`${W} textarea`).isDisabled(), true);
  assert.equal(await shop.locator('button.vitrine-call').count(), 0);

  assert.deepEqual(errors, []);
  assert.equal(await shop.evaluate(() => window.pwned), undefined);
});

test('proactive chat: the agent writes first and the widget shows the message', async (t) => {
  const portal = await openPortal(browser, server);
  const { shop, errors } = await openShop('/product-vase.html');
  t.after(() => Promise.all([portal, shop].map((p) => p.context().close())));
  const visitorId = await shop.evaluate(() => window.Vitrine.visitorId());
  await portal.click(`tr.visitor[data-visitor-id="${visitorId}"] .id`);
  await portal.fill('[data-testid=proactive-text]', 'Hello! The vase also comes in blue.');
  await portal.click('[data-testid=start-chat]');
  const toast = shop.locator(`${W} .toast`, { hasText: 'The vase also comes in blue' });
  await toast.waitFor();
  await toast.click();
  await visitorSays(shop, 'Oh nice, how much?');
  await portal.locator('[data-testid=conversation] .msg.visitor', { hasText: 'how much?' }).waitFor();
  assert.deepEqual(errors, []);
});

test('leave a message while nobody is available, answered later', async () => {
  const portal = await openPortal(browser, server);
  await portal.click('[data-testid=availability]'); // away
  const colleague = await openPortal(browser, server, AGENT);
  await colleague.click('[data-testid=availability]'); // away too
  const { shop } = await openShop('/');
  const launcher = shop.locator(`${W} button.launcher`);
  await launcher.locator('text=Leave a message').waitFor();
  await launcher.click();
  // Both contact fields fit inside the panel (none clipped at its edge).
  const panelBox = await shop.locator(`${W} .panel`).boundingBox();
  for (const name of ['name', 'email']) {
    const box = await shop.locator(`${W} input[name=${name}]`).boundingBox();
    assert.ok(box.x >= panelBox.x && box.x + box.width <= panelBox.x + panelBox.width, `${name} field inside the panel`);
  }
  await shop.fill(`${W} input[name=name]`, 'Zoé');
  await shop.fill(`${W} input[name=email]`, 'zoe@mail.example');
  await visitorSays(shop, 'Please call me back about the chair.');
  await shop.locator(`${W} .msg.visitor:not(.sending)`, { hasText: 'call me back' }).waitFor();
  // The visitor is told the message is kept, not invited to a chat nobody would answer.
  await shop.locator(`${W} .note`, { hasText: 'we have your message' }).waitFor();
  assert.equal(await shop.locator(`${W} .panel h2`).textContent(), 'Message received');
  assert.equal(await launcher.locator('.label').textContent(), 'Message sent');
  assert.equal(await shop.locator('button.vitrine-call').count(), 0, 'no call offered when nobody can answer');

  // Later: the agent comes back, finds it pending with the contact, and answers.
  await portal.click('[data-testid=availability]');
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv', { hasText: 'Zoé' }).click();
  const conversation = portal.locator('[data-testid=conversation]');
  await conversation.locator('[data-testid=composer]').fill('Hello Zoé, calling you at 3 pm.');
  await conversation.locator('[data-testid=send]').click();
  await shop.locator(`${W} .msg.agent`, { hasText: 'calling you at 3 pm' }).waitFor();
  await conversation.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
});

// At the edge the hub outlives the API server these two crash; its own loss of memory is
// tests/tests/chat.rs's kill-and-restart exchange, which runs against the Worker.
const CRASH_SKIP = edge && 'crashes the local server, which is not the hub at the edge';

test('an agent message written while the server is down survives closing the portal and is delivered once', { skip: CRASH_SKIP }, async (t) => {
  const chat = await takenChat(t, 'Is the chair available in oak?');
  const { portalContext, shop } = chat;
  let portal = chat.portal;
  const conversation = () => portal.locator('[data-testid=conversation]');

  await server.crash();
  await portal.locator('[data-testid=connection]', { hasText: 'live' }).waitFor({ state: 'detached' });
  await conversation().locator('[data-testid=composer]').fill('Yes, oak and walnut.');
  await conversation().locator('[data-testid=send]').click();
  await conversation().locator('.msg.sending', { hasText: 'oak and walnut' }).waitFor();
  // The portal closes with the message unsent; it waits in this browser's storage.
  await portal.close();

  await server.restart();
  portal = await portalContext.newPage();
  await portal.goto(`${server.app}/portal/`);
  await portal.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  await shop.locator(`${W} .msg.agent`, { hasText: 'oak and walnut' }).waitFor();
  await portal.click('[data-testid=page-chats]');
  await portal.locator('[data-testid=folder-active]').click();
  await portal.locator('.conv').first().click();
  await conversation().locator('.msg.agent:not(.sending)', { hasText: 'oak and walnut' }).waitFor();
  assert.equal(await conversation().locator('.msg.sending').count(), 0);
  // Exactly once, for the visitor and in the stored history.
  assert.equal(await shop.locator(`${W} .msg.agent`, { hasText: 'oak and walnut' }).count(), 1);
  assert.equal(await conversation().locator('.msg.agent', { hasText: 'oak and walnut' }).count(), 1);
});

test('agent messages held back by the rate limit are resent without a reconnect, each delivered once, in order', async (t) => {
  const { portal, shop } = await takenChat(t, 'Tell me everything about the lamp.');
  const conversation = portal.locator('[data-testid=conversation]');

  // Faster than the hub takes frames from one socket (a burst of 40, then 10 a second):
  // some are refused with `rate_limited` and wait in the outbox, on the same socket.
  let sockets = 0;
  portal.on('websocket', () => sockets++);
  const COUNT = 60;
  for (let i = 1; i <= COUNT; i++) {
    await conversation.locator('[data-testid=composer]').fill(`Fact ${i} about the lamp.`);
    await conversation.locator('[data-testid=send]').click();
  }
  await portal.locator('[role=alert]', { hasText: 'slow down' }).waitFor();
  await shop.locator(`${W} .msg.agent`, { hasText: `Fact ${COUNT} about` }).waitFor();
  await conversation.locator('.msg.sending').first().waitFor({ state: 'detached' });
  const facts = await shop.locator(`${W} .msg.agent`).allTextContents();
  for (let i = 1; i <= COUNT; i++) {
    assert.equal(facts.filter((f) => f.includes(`Fact ${i} about`)).length, 1, `fact ${i}: ${facts}`);
  }
  assert.equal(sockets, 0, 'the portal did not reconnect');
  // …and in the order they were written.
  assert.deepEqual(facts.map((f) => Number(f.match(/Fact (\d+)/)[1])), Array.from({ length: COUNT }, (_, i) => i + 1));
});

test('a message the hub refuses for good stays visible with the reason until discarded', { skip: CRASH_SKIP }, async (t) => {
  const chat = await takenChat(t, 'Do you ship to Iceland?');
  const { portalContext, shop } = chat;
  let portal = chat.portal;
  const conversation = () => portal.locator('[data-testid=conversation]');

  // Written during an outage, the portal closed; meanwhile the visitor ended the chat.
  await server.crash();
  await conversation().locator('[data-testid=composer]').fill('Let me check with the carrier.');
  await conversation().locator('[data-testid=send]').click();
  await conversation().locator('.msg.sending', { hasText: 'with the carrier' }).waitFor();
  await portal.close();
  await server.restart();
  await shop.locator(`${W} button.end:not([hidden])`).click({ timeout: 30_000 });
  await shop.locator(`${W} .note`, { hasText: 'This conversation has ended' }).waitFor();

  portal = await portalContext.newPage();
  await portal.goto(`${server.app}/portal/`);
  await portal.click('[data-testid=page-chats]');
  await portal.locator('[data-testid=folder-closed]').click();
  await portal.locator('.conv').first().click();
  const refused = conversation().locator('[data-testid=refused]');
  await refused.waitFor();
  assert.match(await refused.textContent(), /Let me check with the carrier\.Not sent: .+/);
  await refused.locator('button', { hasText: 'Discard' }).click();
  await refused.waitFor({ state: 'detached' });
  // Gone for good: not resent after a reload, never shown to the visitor.
  await portal.reload();
  await portal.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();
  assert.equal(await portal.evaluate(() => Object.keys(localStorage).filter((k) => k.includes('outbox')).length), 0);
  assert.equal(await shop.locator(`${W} .msg.agent`, { hasText: 'with the carrier' }).count(), 0);
});

test('a long conversation scrolls inside itself: its header and composer stay on screen, new messages follow unless the agent scrolled up', async (t) => {
  const { portal, shop } = await takenChat(t, 'Question 0');
  await portal.setViewportSize({ width: 1100, height: 620 });
  const conversation = portal.locator('[data-testid=conversation]');
  for (let i = 1; i <= 11; i += 1) {
    await visitorSays(shop, `Question ${i}: ${'and a few more words to fill the line '.repeat(2)}`);
    await conversation.locator('.msg.visitor', { hasText: `Question ${i}:` }).waitFor();
  }
  // A burst: the list grows again before the scroll event of the last follow arrives
  // (a cold CI run once lost the bottom this way).
  for (let i = 12; i <= 14; i += 1) await visitorSays(shop, `Question ${i}: ${'a burst '.repeat(8)}`);
  await conversation.locator('.msg.visitor', { hasText: 'Question 14:' }).waitFor();
  const list = conversation.locator('[data-testid=messages]');
  const geometry = () => portal.evaluate(() => {
    const box = (sel) => document.querySelector(sel).getBoundingClientRect();
    const ol = document.querySelector('[data-testid=messages]');
    return {
      pageScrolls: document.scrollingElement.scrollHeight > window.innerHeight + 1,
      end: box('[data-testid=end]').bottom,
      send: box('[data-testid=send]').bottom,
      viewport: window.innerHeight,
      listScrolls: ol.scrollHeight > ol.clientHeight,
      fromBottom: ol.scrollHeight - ol.scrollTop - ol.clientHeight,
      scrollTop: ol.scrollTop,
    };
  });
  let g = await geometry();
  assert.equal(g.pageScrolls, false, 'the page itself does not scroll');
  assert.ok(g.listScrolls, 'the messages overflow their list');
  assert.ok(g.end > 0 && g.end <= g.viewport && g.send <= g.viewport, JSON.stringify(g));
  assert.ok(g.fromBottom < 2, `follows the newest message: ${JSON.stringify(g)}`);

  // Scrolled up to read: a new message does not pull the list down.
  await list.evaluate((ol) => { ol.scrollTop = 0; ol.dispatchEvent(new Event('scroll')); });
  await visitorSays(shop, 'Question 15: still there?');
  await conversation.locator('.msg.visitor', { hasText: 'Question 15:' }).waitFor();
  g = await geometry();
  assert.equal(g.scrollTop, 0, 'stays where the agent was reading');
  // Back at the bottom, the list follows again.
  await list.evaluate((ol) => { ol.scrollTop = ol.scrollHeight; ol.dispatchEvent(new Event('scroll')); });
  await visitorSays(shop, 'Question 16: hello?');
  await conversation.locator('.msg.visitor', { hasText: 'Question 16:' }).waitFor();
  g = await geometry();
  assert.ok(g.fromBottom < 2, JSON.stringify(g));
});

test('all-day console: shortcuts for next, take, write and end; unread counts per conversation; the visitor beside the chat', async (t) => {
  const portal = await openPortal(browser, server);
  const first = await openShop('/product-lamp.html');
  const second = await openShop('/product-vase.html');
  t.after(() => Promise.all([portal, first.shop, second.shop].map((p) => p.context().close())));
  await portal.click('[data-testid=page-chats]');
  // With nothing open, the console lists its keys.
  await portal.locator('[data-testid=shortcuts]', { hasText: 'Alt+N' }).waitFor();

  // Two visitors wait; the first has written twice: its row says how many are unread.
  await first.shop.click(`${W} button.launcher`);
  await visitorSays(first.shop, 'Is the lamp dimmable?');
  await first.shop.locator(`${W} .msg.visitor`, { hasText: 'dimmable' }).waitFor();
  await visitorSays(first.shop, 'And does it come in white?');
  await second.shop.click(`${W} button.launcher`);
  await visitorSays(second.shop, 'Hello, about the vase');
  await portal.locator('[data-testid=count-pending]', { hasText: '2' }).waitFor();
  const firstRow = portal.locator('.conv', { hasText: 'dimmable' }).or(portal.locator('.conv', { hasText: 'white' }));
  await firstRow.locator('[data-testid=unread]', { hasText: '2' }).waitFor();
  assert.equal(await firstRow.locator('[data-testid=unread]').getAttribute('aria-label'), '2 unread');

  // Alt+N opens the one waiting longest; reading it clears its count.
  await portal.keyboard.press('Alt+KeyN');
  const conversation = portal.locator('[data-testid=conversation]');
  await conversation.locator('.msg.visitor', { hasText: 'dimmable' }).waitFor();
  await firstRow.locator('[data-testid=unread]').waitFor({ state: 'detached' });

  // Beside it, the visitor: the page they are on, their history, the call button.
  const side = portal.locator('[data-testid=side-panel]');
  await side.locator('[data-testid=visitor-page]', { hasText: /lamp/i }).waitFor();
  await side.locator('[data-testid=history] li').first().waitFor();
  if (!edge) await side.locator('[data-testid=start-call]').waitFor();

  // Alt+T takes it, Alt+R puts the cursor in the composer, Enter sends.
  await portal.keyboard.press('Alt+KeyT');
  await conversation.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  await portal.keyboard.press('Alt+KeyR');
  assert.equal(await portal.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'composer');
  await portal.keyboard.type('Yes, dimmable and in white.');
  // The emoji picker searches every emoji by name: Enter inserts the first found, Esc
  // goes back to the composer.
  await portal.click('[data-testid=emoji]');
  const picker = portal.locator('[data-testid=emoji-picker]');
  await picker.locator('.emoji-cell').first().waitFor();
  await portal.keyboard.type('thumbs up');
  await picker.getByRole('button', { name: /thumbs up/ }).first().waitFor();
  await portal.keyboard.press('Enter');
  await portal.keyboard.press('Escape');
  await picker.waitFor({ state: 'detached' });
  assert.equal(await portal.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'composer');
  assert.match(await portal.locator('[data-testid=composer]').inputValue(), /^Yes, dimmable and in white\.👍\uFE0F?$/u);
  await portal.keyboard.press('Enter');
  await first.shop.locator(`${W} .msg.agent`, { hasText: 'dimmable and in white.👍' }).waitFor();

  // Alt+X asks before ending: Esc says no, the confirmation says yes.
  await portal.keyboard.press('Alt+KeyX');
  await portal.locator('[data-testid=end-confirm]').waitFor();
  await portal.keyboard.press('Escape');
  await portal.locator('[data-testid=end-confirm]').waitFor({ state: 'detached' });
  assert.equal(await conversation.getAttribute('data-status'), 'active');
  await portal.keyboard.press('Alt+KeyX');
  await portal.click('[data-testid=end-confirm]');
  await conversation.locator('[data-testid=conversation-status]', { hasText: 'closed' }).waitFor();

  // Alt+N again: the next visitor's conversation, and its visitor beside it.
  await portal.keyboard.press('Alt+KeyN');
  await conversation.locator('.msg.visitor', { hasText: 'about the vase' }).waitFor();
  await side.locator('[data-testid=visitor-page]', { hasText: /vase/i }).waitFor();

  // The panel can be put away, and stays away for the next conversation.
  await portal.click('[data-testid=toggle-side-panel]');
  await side.waitFor({ state: 'detached' });
  await portal.reload();
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv').first().click();
  await conversation.waitFor();
  assert.equal(await portal.locator('[data-testid=toggle-side-panel]').getAttribute('aria-pressed'), 'false');
  assert.equal(await side.count(), 0);
  assert.deepEqual([...first.errors, ...second.errors], []);
});
