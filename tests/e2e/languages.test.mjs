// Languages (B4) in a real Chromium: the widget follows the visitor's browser (French,
// Polish, English) unless the site's admin forces one, says in each language that the
// advisor sees drafts (C4), and counts with Polish plural rules; the portal follows the
// agent's browser or their own choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, edge, openPortal, perTestServer, watchErrors } from './harness.mjs';

const env = perTestServer({ calls: false });

const W = '[data-vitrine-widget]';

/** A visitor whose browser prefers `locale`; `frames` collects what the widget sends. */
async function openShop(locale, path = '/') {
  const context = await env.browser.newContext({ locale });
  const shop = await context.newPage();
  const errors = watchErrors(shop);
  const frames = [];
  shop.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(String(f.payload))));
  await shop.goto(`${env.server.demo}${path}`);
  await shop.locator(`${W} button.launcher`).waitFor();
  return { shop, errors, frames };
}

test('the widget speaks the visitor’s browser language, says the advisor sees drafts, and counts in Polish plurals', async (t) => {
  const expected = {
    'fr-FR': { lang: 'fr', launcher: 'Discutons', preview: 'avant que vous l’envoyiez', send: 'Envoyer' },
    'pl-PL': { lang: 'pl', launcher: 'Porozmawiaj z nami', preview: 'zanim to wyślesz', send: 'Wyślij' },
    'en-US': { lang: 'en', launcher: 'Chat with us', preview: 'before you send it', send: 'Send' },
  };
  const portal = await openPortal(env.browser, env.server);
  t.after(() => portal.context().close());
  for (const [locale, want] of Object.entries(expected)) {
    const { shop, errors } = await openShop(locale);
    t.after(() => shop.context().close());
    await shop.locator(`${W} button.launcher`, { hasText: want.launcher }).waitFor();
    assert.equal(await shop.locator(W).getAttribute('lang'), want.lang, locale);
    await shop.click(`${W} button.launcher`);
    await shop.locator(`${W} .intro`, { hasText: want.preview }).waitFor();
    assert.equal(await shop.locator(`${W} button.send`).textContent(), want.send);
    assert.deepEqual(errors, [], locale);
  }

  // Polish plurals: 2 → "nowe wiadomości", 5 → "nowych wiadomości".
  const { shop } = await openShop('pl-PL');
  t.after(() => shop.context().close());
  await shop.click(`${W} button.launcher`);
  await shop.fill(`${W} textarea`, 'Dzień dobry');
  await shop.click(`${W} button.send`);
  await shop.keyboard.press('Escape');
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv', { hasText: 'Dzień dobry' }).click();
  await portal.click('[data-testid=take]');
  // The hub's note of it, worded by the widget in Polish (the panel is closed: in the DOM).
  await shop.locator(`${W} .msg.system`, { hasText: 'Demo admin dołącza do rozmowy' }).waitFor({ state: 'attached' });
  const say = async (text) => {
    await portal.fill('[data-testid=composer]', text);
    await portal.keyboard.press('Enter');
    await shop.locator(`${W} .toast`, { hasText: text }).waitFor();
  };
  await say('Jeden');
  await say('Dwa');
  assert.equal(await shop.locator(`${W} .badge`).getAttribute('aria-label'), '2 nowe wiadomości');
  for (const n of ['Trzy', 'Cztery', 'Pięć']) await say(n);
  assert.equal(await shop.locator(`${W} .badge`).getAttribute('aria-label'), '5 nowych wiadomości');
});

test('a call invitation reaches a French visitor in French (the call UI’s own messages)', { skip: edge && 'the edge test stack has no media node' }, async (t) => {
  const portal = await openPortal(env.browser, env.server);
  const { shop, errors } = await openShop('fr-FR');
  t.after(() => Promise.all([portal, shop].map((p) => p.context().close())));
  const id = await shop.evaluate(() => window.Vitrine.visitorId());
  await portal.locator(`tr.visitor[data-visitor-id="${id}"] .id`).click();
  await portal.click('[data-testid=start-call]');
  const call = shop.locator('[data-vitrine-call] .call');
  await call.locator('strong', { hasText: 'Demo admin vous appelle' }).waitFor();
  assert.equal(await call.getAttribute('aria-label'), 'Appel vidéo');
  await call.locator('button', { hasText: 'Refuser' }).click();
  // The agent's portal (an English browser) is told in English.
  await portal.locator('[data-testid=call-setting-up]', { hasText: 'Declined' }).waitFor();
  assert.deepEqual(errors, []);
});

test('an admin forces the widget’s language and turns the typing preview off: the widget says so and sends no draft', async (t) => {
  const portal = await openPortal(env.browser, env.server);
  t.after(() => portal.context().close());
  await portal.click('[data-testid=page-admin]');
  await portal.locator('tr[data-site-key] button', { hasText: 'Edit' }).first().click();
  await portal.selectOption('[data-testid=site-language]', 'pl');
  await portal.locator('[data-testid=site-typing-preview]').uncheck();
  await portal.click('form.editor button[type=submit]');
  await portal.locator('form.editor').waitFor({ state: 'detached' });

  // An English browser gets the Polish widget, without the drafts sentence.
  const { shop, errors, frames } = await openShop('en-US');
  t.after(() => shop.context().close());
  await shop.locator(`${W} button.launcher`, { hasText: 'Porozmawiaj z nami' }).waitFor();
  await shop.click(`${W} button.launcher`);
  const intro = shop.locator(`${W} .intro`);
  await intro.waitFor();
  assert.doesNotMatch(await intro.textContent(), /zanim to wyślesz/);
  // A conversation first (drafts are only ever sent within one), then a draft.
  await shop.fill(`${W} textarea`, 'Dzień dobry');
  await shop.click(`${W} button.send`);
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv', { hasText: 'Dzień dobry' }).waitFor();
  await shop.locator(`${W} textarea`).pressSequentially('mój numer karty', { delay: 20 });
  await shop.waitForTimeout(400); // longer than the widget's draft throttle (250 ms)
  await shop.click(`${W} button.send`);
  await portal.locator('.conv', { hasText: 'mój numer karty' }).waitFor();
  const drafts = frames.filter((f) => f.includes('"typing"') && f.includes('karty'));
  assert.deepEqual(drafts, [], 'the widget sent drafts although the site turned the preview off');
  assert.deepEqual(errors, []);
});

test('the portal follows the agent’s browser (French) or their own choice (Polish), dates and durations included', async (t) => {
  const context = await env.browser.newContext({ locale: 'fr-FR' });
  t.after(() => context.close());
  const portal = await context.newPage();
  await portal.goto(`${env.server.app}/portal/`);
  await portal.locator('h1', { hasText: 'Vitrine — connexion' }).waitFor();
  assert.equal(await portal.evaluate(() => document.documentElement.lang), 'fr');
  // The API's refusal, said in French.
  await portal.fill('#email', ADMIN.email);
  await portal.fill('#password', 'not the password');
  await portal.click('button[type=submit]');
  await portal.locator('[role=alert]', { hasText: 'E-mail ou mot de passe incorrect.' }).waitFor();
  await portal.fill('#email', ADMIN.email);
  await portal.fill('#password', ADMIN.password);
  await portal.click('button[type=submit]');
  await portal.locator('[data-testid=connection]', { hasText: 'en direct' }).waitFor();
  await portal.locator('[data-testid=page-visitors]', { hasText: 'Visiteurs' }).waitFor();

  // A visitor: the list and the details speak French too, durations included.
  const { shop } = await openShop('fr-FR');
  t.after(() => shop.context().close());
  const id = await shop.evaluate(() => window.Vitrine.visitorId());
  const row = portal.locator(`tr.visitor[data-visitor-id="${id}"]`);
  await row.locator('[data-testid=status-word]', { hasText: 'Actif' }).waitFor();
  assert.match(await row.locator('[data-testid=time-on-site]').textContent(), /^\d+ s$/);

  // The emoji picker searches French names.
  await shop.click(`${W} button.launcher`);
  await shop.fill(`${W} textarea`, 'Bonjour');
  await shop.click(`${W} button.send`);
  await portal.click('[data-testid=page-chats]');
  await portal.locator('.conv').first().click();
  await portal.click('[data-testid=emoji]');
  await portal.locator('[data-testid=emoji-picker] input').fill('pouce');
  await portal.locator('[data-testid=emoji-picker]').getByRole('button', { name: /pouce/ }).first().waitFor();
  await portal.keyboard.press('Escape');

  // The agent chooses Polish: everything follows, and stays after a reload.
  await portal.selectOption('[data-testid=language]', 'pl');
  await portal.locator('[data-testid=page-chats]', { hasText: 'Rozmowy' }).waitFor();
  assert.equal(await portal.evaluate(() => document.documentElement.lang), 'pl');
  await portal.reload();
  await portal.locator('[data-testid=page-visitors]', { hasText: 'Odwiedzający' }).waitFor();
  await portal.locator('[data-testid=connection]', { hasText: 'na żywo' }).waitFor();
  await portal.click('[data-testid=page-visitors]');
  await portal.locator(`tr.visitor[data-visitor-id="${id}"] .id`).click();
  await portal.locator('[data-testid=details] .stat', { hasText: /wizyt/ }).first().waitFor();
  await portal.click('[data-testid=page-admin]');
  await portal.locator('[data-testid=admin-sites]', { hasText: 'Strony' }).waitFor();
  await portal.locator('tr[data-site-key] button', { hasText: 'Edytuj' }).first().click();
  await portal.locator('form.editor', { hasText: 'Język widżetu' }).waitFor();
  // Back to the browser's language.
  await portal.selectOption('[data-testid=language]', '');
  await portal.locator('[data-testid=page-visitors]', { hasText: 'Visiteurs' }).waitFor();
});
