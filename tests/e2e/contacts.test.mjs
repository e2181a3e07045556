// Contacts (K1–K5) in a real Chromium: the demo shop signs its customer in and its backend
// signs their identity; the agent sees the card beside the visitor and the conversation,
// adds a tag, a note and a task, sees the abandoned cart and what was viewed, and sends a
// recommendation that renders in the widget. A forged signature is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessibilityProblems, openPortal, perTestServer, screenshot, startSmtp, watchErrors } from './harness.mjs';

const env = perTestServer();
const W = '[data-vitrine-widget]';

/** A shop visitor; `received` collects what the hub sends to the widget. */
async function openShop(path = '/') {
  const context = await env.browser.newContext();
  const shop = await context.newPage();
  const errors = watchErrors(shop);
  const received = [];
  shop.on('websocket', (ws) => ws.on('framereceived', (f) => received.push(String(f.payload))));
  await shop.goto(`${env.server.demo}${path}`);
  await shop.locator(`${W} button.launcher`).waitFor();
  return { shop, errors, received };
}

async function signIn(shop, name, email) {
  await shop.goto(`${env.server.demo}/account.html`);
  await shop.fill('input[name=name]', name);
  await shop.fill('input[name=email]', email);
  await shop.click('#sign-in button');
  await shop.locator('#customer', { hasText: `Signed in as ${name}` }).waitFor();
}

test('an identified customer: card with tags, notes and tasks; cart and views; a recommendation reaches the widget', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  const { shop, errors } = await openShop('/');
  t.after(() => Promise.all([portal.context().close(), shop.context().close()]));

  // K5 first: an anonymous visitor has no card.
  const row = portal.locator('tr.visitor').first();
  await row.waitFor();
  await row.locator('td').first().click();
  const details = portal.locator('[data-testid=details]');
  await details.locator('[data-testid=contact-anonymous]').waitFor();

  // K1: the shop signs the customer in; every page identifies them, signed by its backend.
  await signIn(shop, 'Zofia Nowak', 'zofia@mail.example');
  await portal.locator('[data-testid=row-contact]', { hasText: 'Zofia Nowak' }).waitFor();
  const card = details.locator('[data-testid=contact-card]');
  await card.locator('[data-testid=contact-name]', { hasText: 'Zofia Nowak' }).waitFor();
  assert.equal(await card.locator('[data-testid=contact-email]').textContent(), 'zofia@mail.example');

  // K4: a product page, then the cart (the shop tracks it) — no purchase.
  // Each page is left only once the agent sees it: a page left before the widget said
  // hello was never viewed as far as anyone can know.
  await shop.goto(`${env.server.demo}/product-lamp.html`);
  await portal.locator('tr.visitor', { hasText: 'Aurora desk lamp' }).waitFor();
  await shop.goto(`${env.server.demo}/cart.html`);
  await portal.locator('tr.visitor', { hasText: 'Your cart' }).waitFor();
  // Back to the catalogue: the card is read again at each page view, the cart stored by then.
  await shop.goto(`${env.server.demo}/`);
  await shop.locator(`${W} button.launcher`).waitFor();
  await card.locator('[data-testid=abandoned-cart]').waitFor();
  await card.locator('[data-testid=cart-products]', { hasText: 'Oslo lounge chair' }).waitFor();
  await card.locator('[data-testid=recently-viewed]', { hasText: 'Aurora desk lamp' }).waitFor();
  const score = await card.locator('[data-testid=contact-score]').getAttribute('title');
  assert.match(score, /page views/, 'the score says what it is made of');

  // K2: a tag, a note, a task for oneself.
  await card.locator('[data-testid=tag-input]').fill('VIP');
  await card.locator('[data-testid=tag-input-add]').click();
  await card.locator('[data-testid=contact-tags]', { hasText: 'VIP' }).waitFor();
  await card.locator('[data-testid=note-input]').fill('Wants the chair in oak');
  await card.locator('[data-testid=note-input-add]').click();
  await card.locator('[data-testid=contact-notes]', { hasText: 'Wants the chair in oak' }).waitFor();
  await card.locator('[data-testid=task-title]').fill('Call back about delivery');
  await card.locator('[data-testid=task-due]').fill('2026-12-24');
  await card.locator('[data-testid=task-add]').click();
  await card.locator('[data-testid=tasks]', { hasText: 'Call back about delivery' }).waitFor();
  assert.deepEqual(await accessibilityProblems(portal), [], 'the portal with a full contact card (B4)');

  // The agent's own open tasks; completing one takes it off the list.
  await portal.click('[data-testid=page-tasks]');
  const mine = portal.locator('[data-testid=my-tasks]');
  await mine.locator('li', { hasText: 'Call back about delivery' }).waitFor();
  assert.match(await mine.locator('li').first().textContent(), /Zofia Nowak/);
  await mine.locator('li input[type=checkbox]').first().check();
  await mine.locator('[data-testid=tasks] li').waitFor({ state: 'detached' });

  // A conversation: it carries the customer's name (C11), and the card beside it sends a
  // recommendation that the widget renders as a product card (C6, K4).
  await shop.click(`${W} button.launcher`);
  await shop.fill(`${W} textarea`, 'Is the chair available in oak?');
  await shop.click(`${W} button.send`);
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv', { hasText: 'Zofia Nowak' }).click();
  const conversation = portal.locator('[data-testid=conversation]');
  await conversation.locator('[data-testid=take]').click();
  await conversation.locator('[data-testid=conversation-status]', { hasText: 'active' }).waitFor();
  const side = portal.locator('[data-testid=side-panel]');
  if (!(await side.isVisible())) await portal.click('[data-testid=toggle-side-panel]');
  await side.locator('[data-testid=contact-tags]', { hasText: 'VIP' }).waitFor();
  await side.locator('[data-testid=recently-viewed] [data-testid=recommend]').first().click();
  await shop.locator(`${W} .card`, { hasText: 'Aurora desk lamp' }).waitFor();
  assert.deepEqual(errors, []);
});

test('a forged identity is refused and the visitor stays anonymous; signing out makes a new visitor', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  const { shop, received } = await openShop('/');
  t.after(() => Promise.all([portal.context().close(), shop.context().close()]));
  await portal.locator('tr.visitor').first().waitFor();

  await shop.evaluate(() => window.Vitrine.identify(
    { id: 'zofia@mail.example', name: 'Zofia Nowak' },
    { signature: '00'.repeat(32) },
  ));
  await shop.evaluate(() => window.Vitrine.identify({ id: 'zofia@mail.example', name: 'Zofia Nowak' }));
  const deadline = Date.now() + 10_000;
  const refusals = () => received.map((f) => JSON.parse(f)).filter((f) => f.type === 'error' && f.code === 'forbidden');
  while (refusals().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(refusals().length, 2, 'both refused');
  assert.match(refusals()[0].message, /signature does not verify/);
  assert.match(refusals()[1].message, /requires a signed identity/);
  await portal.locator('tr.visitor td').first().click();
  await portal.locator('[data-testid=details] [data-testid=contact-anonymous]').waitFor();
  assert.equal(await portal.locator('[data-testid=row-contact]').count(), 0);

  // The agent makes the card of a visitor who told them who they are.
  const details = portal.locator('[data-testid=details]');
  await details.locator('[data-testid=contact-create]').click();
  await details.locator('[data-testid=contact-name]').fill('Walk-in customer');
  await details.locator('[data-testid=contact-email]').fill('walkin@mail.example');
  await details.locator('[data-testid=contact-save]').click();
  await details.locator('h3[data-testid=contact-name]', { hasText: 'Walk-in customer' }).waitFor();

  // Signed in, then out: the shop resets the widget, and the browser is someone new.
  await signIn(shop, 'Ada Kowalska', 'ada@mail.example');
  await portal.locator('[data-testid=row-contact]', { hasText: 'Ada Kowalska' }).waitFor();
  const before = await shop.evaluate(() => window.Vitrine.visitorId());
  await shop.click('#sign-out button');
  await shop.locator('#customer', { hasText: 'not signed in' }).waitFor();
  await shop.waitForFunction((old) => window.Vitrine.visitorId() && window.Vitrine.visitorId() !== old, before);
});

test('the visitor asks for the transcript: it arrives by e-mail and the card lists it as sent (K3)', async (t) => {
  const smtp = await startSmtp();
  const portal = await openPortal(env.browser, env.server);
  const { shop, errors } = await openShop('/');
  t.after(() => Promise.all([portal.context().close(), shop.context().close()]).finally(() => smtp.stop()));

  // The admin points the account's e-mail at the SMTP server.
  await portal.click('[data-testid=page-admin]');
  await portal.click('[data-testid=admin-email]');
  const settings = portal.locator('[data-testid=mail-settings]');
  await settings.locator('[data-testid=mail-host]').fill('127.0.0.1');
  await settings.locator('[data-testid=mail-port]').fill(String(smtp.port));
  await settings.locator('[data-testid=mail-security]').selectOption('none');
  await settings.locator('[data-testid=mail-from]').fill('Maison Demo <shop@demo.shop>');

  await signIn(shop, 'Zofia Nowak', 'zofia@mail.example');
  await shop.click(`${W} button.launcher`);
  await shop.fill(`${W} textarea`, 'Do you have the lamp in brass?');
  await shop.click(`${W} button.send`);
  await shop.locator(`${W} .msg.visitor:not(.sending)`, { hasText: 'in brass' }).waitFor();
  // A chat arriving re-renders the whole portal; what the admin typed stays.
  await portal.locator('[data-testid=pending-badge]').waitFor();
  assert.equal(await settings.locator('[data-testid=mail-host]').inputValue(), '127.0.0.1');
  assert.equal(await settings.locator('[data-testid=mail-security]').inputValue(), 'none');
  await settings.locator('[data-testid=mail-save]').click();
  await settings.locator('[data-testid=mail-notice]').waitFor();
  await shop.click(`${W} .trb`);
  await shop.fill(`${W} [name=to]`, 'not-an-address');
  await shop.click(`${W} .trs`);
  assert.equal(await shop.locator(`${W} .trf`).isVisible(), true, 'the browser says what is wrong first');
  await shop.fill(`${W} [name=to]`, 'zofia@mail.example');
  await shop.click(`${W} .trs`);
  await shop.locator(`${W} .trn`, { hasText: 'zofia@mail.example' }).waitFor();

  const mail = await smtp.waitFor(['To: zofia@mail.example', 'Do you have the lamp in brass?']);
  assert.match(mail, /From: "?Maison Demo"? <shop@demo\.shop>/);

  await portal.click('[data-testid=page-visitors]');
  await portal.locator('[data-testid=row-contact]', { hasText: 'Zofia Nowak' }).click();
  const emails = portal.locator('[data-testid=details] [data-testid=contact-emails]');
  await emails.locator('li[data-status=sent]', { hasText: 'Your conversation with' }).waitFor();

  // To an address typed in the widget (not the one the shop signed): its owner confirms
  // first, and the e-mail asking carries nothing the visitor wrote.
  await shop.click(`${W} .trb`);
  await shop.fill(`${W} [name=to]`, 'friend@mail.example');
  await shop.click(`${W} .trs`);
  await shop.locator(`${W} .trn`, { hasText: 'Open the link we sent to friend@mail.example' }).waitFor();
  const ask = await smtp.waitFor(['To: friend@mail.example', '#transcript=']);
  assert.ok(!ask.includes('lamp in brass'), ask);
  const link = /https?:\/\/\S+#transcript=[0-9a-f]+/.exec(ask.replace(/=\r?\n/g, '').replace(/=3D/g, '='))[0];
  const friend = await env.browser.newContext();
  t.after(() => friend.close());
  const page = await friend.newPage();
  await page.goto(link);
  const confirm = page.locator('[data-testid=confirm-transcript]');
  await confirm.locator('p', { hasText: 'sent to friend@mail.example' }).waitFor();
  await page.screenshot({ path: screenshot('transcript-confirm') });
  await confirm.locator('button').click();
  await confirm.locator('[role=status]', { hasText: 'on its way' }).waitFor();
  await smtp.waitFor(['To: friend@mail.example', 'Do you have the lamp in brass?']);
  assert.deepEqual(errors, []);
});

test('an admin makes an API key, the shop backend upserts a contact with it, and revoking it stops it', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  t.after(() => portal.context().close());
  await portal.click('[data-testid=page-admin]');
  await portal.click('[data-testid=admin-api]');
  const keys = portal.locator('[data-testid=api-keys]');
  await keys.locator('[data-testid=api-key-name]').fill('Shop backend');
  await keys.locator('input[name="contacts:write"]').check();
  await keys.locator('[data-testid=api-key-create]').click();
  const token = (await keys.locator('[data-testid=api-key-token] code').textContent()).trim();
  assert.match(token, /^vk_[0-9a-f]{16}_[0-9a-f]{64}$/);

  const site = 'demo-shop';
  const url = `${env.server.app}/api/v1/sites/${site}/contacts/customer-7`;
  const put = () => fetch(url, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Jan Kowalski', email: 'jan@mail.example', tags: ['wholesale'] }),
  });
  const res = await put();
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal((await res.json()).profile.verified, true);
  // The agents' API shows the same card.
  const card = await portal.evaluate((path) => fetch(path).then((r) => r.json()), `/api/sites/${site}/contacts/customer-7`);
  assert.deepEqual(card.profile.tags, ['wholesale']);

  portal.once('dialog', (d) => d.accept());
  await keys.locator('[data-testid=api-key-revoke]').click();
  await keys.locator('[data-testid=api-key]').waitFor({ state: 'detached' });
  assert.equal((await put()).status, 401, 'refused at once');
});

test('the card recommends what other shoppers viewed next, and one click sends it (K4)', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  const other = await openShop('/product-lamp.html');
  const customer = await openShop('/');
  t.after(() => Promise.all([portal.context().close(), other.shop.context().close(), customer.shop.context().close()]));

  // Another shopper goes from the desk lamp to the vase (each page seen by the agent, so viewed).
  await portal.locator('tr.visitor', { hasText: 'Aurora desk lamp' }).waitFor();
  await other.shop.goto(`${env.server.demo}/product-vase.html`);
  await portal.locator('tr.visitor', { hasText: 'Terra stoneware vase' }).waitFor();

  await signIn(customer.shop, 'Zofia Nowak', 'zofia@mail.example');
  await customer.shop.goto(`${env.server.demo}/product-lamp.html`);
  await portal.locator('[data-testid=row-contact]', { hasText: 'Zofia Nowak' }).click();
  const recommended = portal.locator('[data-testid=details] [data-testid=recommended]');
  await recommended.locator('li', { hasText: 'Terra stoneware vase' }).waitFor();
  assert.equal(await recommended.locator('li', { hasText: 'Aurora desk lamp' }).count(), 0, 'never what she saw');

  // In the conversation, the recommendation goes to her widget as a product card.
  await customer.shop.click(`${W} button.launcher`);
  await customer.shop.fill(`${W} textarea`, 'Something to go with the lamp?');
  await customer.shop.click(`${W} button.send`);
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv', { hasText: 'Zofia Nowak' }).click();
  const side = portal.locator('[data-testid=side-panel]');
  if (!(await side.isVisible())) await portal.click('[data-testid=toggle-side-panel]');
  await side.locator('[data-testid=recommended] li', { hasText: 'Terra stoneware vase' }).locator('[data-testid=recommend]').click();
  await customer.shop.locator(`${W} .card`, { hasText: 'Terra stoneware vase' }).waitFor();
  assert.deepEqual(customer.errors, []);
});
