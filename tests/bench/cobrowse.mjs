// `cargo xtask bench cobrowse`: co-browsing (P8) on the demo shop in real Chromium, against
// the real server — the bytes one viewed visitor streams (idle, scrolling, typing), the
// delay from a change on the visitor's page to the agent's mirror (p50/p99), and the
// server's CPU while it relays; then a page of 20,000 elements: its first snapshot's size and
// how long until the agent sees it. Prints a Markdown table for BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import { ADMIN, launchBrowser, startServer } from '../e2e/harness.mjs';

const SECONDS = Number(process.env.SECONDS_PER_PHASE || 10);
const CHANGES = Number(process.env.CHANGES || 100);
const W = '[data-vitrine-widget]';
const UI = '[data-vitrine-ui]';

const server = await startServer();
const browser = await launchBrowser();
const ticks = () => {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
};
try {
  const portal = await (await browser.newContext()).newPage();
  let bytes = 0;
  portal.on('websocket', (ws) => ws.on('framereceived', (f) => {
    const text = String(f.payload);
    if (text.includes('"cobrowse_events"')) bytes += Buffer.byteLength(text);
  }));
  await portal.goto(`${server.app}/portal/`);
  await portal.fill('#email', ADMIN.email);
  await portal.fill('#password', ADMIN.password);
  await portal.click('button[type=submit]');
  await portal.locator('[data-testid=connection]', { hasText: 'live' }).waitFor();

  const shop = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await shop.goto(`${server.demo}/cart.html`);
  await shop.locator(`${W} button.launcher`).waitFor();
  await portal.locator('tr.visitor').first().locator('td').first().click();
  await portal.locator('[data-testid=view-page]').click();
  await shop.locator(`${UI} .bar button.ok`).click();
  const mirror = portal.frameLocator('[data-testid=mirror-frame]').frameLocator('iframe');
  await mirror.locator('h1', { hasText: 'Your cart' }).waitFor();
  // A page tall enough to scroll (a shop's catalogue is).
  await shop.evaluate(() => {
    const filler = document.createElement('div');
    for (let i = 0; i < 200; i++) filler.insertAdjacentHTML('beforeend', `<p>Product line ${i} — stoneware, oak, linen</p>`);
    document.querySelector('main').appendChild(filler);
  });
  await new Promise((r) => setTimeout(r, 1000));

  const rows = [];
  const phase = async (name, act) => {
    bytes = 0;
    const cpu = ticks();
    const started = Date.now();
    while (Date.now() - started < SECONDS * 1000) await act();
    const secs = (Date.now() - started) / 1000;
    rows.push({ name, kbps: bytes / 1024 / secs, cpu: (ticks() - cpu) / secs });
  };
  await phase('idle (pointer still)', () => new Promise((r) => setTimeout(r, 250)));
  let down = true;
  await phase('scrolling (a wheel step every 100 ms)', async () => {
    await shop.mouse.move(600, 400);
    await shop.mouse.wheel(0, down ? 300 : -300);
    if (await shop.evaluate(() => scrollY + innerHeight >= document.body.scrollHeight - 5 || scrollY === 0)) down = !down;
    await new Promise((r) => setTimeout(r, 100));
  });
  await shop.evaluate(() => scrollTo(0, 0));
  await phase('typing (a key every 100 ms, opted-in field)', async () => {
    await shop.locator('[name=coupon]').press('A');
    await new Promise((r) => setTimeout(r, 100));
    if ((await shop.locator('[name=coupon]').inputValue()).length > 30) await shop.locator('[name=coupon]').fill('');
  });
  await phase('pointer moving (every 50 ms)', async () => {
    await shop.mouse.move(200 + Math.random() * 800, 200 + Math.random() * 400);
    await new Promise((r) => setTimeout(r, 50));
  });

  for (const r of rows) console.error(`${r.name}: ${r.kbps.toFixed(2)} KiB/s, ${r.cpu.toFixed(1)} % CPU`);
  // Latency: a change on the visitor's page until the mirror shows it (same machine clock).
  const delays = [];
  for (let i = 0; i < CHANGES; i++) {
    const marker = `change-${i}`;
    await new Promise((r) => setTimeout(r, 20));
    const at = await shop.evaluate((m) => { document.querySelector('h1').textContent = m; return Date.now(); }, marker);
    // Polled from here (the replayer may rebuild its frame); the polling adds a few ms.
    for (;;) {
      const text = await mirror.locator('h1').first().textContent({ timeout: 10_000 }).catch(() => '');
      if (text === marker) break;
      if (Date.now() - at > 10_000) throw new Error(`the mirror never showed ${marker}`);
    }
    const seen = Date.now();
    delays.push(seen - at);
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
  delays.sort((a, b) => a - b);
  const pct = (p) => delays[Math.min(delays.length - 1, Math.round((delays.length - 1) * p))];

  // A heavy page: 20,000 more elements, viewed from the start (the first snapshot).
  await portal.locator('[data-testid=mirror-close]').click();
  await shop.context().close();
  const heavy = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await heavy.goto(`${server.demo}/`);
  await heavy.locator(`${W} button.launcher`).waitFor();
  await heavy.evaluate(() => {
    const box = document.body.appendChild(document.createElement('div'));
    box.id = 'heavy';
    for (let i = 0; i < 20_000; i++) box.appendChild(document.createElement('i')).textContent = String(i);
  });
  await portal.locator('[data-testid=row-view-page]').last().click(); // the newest visitor
  bytes = 0;
  await heavy.locator(`${UI} .bar button.ok`).click();
  const consented = Date.now();
  await mirror.locator('#heavy i:last-child', { hasText: '19999' }).waitFor({ timeout: 60_000 });
  const heavyMs = Date.now() - consented;
  const heavyKiB = bytes / 1024;

  console.log(`| what the visitor does | KiB/s to each viewer | server CPU (% of a core) |`);
  console.log(`|---|---:|---:|`);
  for (const r of rows) console.log(`| ${r.name} | ${r.kbps.toFixed(2)} | ${r.cpu.toFixed(1)} |`);
  console.log();
  console.log(`change → mirror over ${CHANGES} changes: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${delays[delays.length - 1]} ms`);
  console.log(`a 20,000-element page: first snapshot ${heavyKiB.toFixed(0)} KiB of frames, shown to the agent ${heavyMs} ms after the visitor allowed it`);
} finally {
  await browser.close();
  await server.stop();
}
